-- Ciphertext bytes held, kept true by triggers, so that every writer (the server's committer and
-- `sealdrop purge`, which runs as another process) updates it in its own transaction and the
-- running server's storage quota sees space freed by a purge at once.

CREATE TABLE usage (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    bytes INTEGER NOT NULL
);

INSERT INTO usage (id, bytes) SELECT 1, coalesce(sum(size), 0) FROM blobs;

CREATE TRIGGER usage_add AFTER INSERT ON blobs
BEGIN
    UPDATE usage SET bytes = bytes + NEW.size WHERE id = 1;
END;

CREATE TRIGGER usage_remove AFTER DELETE ON blobs
BEGIN
    UPDATE usage SET bytes = bytes - OLD.size WHERE id = 1;
END;
