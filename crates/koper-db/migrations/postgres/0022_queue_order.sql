-- The queue and the listings in index order (postgres; keep in step with
-- ../sqlite/0022_queue_order.sql).
--
-- A task carries copies of what the queue and the listings order and group
-- it by, so that an index serves them instead of a join over every task:
-- the project, its owner, the build's package and priority. The database
-- keeps the copies (triggers below), whichever statement writes the rows.
ALTER TABLE build_chroots ADD COLUMN project_id BIGINT;
ALTER TABLE build_chroots ADD COLUMN owner_name TEXT;
ALTER TABLE build_chroots ADD COLUMN package_name TEXT;
ALTER TABLE build_chroots ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;

UPDATE build_chroots bc
SET project_id = b.project_id, owner_name = p.owner_name,
    package_name = b.package_name, priority = b.priority
FROM builds b JOIN projects p ON p.id = b.project_id
WHERE b.id = bc.build_id;

CREATE FUNCTION build_chroots_copy_build() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT b.project_id, p.owner_name, b.package_name, b.priority
    INTO NEW.project_id, NEW.owner_name, NEW.package_name, NEW.priority
    FROM builds b JOIN projects p ON p.id = b.project_id
    WHERE b.id = NEW.build_id;
    RETURN NEW;
END $$;
CREATE TRIGGER build_chroots_copy_build BEFORE INSERT ON build_chroots
    FOR EACH ROW EXECUTE FUNCTION build_chroots_copy_build();

-- A source task names the package only once it made the source RPM.
CREATE FUNCTION builds_copy_to_chroots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE build_chroots SET package_name = NEW.package_name, priority = NEW.priority
    WHERE build_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER builds_copy_to_chroots AFTER UPDATE OF package_name, priority ON builds
    FOR EACH ROW EXECUTE FUNCTION builds_copy_to_chroots();

-- The head of an owner's queue (priority, then submission order) and its
-- oldest task, without reading the owner's other tasks.
CREATE INDEX build_chroots_queue ON build_chroots (state, owner_name, priority DESC, id);
CREATE INDEX build_chroots_queue_age ON build_chroots (state, owner_name, id);
-- Owners' recent use (tasks started in the last hour).
CREATE INDEX build_chroots_started ON build_chroots (started_on, owner_name);
-- The newest build of each package in each chroot (monitor).
CREATE INDEX build_chroots_by_package ON build_chroots (project_id, package_name, chroot, build_id);
-- A package's builds, newest first (build/list by package, package/list).
CREATE INDEX builds_by_package ON builds (project_id, package_name, id);
