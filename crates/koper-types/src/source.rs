//! Where a build's source RPM comes from when it is made by koper: a git
//! repository (Copr's `scm` source type) or a spec file the server
//! fetched from a URL (Copr's `link`). Checked when submitted and again
//! by the builder, because each part ends up on a command line or as a
//! path inside the checkout.

use std::fmt;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// How the source RPM is made from the checkout (Copr's
/// `source_build_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrpmMethod {
    /// `rpmbuild -bs` on the spec file, with the files next to it as its
    /// sources (what Copr's `rpkg` does for a plain spec).
    #[default]
    Rpkg,
    /// `make -f .copr/Makefile srpm outdir=... spec=...`, run in the
    /// subdirectory, as Copr's `make_srpm` method does.
    MakeSrpm,
}

impl SrpmMethod {
    /// The method named as Copr names it; `None` for methods koper lacks.
    pub fn from_copr(name: &str) -> Option<Self> {
        match name {
            "" | "rpkg" => Some(Self::Rpkg),
            "make_srpm" => Some(Self::MakeSrpm),
            _ => None,
        }
    }

    /// Copr's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rpkg => "rpkg",
            Self::MakeSrpm => "make_srpm",
        }
    }
}

impl fmt::Display for SrpmMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A git repository to make the source RPM from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScmSource {
    /// `http://`, `https://` or `git://` URL to clone.
    pub clone_url: String,
    /// Branch, tag or commit to check out; empty for the default branch.
    #[serde(default)]
    pub committish: String,
    /// Directory of the checkout to work in; empty for its top.
    #[serde(default)]
    pub subdirectory: String,
    /// The spec file, relative to the subdirectory; empty to take the one
    /// `*.spec` there.
    #[serde(default)]
    pub spec: String,
    /// How the source RPM is made.
    #[serde(default)]
    pub method: SrpmMethod,
}

/// Why a source cannot be used; the message is for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// The longest URL, committish or path accepted.
const MAX_LEN: usize = 1024;

impl ScmSource {
    /// Checks every part; the first problem is the error.
    pub fn check(&self) -> Result<(), SourceError> {
        check_clone_url(&self.clone_url)?;
        check_committish(&self.committish)?;
        check_relative_path("subdirectory", &self.subdirectory)?;
        check_relative_path("spec", &self.spec)?;
        if !self.spec.is_empty() && !self.spec.ends_with(".spec") {
            return Err(SourceError(format!(
                "spec {:?} does not end in .spec",
                self.spec
            )));
        }
        Ok(())
    }

    /// The repository's identity for matching webhook pushes: the URL
    /// without scheme, credentials, trailing `/` or `.git`, lowercased host.
    pub fn repo_identity(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_ascii_lowercase();
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        format!("{host}/{path}")
    }
}

fn plain_text(what: &str, value: &str) -> Result<(), SourceError> {
    if value.len() > MAX_LEN || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(SourceError(format!(
            "{what} {value:?} is too long or has spaces or control characters"
        )));
    }
    Ok(())
}

/// A URL git may clone from here: http, https or git, with a host. Other
/// transports (`file://`, `ssh://`, `ext::`) would reach the builder's own
/// files or run commands.
pub fn check_clone_url(url: &str) -> Result<(), SourceError> {
    plain_text("clone URL", url)?;
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(SourceError(format!(
            "clone URL {url:?} is not a URL; give an http://, https:// or git:// URL"
        )));
    };
    if !matches!(scheme, "http" | "https" | "git") {
        return Err(SourceError(format!(
            "clone URL {url:?}: only http, https and git URLs can be cloned"
        )));
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || url.starts_with('-') {
        return Err(SourceError(format!("clone URL {url:?} has no host")));
    }
    Ok(())
}

/// A branch, tag or commit name: git's ref characters, never an option.
pub fn check_committish(committish: &str) -> Result<(), SourceError> {
    plain_text("committish", committish)?;
    let ok = !committish.starts_with('-')
        && !committish.contains("..")
        && committish
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+'));
    if !ok {
        return Err(SourceError(format!(
            "committish {committish:?} is not a branch, tag or commit name"
        )));
    }
    Ok(())
}

/// A path inside the checkout: relative, no `..`, never an option.
pub fn check_relative_path(what: &str, path: &str) -> Result<(), SourceError> {
    plain_text(what, path)?;
    let inside = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside || path.starts_with('-') {
        return Err(SourceError(format!(
            "{what} {path:?} must be a relative path inside the repository (no `..`, no leading `/`)"
        )));
    }
    Ok(())
}

/// The largest spec file koper takes from a URL: the biggest specs of a
/// distribution (TeX Live's) are a few MiB.
pub const MAX_SPEC_BYTES: u64 = 8 << 20;

/// A spec file fetched from a URL; its source RPM is made in the sandbox
/// with the sources its `SourceN`/`PatchN` URLs name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecSource {
    /// Where the server fetched it.
    pub url: String,
    /// The name it gets next to its sources (`NAME.spec`).
    pub file_name: String,
    /// The spec itself.
    pub content: String,
}

impl SpecSource {
    /// The file name a spec fetched from `url` gets: the URL's last path
    /// segment when that is a plain `*.spec` name, else `package.spec`
    /// (what the URL is called does not matter to rpmbuild).
    pub fn file_name_for(url: &str) -> String {
        let path = url.split(['?', '#']).next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        if check_file_name(last).is_ok() && last.ends_with(".spec") && last.len() > 5 {
            last.to_owned()
        } else {
            "package.spec".to_owned()
        }
    }

    /// Checks the file name and that the content is a spec file's.
    pub fn check(&self) -> Result<(), SourceError> {
        check_file_name(&self.file_name)?;
        if !self.file_name.ends_with(".spec") {
            return Err(SourceError(format!(
                "spec {:?} does not end in .spec",
                self.file_name
            )));
        }
        check_spec_text(&self.content)
    }
}

/// A file name koper writes into a source directory: one path segment,
/// printable, not hidden, never an option.
pub fn check_file_name(name: &str) -> Result<(), SourceError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['.', '-'])
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || c.is_whitespace());
    if !ok {
        return Err(SourceError(format!(
            "{name:?} is not a plain file name (one path segment, no leading `.` or `-`)"
        )));
    }
    Ok(())
}

/// Whether `text` can be a spec file: a `Name:` tag (rpm's tags are
/// case-insensitive) and no NUL bytes. Anything else someone serves
/// (an HTML page, a tarball, an error message) is refused with this.
pub fn check_spec_text(text: &str) -> Result<(), SourceError> {
    if text.contains('\0') {
        return Err(SourceError(
            "it holds NUL bytes, so it is not a spec file".into(),
        ));
    }
    let has_name = text.lines().any(|line| {
        line.trim_start()
            .split_once(':')
            .is_some_and(|(tag, value)| {
                tag.trim().eq_ignore_ascii_case("name") && !value.trim().is_empty()
            })
    });
    if !has_name {
        return Err(SourceError(
            "it has no `Name:` line, so it is not a spec file".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scm(url: &str) -> ScmSource {
        ScmSource {
            clone_url: url.into(),
            committish: String::new(),
            subdirectory: String::new(),
            spec: String::new(),
            method: SrpmMethod::Rpkg,
        }
    }

    #[test]
    fn only_remote_transports_are_cloned() {
        for good in [
            "https://github.com/a/b.git",
            "http://127.0.0.1:8080/r.git",
            "git://127.0.0.1/r",
        ] {
            assert_eq!(scm(good).check(), Ok(()), "{good}");
        }
        for bad in [
            "file:///etc",
            "ssh://host/r",
            "ext::sh -c id",
            "/srv/r.git",
            "http://",
            "https://a/b c",
            "git@github.com:a/b",
        ] {
            assert!(scm(bad).check().is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside_the_checkout() {
        let mut source = scm("https://x/r");
        for (sub, spec) in [("pkg", "x.spec"), ("a/b", "sub/x.spec"), ("", "")] {
            source.subdirectory = sub.into();
            source.spec = spec.into();
            assert_eq!(source.check(), Ok(()), "{sub} {spec}");
        }
        for (sub, spec) in [
            ("../x", ""),
            ("/etc", ""),
            ("a/../../b", ""),
            ("", "../x.spec"),
            ("", "/tmp/x.spec"),
            ("", "x.txt"),
            ("-rf", ""),
        ] {
            source.subdirectory = sub.into();
            source.spec = spec.into();
            assert!(source.check().is_err(), "{sub} {spec}");
        }
    }

    #[test]
    fn committishes_are_names_not_options() {
        for good in ["", "main", "v1.0", "release/2.x", "0123abcd"] {
            assert_eq!(check_committish(good), Ok(()), "{good}");
        }
        for bad in ["--upload-pack=x", "a..b", "a b", "x;y", "$(id)"] {
            assert!(check_committish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webhook_matching_ignores_url_spelling() {
        let id = ScmSource::repo_identity;
        assert_eq!(id("https://GitHub.com/a/b.git"), "github.com/a/b");
        assert_eq!(id("http://github.com/a/b/"), "github.com/a/b");
        assert_eq!(id("https://user:pw@github.com/a/b"), "github.com/a/b");
        assert_ne!(id("https://github.com/a/b"), id("https://github.com/a/c"));
    }

    #[test]
    fn specs_are_text_with_a_name() {
        assert_eq!(check_spec_text("Name: hello\nVersion: 1\n"), Ok(()));
        assert_eq!(check_spec_text("  name :x\n"), Ok(()));
        for bad in [
            "<html><body>Sign in</body></html>",
            "Name:\n",
            "Name: x\0y",
            "",
        ] {
            assert!(check_spec_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn spec_file_names_are_one_plain_segment() {
        let name = SpecSource::file_name_for;
        assert_eq!(name("http://h/a/hello.spec"), "hello.spec");
        assert_eq!(name("http://h/a/hello.spec?x=1#y"), "hello.spec");
        assert_eq!(name("http://h/get?pkg=hello"), "package.spec");
        assert_eq!(name("http://h/a/.spec"), "package.spec");
        assert_eq!(name("http://h/a/.."), "package.spec");
        for bad in ["", ".", "..", ".hidden", "-o", "a/b", "a b", "a\nb"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_file_name("hello-1.0.tar.gz"), Ok(()));
    }
}
