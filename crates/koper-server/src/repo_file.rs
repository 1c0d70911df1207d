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

/// How `dnf copr enable HUB/owner/project` reaches this instance.
#[derive(Debug, PartialEq, Eq)]
pub struct PluginHub {
    /// The first part of the plugin's argument.
    pub name: String,
    /// A `copr.d` configuration the plugin needs first, with the path it
    /// goes to, when the hub name alone would make the plugin ask
    /// `https://HUB` and miss the instance.
    pub config: Option<(String, String)>,
}

/// The plugin takes an unconfigured hub name as `https://HUB`, so an
/// instance on HTTPS (any port) needs nothing more, while one on plain
/// HTTP needs a `copr.d` section saying so.
pub fn plugin_hub(public_url: &str) -> PluginHub {
    let Ok(url) = reqwest::Url::parse(public_url) else {
        return PluginHub {
            name: hostname(public_url).to_owned(),
            config: None,
        };
    };
    let host = url.host_str().unwrap_or("localhost").to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    if url.scheme() == "https" {
        let name = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        return PluginHub { name, config: None };
    }
    let section = host.trim_matches(['[', ']']).replace(':', "-");
    let config = format!(
        "[{section}]\nhostname = {host}\nprotocol = {}\nport = {port}\n",
        url.scheme()
    );
    PluginHub {
        config: Some((format!("/etc/dnf/plugins/copr.d/{section}.conf"), config)),
        name: section,
    }
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
    fn the_plugin_hub_reaches_the_instance() {
        let plain = |name: &str| PluginHub {
            name: name.to_owned(),
            config: None,
        };
        assert_eq!(
            plugin_hub("https://copr.example.org"),
            plain("copr.example.org")
        );
        assert_eq!(
            plugin_hub("https://copr.example.org:8443/"),
            plain("copr.example.org:8443")
        );
        let http = plugin_hub("http://127.0.0.1:5050");
        assert_eq!(http.name, "127.0.0.1");
        assert_eq!(
            http.config,
            Some((
                "/etc/dnf/plugins/copr.d/127.0.0.1.conf".to_owned(),
                "[127.0.0.1]\nhostname = 127.0.0.1\nprotocol = http\nport = 5050\n".to_owned()
            ))
        );
        let v6 = plugin_hub("http://[::1]/");
        assert_eq!(v6.name, "--1");
        assert!(
            v6.config
                .unwrap()
                .1
                .contains("hostname = [::1]\nprotocol = http\nport = 80")
        );
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
