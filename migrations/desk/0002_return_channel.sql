-- The return channel (project issue 9): replies staff queue for sources who chose a codename,
-- and the signed outboxes that carry replies and acknowledgements to the server.
-- Thread ids are NOT stored: they live in the sealed envelopes and are read from them when
-- `list` and `show` decrypt those anyway.

-- Every outbox this desk wrote, by its sequence number (which only goes up). A row is recorded
-- in the same transaction that marks its replies and acks as sent, before the file is written.
CREATE TABLE outboxes (
    sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
    created  TEXT NOT NULL CHECK (length(created) = 10)
);

-- A reply to a source. `ciphertext` is the age file to the source's reply recipient (a padded
-- plaintext, docs/CODENAMES.md "Reply plaintext"); `copy` is the same text as an age file to
-- the group's recipients, so staff can read what was said. The mailbox id is what the server
-- files it under (it is in the outbox manifest in the clear anyway).
CREATE TABLE replies (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    written       TEXT NOT NULL CHECK (length(written) = 10),
    mailbox       TEXT NOT NULL CHECK (length(mailbox) = 32),
    expires       TEXT NOT NULL CHECK (length(expires) = 10),
    ciphertext    BLOB NOT NULL,
    copy          BLOB NOT NULL,
    outbox        INTEGER REFERENCES outboxes (sequence)  -- NULL while queued
) WITHOUT ROWID;

CREATE INDEX replies_by_submission ON replies (submission_id);
CREATE INDEX replies_by_outbox ON replies (outbox);

-- Which outbox acknowledged each submission (once).
CREATE TABLE outbox_acks (
    submission_id TEXT PRIMARY KEY NOT NULL REFERENCES submissions (id),
    outbox        INTEGER NOT NULL REFERENCES outboxes (sequence)
) WITHOUT ROWID;

CREATE INDEX outbox_acks_by_outbox ON outbox_acks (outbox);
