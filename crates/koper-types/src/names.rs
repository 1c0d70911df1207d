//! Names that end up in paths, URLs and SQL: validated once at the edge so
//! that `../`, `/` or control characters can never reach the file system.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name was refused. The message is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct NameError {
    /// What kind of name it was ("project name", "user name", ...).
    pub kind: &'static str,
    /// The refused input, for the message.
    pub value: String,
    /// What rule it broke.
    pub reason: &'static str,
}

fn check(
    kind: &'static str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    let fail = |reason| {
        Err(NameError {
            kind,
            value: value.chars().take(120).collect(),
            reason,
        })
    };
    if value.is_empty() {
        return fail("must not be empty");
    }
    if value.len() > max {
        return fail(match max {
            100 => "must be at most 100 characters",
            40 => "must be at most 40 characters",
            _ => "is too long",
        });
    }
    if value.starts_with('.') || value.starts_with('-') {
        return fail("must not start with '.' or '-'");
    }
    if !value.chars().all(allowed) {
        return fail("may contain only letters, digits and . _ + -");
    }
    Ok(())
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
}

macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $parse:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The validated name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                $parse(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                $parse(&s)?;
                Ok(Self(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn parse_user(s: &str) -> Result<(), NameError> {
    check("user name", s, 40, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    })?;
    if s.chars().all(|c| c.is_ascii_digit()) {
        return Err(NameError {
            kind: "user name",
            value: s.into(),
            reason: "must not be only digits",
        });
    }
    Ok(())
}

fn parse_owner(s: &str) -> Result<(), NameError> {
    match s.strip_prefix('@') {
        Some(group) => parse_user(group).map_err(|e| NameError {
            kind: "group name",
            ..e
        }),
        None => parse_user(s),
    }
}

fn parse_project(s: &str) -> Result<(), NameError> {
    check("project name", s, 100, name_char)?;
    if s.chars().all(|c| c.is_ascii_digit()) {
        return Err(NameError {
            kind: "project name",
            value: s.into(),
            reason: "must not be only digits",
        });
    }
    Ok(())
}

fn parse_chroot(s: &str) -> Result<(), NameError> {
    if s == ChrootName::SOURCE_BUILDS {
        return Ok(());
    }
    check("chroot name", s, 100, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '+')
    })?;
    if s.split('-').count() < 3 || s.split('-').any(str::is_empty) {
        return Err(NameError {
            kind: "chroot name",
            value: s.into(),
            reason: "must look like <distribution>-<version>-<arch>",
        });
    }
    Ok(())
}

fn parse_package(s: &str) -> Result<(), NameError> {
    check("package name", s, 200, name_char)
}

validated_name!(
    /// A user name: letters, digits, `.`, `_`, `-`; at most 40 characters.
    UserName,
    parse_user
);
validated_name!(
    /// The owner of a project: a user name or `@group`.
    OwnerName,
    parse_owner
);
validated_name!(
    /// A project name, unique per owner (Copr's rule: `^[\w.+-]+$`, not
    /// only digits), at most 100 characters.
    ProjectName,
    parse_project
);
validated_name!(
    /// A chroot name, `<distribution>-<version>-<arch>` as in Copr
    /// (`fedora-42-x86_64`, `centos-stream-9-aarch64`).
    ChrootName,
    parse_chroot
);
validated_name!(
    /// An RPM package name, as it appears in a result directory name.
    PackageName,
    parse_package
);

impl OwnerName {
    /// Whether this owner is a group (`@name`).
    pub fn is_group(&self) -> bool {
        self.0.starts_with('@')
    }

    /// The group's name without `@`, when a group owns.
    pub fn group(&self) -> Option<&str> {
        self.0.strip_prefix('@')
    }
}

impl From<UserName> for OwnerName {
    fn from(user: UserName) -> Self {
        Self(user.0)
    }
}

impl ChrootName {
    /// The pseudo chroot of source builds (making the source RPM from a
    /// git checkout), named and laid out in the results tree as Copr does:
    /// `results/<owner>/<project>/srpm-builds/<NNNNNNNN>/`. It has no repo.
    pub const SOURCE_BUILDS: &'static str = "srpm-builds";

    /// Whether this is [`ChrootName::SOURCE_BUILDS`].
    pub fn is_source_builds(&self) -> bool {
        self.0 == Self::SOURCE_BUILDS
    }

    /// The architecture: the part after the last dash.
    pub fn arch(&self) -> &str {
        self.0.rsplit_once('-').map_or("", |(_, arch)| arch)
    }

    /// The chroot without its architecture (`fedora-42`), which is what
    /// dnf's copr plugin asks for.
    pub fn name_release(&self) -> &str {
        self.0.rsplit_once('-').map_or(&self.0, |(nr, _)| nr)
    }

    /// The distribution family (`fedora`, `centos-stream`): the name without
    /// its last two dash-separated parts.
    pub fn family(&self) -> &str {
        let nr = self.name_release();
        nr.rsplit_once('-').map_or(nr, |(family, _)| family)
    }

    /// The release part (`42`, `rawhide`, `9`).
    pub fn release(&self) -> &str {
        let nr = self.name_release();
        nr.rsplit_once('-').map_or("", |(_, release)| release)
    }
}

/// `owner/project`, parsed from the form users type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectRef {
    /// Who owns the project.
    pub owner: OwnerName,
    /// The project's name.
    pub name: ProjectName,
}

impl ProjectRef {
    /// Parses `owner/project`, or a bare `project` owned by `default_owner`.
    pub fn parse_with_default(s: &str, default_owner: Option<&str>) -> Result<Self, NameError> {
        match s.split_once('/') {
            Some((owner, name)) => Ok(Self {
                owner: owner.parse()?,
                name: name.parse()?,
            }),
            None => match default_owner {
                Some(owner) => Ok(Self {
                    owner: owner.parse()?,
                    name: s.parse()?,
                }),
                None => Err(NameError {
                    kind: "project",
                    value: s.into(),
                    reason: "must be written OWNER/PROJECT",
                }),
            },
        }
    }
}

impl FromStr for ProjectRef {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::parse_with_default(s, None)
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_that_could_escape_a_path_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            ".hidden",
            "a/b",
            "a b",
            "a\0b",
            "ä",
            "12345",
            "-x",
            &"x".repeat(101),
        ] {
            assert!(bad.parse::<ProjectName>().is_err(), "{bad:?} was accepted");
        }
        for good in ["hello", "gtk2-newness", "kde.unstable", "c++", "a_b", "x1"] {
            assert!(good.parse::<ProjectName>().is_ok(), "{good:?} was refused");
        }
        assert!("x".repeat(100).parse::<ProjectName>().is_ok());
    }

    #[test]
    fn owners_may_be_groups() {
        let owner: OwnerName = "@kde".parse().unwrap();
        assert!(owner.is_group());
        assert!("@".parse::<OwnerName>().is_err());
        assert!("@@x".parse::<OwnerName>().is_err());
        assert!("a/b".parse::<OwnerName>().is_err());
    }

    #[test]
    fn chroot_parts() {
        let c: ChrootName = "centos-stream-9-x86_64".parse().unwrap();
        assert_eq!(c.arch(), "x86_64");
        assert_eq!(c.name_release(), "centos-stream-9");
        assert_eq!(c.family(), "centos-stream");
        assert_eq!(c.release(), "9");
        assert!("fedora".parse::<ChrootName>().is_err());
        assert!("fedora--x86_64".parse::<ChrootName>().is_err());
        assert!("../etc-1-x".parse::<ChrootName>().is_err());
    }

    #[test]
    fn project_refs() {
        let r: ProjectRef = "alice/hello".parse().unwrap();
        assert_eq!(r.to_string(), "alice/hello");
        let r = ProjectRef::parse_with_default("hello", Some("bob")).unwrap();
        assert_eq!(r.owner.as_str(), "bob");
        assert!("hello".parse::<ProjectRef>().is_err());
        assert!("alice/../x".parse::<ProjectRef>().is_err());
    }

    #[test]
    fn deserialising_validates() {
        let ok: ProjectName = serde_json::from_str("\"hello\"").unwrap();
        assert_eq!(ok.as_str(), "hello");
        assert!(serde_json::from_str::<ProjectName>("\"../x\"").is_err());
    }
}
