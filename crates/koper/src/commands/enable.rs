//! `koper enable` and `koper disable`: what `dnf copr enable` and `dnf copr
//! disable` do, on any host with dnf: the project's `.repo` file (with the
//! repos of the projects it depends on) in dnf's repo directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{client, project_ref};
use crate::cli::{DisableArgs, EnableArgs};
use crate::exit::{CommandResult, Failure};

/// The distribution release of this host as a chroot's name-release, the
/// way dnf's copr plugin guesses it: Fedora's own, EPEL for the RHEL
/// family.
fn host_name_release(os_release: &str) -> Option<String> {
    let field = |key: &str| {
        os_release.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim_matches('"').to_owned())
        })
    };
    let id = field("ID")?;
    let version = field("VERSION_ID").unwrap_or_default();
    let like = field("ID_LIKE").unwrap_or_default();
    if id == "fedora" {
        let version = if version.is_empty() {
            "rawhide".into()
        } else {
            version
        };
        return Some(format!("fedora-{version}"));
    }
    let rhel_like = ["rhel", "centos", "rocky", "almalinux"].contains(&id.as_str())
        || like
            .split_whitespace()
            .any(|l| l == "rhel" || l == "centos");
    let major = version.split('.').next().unwrap_or_default();
    (rhel_like && !major.is_empty()).then(|| format!("epel-{major}"))
}

/// The file a `.repo` text goes to: named after its first section as dnf's
/// copr plugin names it (`_copr:<host>:<owner>:<project>.repo`).
fn repo_file_name(text: &str) -> Option<String> {
    let id = text
        .lines()
        .next()?
        .strip_prefix("[copr:")?
        .strip_suffix(']')?;
    (!id.contains('/') && !id.is_empty()).then(|| format!("_copr:{id}.repo"))
}

fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".{}.koper-new",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("repo")
    ));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Failure::local(format!("cannot write {}: {e}", path.display()))
            .hint("writing to /etc/yum.repos.d needs root; or pass --reposdir DIR")
    })
}

pub async fn enable(args: EnableArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let name_release = match args.chroot {
        Some(chroot) => chroot,
        None => std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| host_name_release(&text))
            .ok_or_else(|| {
                Failure::new(2, "cannot tell which chroot this system needs")
                    .hint("name it: `koper enable OWNER/PROJECT fedora-42` (see `koper list`)")
            })?,
    };
    let url = format!(
        "{}/coprs/{}/{}/repo/{name_release}/dnf.repo",
        client.config().url,
        project.owner,
        project.name
    );
    let Some(bytes) = client.fetch(&url).await? else {
        // Say what there is: the project's chroots, or that it is missing.
        let found = client.project(&project.owner, &project.name).await?;
        let chroots: Vec<&str> = found.chroots.iter().map(|c| c.as_str()).collect();
        return Err(Failure::new(
            1,
            format!(
                "{}/{} does not build for {name_release}",
                project.owner, project.name
            ),
        )
        .hint(format!("its chroots are: {}", chroots.join(", "))));
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::local("the server sent a .repo file that is not text"))?;
    let file_name = repo_file_name(&text)
        .ok_or_else(|| Failure::local("the server sent something that is not a .repo file"))?;
    std::fs::create_dir_all(&args.reposdir)
        .map_err(|e| Failure::local(format!("{}: {e}", args.reposdir.display())))?;
    let path = args.reposdir.join(&file_name);
    write_atomically(&path, &text)?;
    let sections = text.lines().filter(|l| l.starts_with('[')).count();
    eprintln!(
        "Repository {}/{} enabled in {} ({} with the repos it depends on).",
        project.owner,
        project.name,
        path.display(),
        match sections {
            1 => "no dependencies".to_owned(),
            n => format!("{} repos", n),
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The enabled `.repo` files of a project in `dir`, whatever host they
/// came from.
fn project_repo_files(dir: &Path, owner: &str, project: &str) -> Vec<PathBuf> {
    let suffix = format!(":{}:{project}.repo", owner.replace('@', "group_"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("_copr:") && n.ends_with(&suffix))
        })
        .collect();
    files.sort();
    files
}

pub async fn disable(args: DisableArgs) -> CommandResult {
    let project = koper_types::ProjectRef::parse_with_default(&args.project, None)
        .map_err(|e| Failure::new(2, e.to_string()).hint("write the project as OWNER/PROJECT"))?;
    let files = project_repo_files(
        &args.reposdir,
        project.owner.as_str(),
        project.name.as_str(),
    );
    if files.is_empty() {
        return Err(Failure::new(
            1,
            format!(
                "{}/{} is not enabled in {}",
                project.owner,
                project.name,
                args.reposdir.display()
            ),
        ));
    }
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
        // As dnf's copr plugin does: the file stays, its repos are off.
        let disabled: String = text
            .lines()
            .map(|line| {
                if line.trim() == "enabled=1" {
                    "enabled=0"
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        write_atomically(&path, &disabled)?;
        eprintln!(
            "Repository {}/{} disabled in {}.",
            project.owner,
            project.name,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_release_is_guessed_like_dnf_copr() {
        assert_eq!(
            host_name_release("ID=fedora\nVERSION_ID=42\n").as_deref(),
            Some("fedora-42")
        );
        assert_eq!(
            host_name_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n")
                .as_deref(),
            Some("epel-9")
        );
        assert_eq!(host_name_release("ID=debian\nVERSION_ID=\"12\"\n"), None);
    }

    #[test]
    fn repo_files_are_named_after_their_first_section() {
        assert_eq!(
            repo_file_name("[copr:example.org:group_kde:stable]\nname=x\n").as_deref(),
            Some("_copr:example.org:group_kde:stable.repo")
        );
        assert_eq!(repo_file_name("[other]\n"), None);
        assert_eq!(repo_file_name("[copr:../x]\n"), None);
    }
}
