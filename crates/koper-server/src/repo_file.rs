//! The `.repo` file that enables a project's repository with dnf, in the
//! exact form Copr serves it (dnf's copr plugin names the file after its
//! first line).

use koper_db::ProjectRow;
use koper_types::ChrootName;

use crate::app::App;
use crate::error::{Error, Result};

/// Families whose repo URL uses `$releasever` instead of the chroot's own
/// version, so one `.repo` file follows the system's release.
fn uses_releasever(chroot: &ChrootName) -> bool {
    match chroot.family() {
        "fedora" | "centos-stream" | "opensuse-leap" => true,
        "mageia" => chroot.release() != "cauldron",
        _ => false,
    }
}

/// The chroot of `project` that a request for `name_release` (`fedora-42`,
/// or a full chroot name) means.
pub fn select_chroot<'a>(
    project: &'a ProjectRow,
    name_release: &str,
) -> std::result::Result<&'a ChrootName, Vec<String>> {
    project
        .chroots
        .iter()
        .find(|c| c.name_release() == name_release || c.as_str() == name_release)
        .ok_or_else(|| project.chroots.iter().map(|c| c.to_string()).collect())
}

/// The host name the `.repo` section id is made of (no port).
pub fn hostname(public_url: &str) -> &str {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    if host.starts_with('[') {
        return host.split(']').next().map_or(host, |h| &h[1..]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Renders the `.repo` file of `project` for `chroot`.
pub fn render(app: &App, project: &ProjectRow, chroot: &ChrootName) -> Result<String> {
    if !project.chroots.contains(chroot) {
        return Err(Error::NotFound(format!(
            "project {}/{} has no chroot {chroot}",
            project.owner, project.name
        )));
    }
    let owner = project.owner.as_str();
    let version = if uses_releasever(chroot) {
        "$releasever"
    } else {
        chroot.release()
    };
    let results = format!("{}/{}/{}", app.results_url(), owner, project.name);
    Ok(format!(
        "[copr:{host}:{id_owner}:{name}]\n\
         name=Copr repo for {name} owned by {owner}\n\
         baseurl={results}/{family}-{version}-$basearch/\n\
         type=rpm-md\n\
         skip_if_unavailable=True\n\
         gpgcheck=1\n\
         gpgkey={results}/pubkey.gpg\n\
         repo_gpgcheck=1\n\
         enabled=1\n\
         enabled_metadata=1\n",
        host = hostname(app.public_url()),
        id_owner = owner.replace('@', "group_"),
        name = project.name,
        family = chroot.family(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_lose_scheme_and_port() {
        assert_eq!(hostname("http://127.0.0.1:5050"), "127.0.0.1");
        assert_eq!(hostname("https://copr.example.org/x"), "copr.example.org");
        assert_eq!(hostname("http://[::1]:80"), "::1");
    }

    #[test]
    fn releasever_families() {
        let c = |s: &str| s.parse::<ChrootName>().unwrap();
        assert!(uses_releasever(&c("fedora-42-x86_64")));
        assert!(uses_releasever(&c("fedora-rawhide-x86_64")));
        assert!(uses_releasever(&c("centos-stream-9-x86_64")));
        assert!(!uses_releasever(&c("epel-9-x86_64")));
        assert!(!uses_releasever(&c("mageia-cauldron-x86_64")));
        assert!(!uses_releasever(&c("host-1-x86_64")));
    }
}
