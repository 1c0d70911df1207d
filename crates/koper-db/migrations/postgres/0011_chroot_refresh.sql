-- Base root refreshes asked for by administrators (postgres). Keep in step with
-- the other migration set's 0011_chroot_refresh.sql.

-- How often `koper admin refresh-chroot` ran for a chroot; builders remake
-- a base root whose count changed.
CREATE TABLE chroot_refreshes (
    chroot   TEXT    PRIMARY KEY,
    refresh  BIGINT NOT NULL
);
