-- Export bundles: which were made, in what order, and which submissions each first carried.
-- Only the UTC day of an export is kept. `seq` orders exports, so `sealdrop export --since`
-- can take "everything first exported after bundle X" without recording any time.

CREATE TABLE exports (
    bundle_id TEXT PRIMARY KEY NOT NULL CHECK (length(bundle_id) = 32),
    seq       INTEGER UNIQUE NOT NULL CHECK (seq >= 1),
    exported_on TEXT NOT NULL CHECK (length(exported_on) = 10)  -- UTC day, YYYY-MM-DD
) WITHOUT ROWID;

-- The seq of the first export that held the submission; NULL until it is exported once.
-- `sealdrop purge --ack` deletes only submissions whose export_seq is set.
ALTER TABLE submissions ADD COLUMN export_seq INTEGER NULL REFERENCES exports (seq);

CREATE INDEX submissions_by_export ON submissions (export_seq);
