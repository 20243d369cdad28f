-- The storage quota counts what blobs really take on disk, not their byte sizes: a blob's
-- allocated blocks (at least its size) plus one 4 KiB block for its inode and directory entry.
-- Many tiny files otherwise used ten times what the quota counted. The committer measures
-- each blob after it is fsync'd and stores the figure here; the usage triggers add and remove it.

ALTER TABLE blobs ADD COLUMN charged INTEGER NOT NULL DEFAULT 0 CHECK (charged >= 0);

-- Blobs stored by earlier releases were never measured: their size rounded up to a 4 KiB
-- block, plus the per-file charge.
UPDATE blobs SET charged = ((size + 4095) / 4096) * 4096 + 4096;

DROP TRIGGER usage_add;
DROP TRIGGER usage_remove;

UPDATE usage SET bytes = (SELECT coalesce(sum(charged), 0) FROM blobs) WHERE id = 1;

CREATE TRIGGER usage_add AFTER INSERT ON blobs
BEGIN
    UPDATE usage SET bytes = bytes + NEW.charged WHERE id = 1;
END;

CREATE TRIGGER usage_remove AFTER DELETE ON blobs
BEGIN
    UPDATE usage SET bytes = bytes - OLD.charged WHERE id = 1;
END;
