-- Sources koper makes the source RPM from, and packages (sqlite).
-- Keep in step with ../postgres/0013_sources.sql.

-- The repository a build's source RPM is made from (JSON of
-- koper_types::ScmSource), for builds made by a source task; NULL for builds
-- whose source RPM was given.
ALTER TABLE builds ADD COLUMN source_json TEXT;

-- A project's packages, each with the default source `koper build-package`
-- and webhooks build it from (Copr's packages).
CREATE TABLE packages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    -- scm (source_json is a koper_types::ScmSource) or link ({"url": ...}).
    source_type      TEXT    NOT NULL,
    source_json      TEXT    NOT NULL,
    -- Whether pushes to the repository rebuild it (Copr's webhook_rebuild).
    webhook_rebuild  INTEGER NOT NULL DEFAULT 0,
    created_on       INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

-- The secret in a project's webhook URL and the key of its HMAC
-- signatures; NULL until one is made.
ALTER TABLE projects ADD COLUMN webhook_secret TEXT;
