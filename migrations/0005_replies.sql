-- Replies from staff to sources who chose a codename (docs/CODENAMES.md, docs/OUTBOX-FORMAT.md).
-- A reply is a standard age file under replies/<id>.age, encrypted to a recipient derived from
-- the source's codename; the server knows only which mailbox it belongs to. Nothing here links a
-- mailbox to a submission: that link exists only inside sealed envelopes.
CREATE TABLE replies (
    id       TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 32),
    mailbox  TEXT NOT NULL CHECK (length(mailbox) = 32),
    -- The order replies are shown in: imported outboxes in sequence, each in its own order.
    ordinal  INTEGER NOT NULL,
    -- The UTC day after which the reply is deleted.
    expires  TEXT NOT NULL,
    size     INTEGER NOT NULL CHECK (size >= 0)
) WITHOUT ROWID;

CREATE INDEX replies_by_mailbox ON replies (mailbox, ordinal);

-- The last outbox sequence accepted from each pinned desk key (hex of its Ed25519 public key):
-- an outbox is accepted only if its sequence is higher, so replays and reordering are refused.
CREATE TABLE desk_sequences (
    desk_key      TEXT PRIMARY KEY NOT NULL CHECK (length(desk_key) = 64),
    last_sequence INTEGER NOT NULL
) WITHOUT ROWID;
