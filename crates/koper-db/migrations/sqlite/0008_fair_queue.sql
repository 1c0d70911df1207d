-- The fair queue: priorities, batches, per-owner limits, retries with
-- backoff and what builders can do (sqlite). Keep in step with
-- ../postgres/0008_fair_queue.sql.

-- Builds that must wait for other builds: a batch starts once every build
-- of the batch it comes after has ended (copr's --after-build-id); builds
-- of one batch run side by side (--with-build-id).
CREATE TABLE batches (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    after_batch_id  INTEGER REFERENCES batches (id) ON DELETE SET NULL
);

-- Order within the owner's queue (higher first); below 0 is a background
-- build, which waits for every other owner's normal builds.
ALTER TABLE builds ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN batch_id INTEGER REFERENCES batches (id) ON DELETE SET NULL;
CREATE INDEX builds_by_batch ON builds (batch_id);

-- A task given back after a lost lease waits until then (backoff).
ALTER TABLE build_chroots ADD COLUMN not_before INTEGER;

-- At most this many running tasks per owner (an administrator's setting;
-- other owners have the instance default).
CREATE TABLE owner_limits (
    owner_name   TEXT    PRIMARY KEY,
    max_running  INTEGER NOT NULL
);

-- What a builder said about itself when it last asked for work.
ALTER TABLE builders ADD COLUMN arches TEXT NOT NULL DEFAULT '';
ALTER TABLE builders ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE builders ADD COLUMN slots INTEGER NOT NULL DEFAULT 1;
