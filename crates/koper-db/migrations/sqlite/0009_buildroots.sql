-- Buildroots from other projects and external repos (SQLite).
-- Keep in step with ../postgres/0009_buildroots.sql.

-- Repos builds take BuildRequires from besides the project's own, one a
-- line: `copr://owner/project` (resolved transitively) or an http(s) URL.
ALTER TABLE projects ADD COLUMN additional_repos TEXT NOT NULL DEFAULT '';
-- Whether builds may use the network (Copr's enable_net).
ALTER TABLE projects ADD COLUMN enable_net INTEGER NOT NULL DEFAULT 0;
-- dnf priority of the project's repos in buildroots (NULL: dnf's default).
ALTER TABLE projects ADD COLUMN repo_priority INTEGER;

-- Packages installed into every buildroot of a project chroot, one a line.
ALTER TABLE project_chroots ADD COLUMN buildroot_pkgs TEXT NOT NULL DEFAULT '';
