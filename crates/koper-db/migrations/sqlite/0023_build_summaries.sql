-- Summaries the listings read instead of every build (sqlite; keep in step
-- with ../postgres/0023_build_summaries.sql): each build's state, and the
-- bytes each project stores. The database keeps both (triggers below),
-- whichever statement changes builds or their chroots.

-- The build's state as koper_types::aggregate_state derives it.
ALTER TABLE builds ADD COLUMN state TEXT NOT NULL DEFAULT 'unknown';
-- Bytes of the project's accepted source RPMs and published results.
ALTER TABLE projects ADD COLUMN used_bytes INTEGER NOT NULL DEFAULT 0;

-- A build's state by Copr's rule, from its cancel flag, its source phase
-- (its source task's state, or source_state for a given source RPM) and
-- its chroots: koper_types::aggregate_state in SQL. The two must agree
-- (tested in crates/koper-db/tests/it/summaries.rs).
CREATE VIEW build_states (id, state) AS
SELECT x.id,
    CASE
        WHEN x.canceled <> 0 THEN 'canceled'
        WHEN x.source IN ('starting', 'pending', 'running', 'importing', 'failed') THEN x.source
        ELSE COALESCE(
            -- The most "active" chroot state wins; waiting counts as pending.
            (SELECT CASE MIN(CASE c.state
                        WHEN 'running' THEN 1 WHEN 'starting' THEN 2 WHEN 'pending' THEN 3
                        WHEN 'waiting' THEN 4 WHEN 'failed' THEN 5 WHEN 'succeeded' THEN 6
                        WHEN 'skipped' THEN 7 WHEN 'forked' THEN 8 END)
                     WHEN 1 THEN 'running' WHEN 2 THEN 'starting' WHEN 3 THEN 'pending'
                     WHEN 4 THEN 'pending' WHEN 5 THEN 'failed' WHEN 6 THEN 'succeeded'
                     WHEN 7 THEN 'skipped' WHEN 8 THEN 'forked' END
             FROM build_chroots c WHERE c.build_id = x.id AND c.chroot <> 'srpm-builds'),
            CASE WHEN x.source = 'succeeded' AND NOT EXISTS (
                     SELECT 1 FROM build_chroots c
                     WHERE c.build_id = x.id AND c.chroot <> 'srpm-builds')
                 THEN 'waiting' ELSE 'unknown' END)
    END
FROM (SELECT b.id, b.canceled,
          COALESCE((SELECT s.state FROM build_chroots s
                    WHERE s.build_id = b.id AND s.chroot = 'srpm-builds'),
                   b.source_state) AS source
      FROM builds b) x;

UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = builds.id);
UPDATE projects SET used_bytes =
    COALESCE((SELECT SUM(b.srpm_bytes) FROM builds b WHERE b.project_id = projects.id), 0)
    + COALESCE((SELECT SUM(bc.result_bytes) FROM build_chroots bc
                WHERE bc.project_id = projects.id), 0);

CREATE TRIGGER builds_summarise_insert AFTER INSERT ON builds
BEGIN
    UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = NEW.id)
    WHERE id = NEW.id;
    UPDATE projects SET used_bytes = used_bytes + NEW.srpm_bytes WHERE id = NEW.project_id;
END;

CREATE TRIGGER builds_summarise_state AFTER UPDATE OF canceled, source_state ON builds
BEGIN
    UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = NEW.id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER builds_summarise_bytes AFTER UPDATE OF srpm_bytes ON builds
BEGIN
    UPDATE projects SET used_bytes = used_bytes + NEW.srpm_bytes - OLD.srpm_bytes
    WHERE id = NEW.project_id;
END;

CREATE TRIGGER builds_summarise_delete AFTER DELETE ON builds
BEGIN
    UPDATE projects SET used_bytes = used_bytes - OLD.srpm_bytes WHERE id = OLD.project_id;
END;

-- project_id of a new task: its build's (the copy 0022 keeps may not be
-- made yet, triggers on one event run in no set order).
CREATE TRIGGER build_chroots_summarise_insert AFTER INSERT ON build_chroots
BEGIN
    UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = NEW.build_id)
    WHERE id = NEW.build_id;
    UPDATE projects SET used_bytes = used_bytes + NEW.result_bytes
    WHERE id = (SELECT b.project_id FROM builds b WHERE b.id = NEW.build_id);
END;

CREATE TRIGGER build_chroots_summarise_state AFTER UPDATE OF state ON build_chroots
BEGIN
    UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = NEW.build_id)
    WHERE id = NEW.build_id;
END;

CREATE TRIGGER build_chroots_summarise_bytes AFTER UPDATE OF result_bytes ON build_chroots
BEGIN
    UPDATE projects SET used_bytes = used_bytes + NEW.result_bytes - OLD.result_bytes
    WHERE id = NEW.project_id;
END;

-- A deleted build's tasks go with it: its own row is gone by then and
-- only the project's bytes change.
CREATE TRIGGER build_chroots_summarise_delete AFTER DELETE ON build_chroots
BEGIN
    UPDATE builds SET state = (SELECT s.state FROM build_states s WHERE s.id = OLD.build_id)
    WHERE id = OLD.build_id;
    UPDATE projects SET used_bytes = used_bytes - OLD.result_bytes WHERE id = OLD.project_id;
END;

-- A project's builds of one state, newest first (build/list by status).
CREATE INDEX builds_by_state ON builds (project_id, state, id);
