-- Groups and per-project roles (postgres). Keep in step with the other
-- migration set's 0012_groups_and_roles.sql.

-- A group owns projects as `@name`; its members may build in them and its
-- admins manage them and the membership.
CREATE TABLE groups (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_on  BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id  BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_admin  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);

-- A user's roles in a project besides ownership, each 'nothing',
-- 'request' (asked for, waiting for the owner or an admin) or 'approved'.
CREATE TABLE project_roles (
    project_id  BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    builder     TEXT    NOT NULL DEFAULT 'nothing',
    admin       TEXT    NOT NULL DEFAULT 'nothing',
    updated_on  BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
