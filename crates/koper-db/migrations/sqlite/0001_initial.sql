-- koper's schema (SQLite). Keep in step with ../postgres/0001_initial.sql:
-- same tables, columns and meaning; only the id and type spelling differ.
-- Times are Unix seconds; flags are 0/1 integers.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    api_login   TEXT    NOT NULL UNIQUE,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_on  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_on  INTEGER NOT NULL,
    expires_on  INTEGER,
    revoked_on  INTEGER
);

CREATE TABLE projects (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_name     TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    build_timeout  INTEGER NOT NULL,
    created_on     INTEGER NOT NULL,
    UNIQUE (owner_name, name)
);

CREATE TABLE project_chroots (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    chroot      TEXT    NOT NULL,
    -- 1 while the repo's metadata may not match its published builds
    -- (a publish was interrupted); the server repairs such repos.
    repo_dirty  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (project_id, chroot)
);

CREATE TABLE builders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    token_hash    TEXT    NOT NULL UNIQUE,
    created_on    INTEGER NOT NULL,
    last_seen_on  INTEGER,
    revoked_on    INTEGER
);

CREATE TABLE builds (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    submitter_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    source_type      TEXT    NOT NULL,
    source_state     TEXT    NOT NULL,
    srpm_path        TEXT,
    srpm_sha256      TEXT,
    package_name     TEXT,
    package_version  TEXT,
    canceled         INTEGER NOT NULL DEFAULT 0,
    timeout          INTEGER NOT NULL,
    submitted_on     INTEGER NOT NULL
);
CREATE INDEX builds_by_project ON builds (project_id, id);

-- One row per chroot of a build: the unit of work builders lease.
CREATE TABLE build_chroots (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id          INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    chroot            TEXT    NOT NULL,
    arch              TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    builder_id        INTEGER REFERENCES builders (id) ON DELETE SET NULL,
    lease_id          TEXT,
    lease_expires_on  INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    -- The outcome the builder reported; set before publishing, so that a
    -- publish interrupted by a crash is finished on restart.
    outcome           TEXT,
    fail_reason       TEXT,
    result_dir        TEXT,
    started_on        INTEGER,
    ended_on          INTEGER,
    UNIQUE (build_id, chroot)
);
CREATE INDEX build_chroots_by_state ON build_chroots (state, id);
