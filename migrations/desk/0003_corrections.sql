-- Corrections made after `sealdesk init` (project issue 12): every change of the pinned server
-- key and of the group's keys, kept so staff can later see when trust changed and from what.
-- Only public keys are recorded; the time is UTC to the minute (staff actions, not sources').

CREATE TABLE setting_changes (
    id      INTEGER PRIMARY KEY,
    changed TEXT NOT NULL CHECK (length(changed) = 20),  -- YYYY-MM-DD HH:MM UTC
    setting TEXT NOT NULL CHECK (setting IN ('server_key', 'recipients', 'author')),
    old     TEXT NOT NULL,
    new     TEXT NOT NULL
);
