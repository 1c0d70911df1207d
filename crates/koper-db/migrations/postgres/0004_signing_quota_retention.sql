-- Release packages, storage accounting and retention (PostgreSQL). Keep in
-- step with ../sqlite/0004_signing_quota_retention.sql.

-- Builds kept per package and chroot besides the newest successful one.
ALTER TABLE projects ADD COLUMN retain_older BIGINT NOT NULL DEFAULT 0;
-- A quota of the project's own; NULL: it counts against its owner's.
ALTER TABLE projects ADD COLUMN quota_bytes BIGINT;
-- Shown in the project directory (0: reachable only by its name).
ALTER TABLE projects ADD COLUMN listed BIGINT NOT NULL DEFAULT 1;

-- Bytes the build's accepted source RPM takes in uploads/.
ALTER TABLE builds ADD COLUMN srpm_bytes BIGINT NOT NULL DEFAULT 0;
-- Bytes the chroot's result directory takes (its source RPM is a hard
-- link of the upload and not counted again).
ALTER TABLE build_chroots ADD COLUMN result_bytes BIGINT NOT NULL DEFAULT 0;
-- When retention removed the published results.
ALTER TABLE build_chroots ADD COLUMN pruned_on BIGINT;

-- Quotas an administrator set; other owners have the instance default.
CREATE TABLE owner_quotas (
    owner_name   TEXT    PRIMARY KEY,
    quota_bytes  BIGINT  NOT NULL
);

-- The current release package of each project chroot.
CREATE TABLE release_packages (
    project_id      BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    chroot          TEXT    NOT NULL,
    release         BIGINT  NOT NULL,
    content_sha256  TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    PRIMARY KEY (project_id, chroot)
);
