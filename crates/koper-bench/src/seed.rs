//! Fills a server's database directly with many builds (through its own
//! SQL client: making 100,000 builds through the API would take hours).

use std::process::Command;

use anyhow::{Context, bail};
use koper_testkit::TestServer;

/// Runs `sql` on the server's database; its output, trimmed.
pub fn sql(server: &TestServer, sql: &str) -> anyhow::Result<String> {
    let out = match server.postgres_url() {
        Some(url) => Command::new("psql")
            .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
            .output(),
        None => Command::new("sqlite3")
            .arg(server.data_dir().join("koper.db"))
            .arg(sql)
            .output(),
    }
    .context("running the database's SQL client")?;
    if !out.status.success() {
        bail!("{sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// The id of project `owner/name`.
pub fn project_id(server: &TestServer, owner: &str, name: &str) -> anyhow::Result<i64> {
    Ok(sql(
        server,
        &format!("SELECT id FROM projects WHERE owner_name = '{owner}' AND name = '{name}'"),
    )?
    .parse()?)
}

/// Adds `count` builds to a project, of packages `pkg0`..`pkg999` in
/// turn (a mass rebuild's worth of packages, each built many times), one
/// chroot each, in `state` (ended when final).
pub fn builds(
    server: &TestServer,
    project_id: i64,
    count: usize,
    chroot: &str,
    state: &str,
) -> anyhow::Result<()> {
    let arch = chroot.rsplit('-').next().context("chroot without arch")?;
    let ended = if state == "pending" { "NULL" } else { "1000" };
    sql(
        server,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
             INSERT INTO builds (project_id, source_type, source_state, srpm_path, srpm_sha256,
                 package_name, package_version, timeout, submitted_on)
             SELECT {project_id}, 'upload', 'succeeded', 'uploads/bench/pkg-1-1.src.rpm', '00',
                 'pkg' || (i % 1000), '1-' || i, 3600, 1000 FROM n;
             INSERT INTO build_chroots (build_id, chroot, arch, state, started_on, ended_on)
             SELECT b.id, '{chroot}', '{arch}', '{state}', {ended}, {ended} FROM builds b
             WHERE b.project_id = {project_id}
                 AND NOT EXISTS (SELECT 1 FROM build_chroots x WHERE x.build_id = b.id);"
        ),
    )?;
    Ok(())
}
