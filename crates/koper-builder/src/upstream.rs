//! What a dnf base root's repos hold now. The sandbox caches a base root
//! per identity; including this in the identity makes builders install a
//! fresh root after the distribution published updates, as mock's root
//! cache expiry does, but exactly when something changed.
//!
//! A repo with a `baseurl` is read through its `repodata/repomd.xml`; a
//! `metalink` (Fedora's mirror manager) names the current `repomd.xml`'s
//! checksum itself. Each chroot is checked at most once per interval, and
//! a failed check keeps the previous answer: the build's own dnf run
//! reports unreachable repos, not this check.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use koper_chroots::{BaseRoot, ChrootDefinition};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// Answers per chroot, shared by a builder's slots.
#[derive(Clone)]
pub struct UpstreamWatch {
    http: reqwest::Client,
    interval: Duration,
    known: Arc<Mutex<HashMap<String, Checked>>>,
}

/// The last answer for one chroot.
struct Checked {
    at: Instant,
    revision: Option<String>,
}

impl UpstreamWatch {
    /// Checks each chroot at most once per `interval`.
    pub fn new(http: reqwest::Client, interval: Duration) -> Self {
        Self {
            http,
            interval,
            known: Arc::default(),
        }
    }

    /// The state of `chroot`'s base repos, for dnf base roots; `None` for
    /// directory roots or when it was never learned.
    pub async fn revision(&self, chroot: &ChrootDefinition) -> Option<String> {
        let BaseRoot::Dnf { releasever, .. } = &chroot.base_root else {
            return None;
        };
        let key = chroot.name.to_string();
        let mut known = self.known.lock().await;
        if let Some(checked) = known.get(&key)
            && checked.at.elapsed() < self.interval
        {
            return checked.revision.clone();
        }
        let fresh = self.fetch(chroot, releasever).await;
        let revision = fresh.or_else(|| known.get(&key).and_then(|c| c.revision.clone()));
        known.insert(
            key,
            Checked {
                at: Instant::now(),
                revision: revision.clone(),
            },
        );
        revision
    }

    async fn fetch(&self, chroot: &ChrootDefinition, releasever: &str) -> Option<String> {
        let expand = |url: &str| {
            url.replace("$basearch", &chroot.arch)
                .replace("$releasever", releasever)
        };
        let mut digest = Sha256::new();
        for repo in &chroot.repos {
            let state = if let Some(baseurl) = &repo.baseurl {
                let url = format!(
                    "{}/repodata/repomd.xml",
                    expand(baseurl).trim_end_matches('/')
                );
                hex::encode(Sha256::digest(self.get(&url).await?))
            } else if let Some(metalink) = &repo.metalink {
                let text = String::from_utf8(self.get(&expand(metalink)).await?).ok()?;
                metalink_repomd_hash(&text)?
            } else {
                continue;
            };
            digest.update(format!("{} {state}\n", repo.id));
        }
        Some(hex::encode(digest.finalize())[..16].to_owned())
    }

    async fn get(&self, url: &str) -> Option<Vec<u8>> {
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            tracing::warn!(%url, status = %response.status(), "checking a base repo failed");
            return None;
        }
        Some(response.bytes().await.ok()?.to_vec())
    }
}

/// The checksum a metalink gives for `repomd.xml` (sha256 preferred, else
/// the first hash; mirror lists vary by who asks, the hash does not).
fn metalink_repomd_hash(text: &str) -> Option<String> {
    let file = text.split("<file name=\"repomd.xml\">").nth(1)?;
    let file = file.split("</file>").next()?;
    let hash = |kind: &str| {
        let open = format!("<hash type=\"{kind}\">");
        let start = file.find(&open)? + open.len();
        let end = file[start..].find("</hash>")? + start;
        Some(file[start..end].trim().to_owned())
    };
    hash("sha256")
        .or_else(|| hash("sha512"))
        .or_else(|| hash("md5"))
}

#[cfg(test)]
mod tests {
    use koper_chroots::RepoDefinition;

    use super::*;

    fn chroot(baseurl: String) -> ChrootDefinition {
        ChrootDefinition {
            name: "fedora-42-x86_64".parse().unwrap(),
            arch: "x86_64".into(),
            description: String::new(),
            base_root: BaseRoot::Dnf {
                releasever: "42".into(),
                packages: vec!["bash".into()],
            },
            repos: vec![RepoDefinition {
                id: "base".into(),
                baseurl: Some(baseurl),
                metalink: None,
                priority: None,
                gpgkey: None,
            }],
            macros: Default::default(),
            tags: Vec::new(),
            refresh: 0,
            upstream: None,
        }
    }

    #[tokio::test]
    async fn a_changed_repo_changes_the_revision_once_the_interval_passed() {
        let served = tempfile::tempdir().unwrap();
        let repodata = served.path().join("42/x86_64/repodata");
        std::fs::create_dir_all(&repodata).unwrap();
        std::fs::write(repodata.join("repomd.xml"), "<repomd>1</repomd>").unwrap();
        let url = koper_testkit::serve_dir(served.path()).unwrap();
        let def = chroot(format!("{url}/$releasever/$basearch/"));

        let watch = UpstreamWatch::new(reqwest::Client::new(), Duration::ZERO);
        let first = watch.revision(&def).await;
        assert!(first.is_some());
        assert_eq!(watch.revision(&def).await, first, "nothing changed");
        std::fs::write(repodata.join("repomd.xml"), "<repomd>2</repomd>").unwrap();
        let second = watch.revision(&def).await;
        assert!(second.is_some() && second != first);

        // Unreachable: the last answer stands.
        std::fs::remove_file(repodata.join("repomd.xml")).unwrap();
        assert_eq!(watch.revision(&def).await, second);

        // Within the interval, nobody asks the repo.
        let slow = UpstreamWatch::new(reqwest::Client::new(), Duration::from_secs(3600));
        std::fs::write(repodata.join("repomd.xml"), "<repomd>3</repomd>").unwrap();
        let cached = slow.revision(&def).await;
        std::fs::write(repodata.join("repomd.xml"), "<repomd>4</repomd>").unwrap();
        assert_eq!(slow.revision(&def).await, cached);
    }

    #[test]
    fn a_metalink_names_the_current_repomd() {
        let metalink = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1764800000</mm0:timestamp>
   <size>7264</size>
   <verification>
    <hash type="md5">aaaa</hash>
    <hash type="sha256">bbbb</hash>
   </verification>
   <resources maxconnections="1">
    <url protocol="https" type="https" location="US" preference="100">https://mirror.example/fedora/repodata/repomd.xml</url>
   </resources>
  </file>
 </files>
</metalink>"#;
        assert_eq!(metalink_repomd_hash(metalink).as_deref(), Some("bbbb"));
        assert_eq!(metalink_repomd_hash("<metalink/>"), None);
    }
}
