//! What packages provide and require, to tell which older builds the kept
//! ones still need (retention must not break dependencies).

use std::collections::HashSet;
use std::hash::Hash;
use std::path::Path;

use rpm::DependencyFlags;
use rpm_version::Evr;

use crate::RpmError;

/// A provided or required capability: a name, optionally with a version
/// comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// `libfoo.so.1()(64bit)`, `/usr/bin/sh`, `foo`.
    pub name: String,
    /// `<`, `<=`, `=`, `>=`, `>` or empty.
    pub op: String,
    /// `[epoch:]version[-release]`, empty without a comparison.
    pub evr: String,
}

impl Capability {
    fn from_dependency(dep: &rpm::Dependency) -> Self {
        let mut op = String::new();
        if dep.flags.contains(DependencyFlags::LESS) {
            op.push('<');
        }
        if dep.flags.contains(DependencyFlags::GREATER) {
            op.push('>');
        }
        if dep.flags.contains(DependencyFlags::EQUAL) {
            op.push('=');
        }
        Self {
            name: dep.name.clone(),
            op,
            evr: dep.version.clone(),
        }
    }

    /// A capability without a version.
    pub fn any(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: String::new(),
            evr: String::new(),
        }
    }

    /// Whether this provided capability satisfies `required`. Only exact
    /// (`=`) provides are compared with version ranges; anything else is
    /// taken to satisfy, which errs on the side of keeping packages.
    pub fn satisfies(&self, required: &Capability) -> bool {
        if self.name != required.name {
            return false;
        }
        if required.op.is_empty() || self.op != "=" || self.evr.is_empty() {
            return true;
        }
        let wanted = Evr::parse(&required.evr);
        let mut provided = self.evr.clone();
        // `foo >= 1.0` says nothing about the release: compare without it.
        if wanted.release().is_empty()
            && let Some((without, _)) = provided.rsplit_once('-')
        {
            provided = without.to_owned();
        }
        let ordering = Evr::parse(&provided).cmp(&wanted);
        (required.op.contains('<') && ordering.is_lt())
            || (required.op.contains('>') && ordering.is_gt())
            || (required.op.contains('=') && ordering.is_eq())
    }
}

/// One package's capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDeps {
    /// Provides, including its own name and its files.
    pub provides: Vec<Capability>,
    /// Requires, without rpmlib's own (`rpmlib(...)`) and scriptlet ones
    /// that only rpm itself satisfies.
    pub requires: Vec<Capability>,
}

impl PackageDeps {
    /// Whether the package provides something that satisfies `required`.
    pub fn provides(&self, required: &Capability) -> bool {
        self.provides.iter().any(|p| p.satisfies(required))
    }
}

/// Reads a package's provides (with its files) and requires.
pub fn read_deps(path: &Path) -> Result<PackageDeps, RpmError> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let headers = crate::read_headers(&mut file, len)?;
    let meta = &headers.metadata;
    let corrupt = |e: rpm::Error| RpmError::Corrupt(e.to_string());
    let mut provides: Vec<Capability> = meta
        .get_provides()
        .map_err(corrupt)?
        .iter()
        .map(Capability::from_dependency)
        .collect();
    if let Ok(paths) = meta.get_file_paths() {
        provides.extend(
            paths
                .iter()
                .map(|p| Capability::any(p.to_string_lossy().into_owned())),
        );
    }
    let requires = meta
        .get_requires()
        .map_err(corrupt)?
        .iter()
        .filter(|d| !d.name.starts_with("rpmlib("))
        .map(Capability::from_dependency)
        .collect();
    Ok(PackageDeps { provides, requires })
}

/// Which groups of `candidates` (builds that retention would remove, in
/// order of preference, newest first) must stay so that every requirement
/// of the `kept` packages that a package of the repo provides is still
/// provided, directly or through other packages kept for that reason.
/// Requirements that no package of the repo provides (the distribution's)
/// keep nothing.
pub fn still_needed<K: Clone + Eq + Hash>(
    kept: &[PackageDeps],
    candidates: &[(K, Vec<PackageDeps>)],
) -> HashSet<K> {
    let mut kept: Vec<&PackageDeps> = kept.iter().collect();
    let mut needed = HashSet::new();
    loop {
        let unsatisfied: Vec<&Capability> = kept
            .iter()
            .flat_map(|p| p.requires.iter())
            .filter(|r| !kept.iter().any(|p| p.provides(r)))
            .collect();
        // The newest candidate that helps is kept first; the others are
        // looked at again with it counted.
        let helper = candidates.iter().find(|(key, packages)| {
            !needed.contains(key)
                && unsatisfied
                    .iter()
                    .any(|r| packages.iter().any(|p| p.provides(r)))
        });
        let Some((key, packages)) = helper else {
            return needed;
        };
        needed.insert(key.clone());
        kept.extend(packages.iter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(name: &str, op: &str, evr: &str) -> Capability {
        Capability {
            name: name.into(),
            op: op.into(),
            evr: evr.into(),
        }
    }

    #[test]
    fn version_ranges() {
        let p = cap("libfoo", "=", "2.0-1");
        assert!(p.satisfies(&cap("libfoo", "", "")));
        assert!(p.satisfies(&cap("libfoo", ">=", "1.5")));
        assert!(p.satisfies(&cap("libfoo", "=", "2.0")));
        assert!(p.satisfies(&cap("libfoo", "=", "2.0-1")));
        assert!(!p.satisfies(&cap("libfoo", "=", "1.0-1")));
        assert!(!p.satisfies(&cap("libfoo", "<", "2.0")));
        assert!(!p.satisfies(&cap("libfoo", ">", "2.0")));
        assert!(p.satisfies(&cap("libfoo", "<", "10")));
        assert!(!p.satisfies(&cap("libbar", "", "")));
        assert!(cap("libfoo", "", "").satisfies(&cap("libfoo", "=", "9")));
    }

    fn pkg(provides: &[Capability], requires: &[Capability]) -> PackageDeps {
        PackageDeps {
            provides: provides.to_vec(),
            requires: requires.to_vec(),
        }
    }

    #[test]
    fn only_builds_that_kept_packages_need_stay() {
        // app-2 needs libfoo.so.1, which only libfoo-1 (build 3) provides;
        // libfoo-1 needs libbar (build 2). Build 1 is needed by nobody.
        let app = pkg(
            &[cap("app", "=", "2-1")],
            &[cap("libfoo.so.1", "", ""), cap("libc.so.6", "", "")],
        );
        let libfoo2 = pkg(&[cap("libfoo.so.2", "", "")], &[]);
        let candidates = vec![
            (
                3,
                vec![pkg(&[cap("libfoo.so.1", "", "")], &[cap("libbar", "", "")])],
            ),
            (2, vec![pkg(&[cap("libbar", "=", "1-1")], &[])]),
            (1, vec![pkg(&[cap("old", "=", "1-1")], &[])]),
        ];
        let needed = still_needed(&[app, libfoo2], &candidates);
        assert_eq!(needed, HashSet::from([3, 2]));
        // Nothing needed: everything goes.
        let alone = pkg(&[cap("x", "", "")], &[cap("libc.so.6", "", "")]);
        assert!(still_needed(&[alone], &candidates).is_empty());
    }
}
