-- The staff workspace on the air-gapped machine (sealdesk). Submissions stay ciphertext in
-- blobs/<id>.age; this index holds only what the signed bundle already showed (ids, coarse days,
-- ciphertext sizes and hashes) plus the staff's own triage. Notes are age ciphertext.
-- Tags and status are NOT encrypted: the staff guide says not to put names in tags.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every bundle imported, once (re-importing it adds nothing).
CREATE TABLE imports (
    bundle_id   TEXT PRIMARY KEY NOT NULL CHECK (length(bundle_id) = 32),
    created     TEXT NOT NULL CHECK (length(created) = 10),  -- the day the server wrote it
    submissions INTEGER NOT NULL CHECK (submissions >= 0)    -- how many it held
) WITHOUT ROWID;

-- A rowid table: the rowid keeps import order, the tie-break for "newest first".
CREATE TABLE submissions (
    id            TEXT NOT NULL UNIQUE CHECK (length(id) = 32),
    arrived       TEXT NOT NULL CHECK (length(arrived) = 10),  -- coarse UTC day, YYYY-MM-DD
    envelope_blob TEXT NOT NULL UNIQUE CHECK (length(envelope_blob) = 32),
    attachments   INTEGER NOT NULL CHECK (attachments >= 0),
    bundle_id     TEXT NOT NULL REFERENCES imports (bundle_id),
    status        TEXT NOT NULL DEFAULT 'new'
                  CHECK (status IN ('new', 'in-review', 'verified', 'follow-up', 'closed', 'spam')),
    read          INTEGER NOT NULL DEFAULT 0 CHECK (read IN (0, 1)),
    acked         INTEGER NOT NULL DEFAULT 0 CHECK (acked IN (0, 1))  -- named in an ack file
);

CREATE INDEX submissions_by_arrival ON submissions (arrived);

CREATE TABLE blobs (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    position      INTEGER NOT NULL CHECK (position >= 0),  -- 0 = the envelope, then attachments
    kind          TEXT NOT NULL CHECK (kind IN ('envelope', 'attachment')),
    size          INTEGER NOT NULL CHECK (size >= 0),      -- ciphertext bytes
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
    UNIQUE (submission_id, position)
) WITHOUT ROWID;

CREATE TABLE tags (
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    tag           TEXT NOT NULL,
    PRIMARY KEY (submission_id, tag)
) WITHOUT ROWID;

CREATE INDEX tags_by_tag ON tags (tag);

CREATE TABLE notes (
    id            INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    written       TEXT NOT NULL CHECK (length(written) = 10),  -- the day, nothing finer
    ciphertext    BLOB NOT NULL                                -- an age file to the group's recipients
);

CREATE INDEX notes_by_submission ON notes (submission_id);
