-- Groups and per-project roles (sqlite). Keep in step with the other
-- migration set's 0012_groups_and_roles.sql.

-- A group owns projects as `@name`; its members may build in them and its
-- admins manage them and the membership.
CREATE TABLE groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_on  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_admin  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);

-- A user's roles in a project besides ownership, each 'nothing',
-- 'request' (asked for, waiting for the owner or an admin) or 'approved'.
CREATE TABLE project_roles (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    builder     TEXT    NOT NULL DEFAULT 'nothing',
    admin       TEXT    NOT NULL DEFAULT 'nothing',
    updated_on  INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
