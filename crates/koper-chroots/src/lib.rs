//! Chroot definitions: for each build target (`fedora-42-x86_64`,
//! `host-1-x86_64`, ...) the base root a buildroot starts from and the base
//! repos its BuildRequires come from.
//!
//! Chroots are data, not code: one TOML file per chroot. koper ships a set
//! (`chroots/` in this crate, compiled in); an operator adds or overrides
//! one by dropping a file with the same `name` into `<data-dir>/chroots/`.

mod shipped;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use koper_types::ChrootName;
use serde::{Deserialize, Serialize};

/// What a buildroot of this chroot starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BaseRoot {
    /// An existing directory tree used read-only (the host's `/`, a
    /// debootstrapped tree). koper describes it to rpm and dnf with a
    /// generated virtual package.
    Directory {
        /// The tree's root.
        path: PathBuf,
    },
    /// A root installed by `dnf --installroot` from the chroot's repos, as
    /// mock makes it, then cached.
    Dnf {
        /// `$releasever` for dnf.
        releasever: String,
        /// What to install (`@buildsys-build`, or a package list).
        packages: Vec<String>,
    },
}

/// A dnf repository: where base packages or dependencies come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoDefinition {
    /// The repo id dnf uses.
    pub id: String,
    /// A baseurl; `$basearch` and `$releasever` are expanded by dnf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseurl: Option<String>,
    /// A metalink, as Fedora's mirror list uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metalink: Option<String>,
    /// dnf's repo priority (lower wins); `None` keeps dnf's default, 99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// The URL of the key the repo's packages and metadata are signed
    /// with. When set, dnf checks both signatures against it (a koper
    /// project's repo); when not, nothing is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpgkey: Option<String>,
}

/// One chroot: a distribution release on one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChrootDefinition {
    /// `<distribution>-<version>-<arch>`.
    pub name: ChrootName,
    /// The RPM architecture packages are built for.
    pub arch: String,
    /// One line for listings.
    #[serde(default)]
    pub description: String,
    /// What buildroots start from.
    pub base_root: BaseRoot,
    /// Repos base packages and BuildRequires come from.
    #[serde(default)]
    pub repos: Vec<RepoDefinition>,
    /// rpm macros defined for every build (`dist = ".fc42"`).
    #[serde(default)]
    pub macros: BTreeMap<String, String>,
    /// Capabilities a builder must offer (`koper builder --tag`) to build
    /// for this chroot, such as `kvm` or `big-memory`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// How often an administrator asked for the base root to be made
    /// again (`koper admin refresh-chroot`); part of the cached base
    /// root's identity, so builders remake it when it changes. Set by the
    /// server, not in definition files.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refresh: u64,
    /// What the base repos hold now (a digest of their `repomd.xml`), when
    /// a builder checked; part of a dnf base root's identity, so a root is
    /// made again after its distribution published updates. Set by
    /// builders, never in definition files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ChrootDefinition {
    /// Whether a builder offering `offered` has every capability this
    /// chroot needs.
    pub fn served_by(&self, offered: &[String]) -> bool {
        self.tags.iter().all(|needed| offered.contains(needed))
    }
}

/// Why the chroot definitions could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ChrootError {
    /// A definition file could not be read.
    #[error("cannot read chroot definition {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A definition file is not valid.
    #[error("invalid chroot definition {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl ChrootDefinition {
    /// Parses one definition; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ChrootError> {
        let invalid = |message: String| ChrootError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let def: ChrootDefinition = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if def.name.arch() != def.arch {
            return Err(invalid(format!(
                "name {} does not end with its arch {}",
                def.name, def.arch
            )));
        }
        for repo in &def.repos {
            if repo.baseurl.is_none() == repo.metalink.is_none() {
                return Err(invalid(format!(
                    "repo {} needs exactly one of baseurl and metalink",
                    repo.id
                )));
            }
        }
        Ok(def)
    }
}

/// Every chroot this instance knows, by name.
#[derive(Debug, Clone, Default)]
pub struct ChrootCatalog {
    chroots: BTreeMap<ChrootName, ChrootDefinition>,
}

impl ChrootCatalog {
    /// The shipped definitions, overridden and extended by `*.toml` files in
    /// `override_dir` when it exists.
    pub fn load(override_dir: Option<&Path>) -> Result<Self, ChrootError> {
        let mut catalog = Self::default();
        for (file, text) in shipped::SHIPPED {
            catalog.insert(ChrootDefinition::parse(text, Path::new(file))?);
        }
        let Some(dir) = override_dir.filter(|dir| dir.is_dir()) else {
            return Ok(catalog);
        };
        let read_error = |source| ChrootError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_error)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| ChrootError::Read {
                path: path.clone(),
                source,
            })?;
            catalog.insert(ChrootDefinition::parse(&text, &path)?);
        }
        Ok(catalog)
    }

    /// Adds or replaces a definition.
    pub fn insert(&mut self, def: ChrootDefinition) {
        self.chroots.insert(def.name.clone(), def);
    }

    /// The definition of `name`, if the instance has it.
    pub fn get(&self, name: &ChrootName) -> Option<&ChrootDefinition> {
        self.chroots.get(name)
    }

    /// All definitions, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &ChrootDefinition> {
        self.chroots.values()
    }

    /// All names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &ChrootName> {
        self.chroots.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_definitions_parse_and_are_all_listed() {
        let catalog = ChrootCatalog::load(None).unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chroots");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(catalog.iter().count(), on_disk);
        let host: ChrootName = "host-1-x86_64".parse().unwrap();
        assert_eq!(
            catalog.get(&host).unwrap().base_root,
            BaseRoot::Directory { path: "/".into() }
        );
        let fedora: ChrootName = "fedora-42-x86_64".parse().unwrap();
        assert!(matches!(
            catalog.get(&fedora).unwrap().base_root,
            BaseRoot::Dnf { .. }
        ));
    }

    #[test]
    fn tags_name_what_a_builder_must_offer() {
        let def = ChrootDefinition::parse(
            "name = \"big-1-x86_64\"\narch = \"x86_64\"\ntags = [\"kvm\", \"big-memory\"]\n\
             [base_root]\nkind = \"directory\"\npath = \"/\"\n",
            Path::new("big.toml"),
        )
        .unwrap();
        let offer = |tags: &[&str]| tags.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert!(def.served_by(&offer(&["big-memory", "kvm", "gpu"])));
        assert!(!def.served_by(&offer(&["kvm"])));
        assert!(!def.served_by(&[]));
        let host = ChrootCatalog::load(None).unwrap();
        let host = host.get(&"host-1-x86_64".parse().unwrap()).unwrap();
        assert!(host.served_by(&[]), "chroots without tags need nothing");
    }

    #[test]
    fn the_data_directory_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("host.toml"),
            "name = \"host-1-x86_64\"\narch = \"x86_64\"\n[base_root]\nkind = \"directory\"\npath = \"/srv/root\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("debian.toml"),
            "name = \"debian-12-x86_64\"\narch = \"x86_64\"\n[base_root]\nkind = \"directory\"\npath = \"/srv/deb\"\n",
        )
        .unwrap();
        let catalog = ChrootCatalog::load(Some(dir.path())).unwrap();
        let host: ChrootName = "host-1-x86_64".parse().unwrap();
        assert_eq!(
            catalog.get(&host).unwrap().base_root,
            BaseRoot::Directory {
                path: "/srv/root".into()
            }
        );
        assert!(catalog.get(&"debian-12-x86_64".parse().unwrap()).is_some());
    }

    #[test]
    fn bad_definitions_name_their_file() {
        let err = ChrootDefinition::parse(
            "name = \"x-1-aarch64\"\narch = \"x86_64\"\n[base_root]\nkind = \"directory\"\npath = \"/\"\n",
            Path::new("bad.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
        assert!(ChrootDefinition::parse("name = \"../x\"", Path::new("b.toml")).is_err());
    }
}
