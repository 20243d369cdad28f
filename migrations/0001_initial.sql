-- The intake's index. It records only what staff need to fetch and check ciphertext:
-- random ids, the coarse arrival date, and ciphertext sizes. No address, no browser, no time of day.
-- WITHOUT ROWID: rows are ordered by their random id, so the table does not keep arrival order.

CREATE TABLE submissions (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
    arrived       TEXT NOT NULL CHECK (length(arrived) = 10),  -- coarse UTC date, YYYY-MM-DD
    envelope_blob TEXT NOT NULL UNIQUE
) WITHOUT ROWID;

CREATE TABLE blobs (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('envelope', 'attachment')),
    size          INTEGER NOT NULL CHECK (size >= 0)  -- ciphertext bytes on disk
) WITHOUT ROWID;

CREATE INDEX blobs_by_submission ON blobs (submission_id);
