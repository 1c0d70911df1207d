//! What an import refuses besides a broken file: a source RPM without
//! exactly one spec, a version or release rpm could misread, and a
//! License on the instance's deny list (by default, licences that forbid
//! redistribution: a koper publishes everything it builds).

use koper_rpm::SourceRpm;

use crate::error::{Error, Result};

/// The licences refused unless the instance configures its own list.
pub const DEFAULT_LICENSE_DENY_LIST: &[&str] = &[
    "Proprietary",
    "Commercial",
    "Non-distributable",
    "Not distributable",
    "Not redistributable",
    "LicenseRef-Proprietary",
    "LicenseRef-Not-Redistributable",
];

/// Checks `srpm`'s header against the import rules.
pub fn check(srpm: &SourceRpm, license_deny_list: &[String]) -> Result<()> {
    match srpm.spec_files.len() {
        1 => {}
        0 => {
            return Err(Error::bad_request_hint(
                format!("{} holds no spec file", srpm.nvr()),
                "build the source RPM with `rpmbuild -bs NAME.spec`",
            ));
        }
        _ => {
            return Err(Error::bad_request_hint(
                format!(
                    "{} holds several spec files ({}); koper cannot tell which one to build",
                    srpm.nvr(),
                    srpm.spec_files.join(", ")
                ),
                "keep one .spec file in the source RPM",
            ));
        }
    }
    for (what, value) in [("version", &srpm.version), ("release", &srpm.release)] {
        check_evr_part(what, value)?;
    }
    if srpm.license.trim().is_empty() {
        return Err(Error::bad_request_hint(
            format!("{} has no License", srpm.nvr()),
            "set the License: tag in the spec",
        ));
    }
    if let Some(denied) = denied_term(&srpm.license, license_deny_list) {
        return Err(Error::bad_request_hint(
            format!(
                "{} is licensed {:?}; this instance does not build or publish {denied} software",
                srpm.nvr(),
                srpm.license
            ),
            "koper publishes every package it builds; only licences that allow redistribution are accepted here",
        ));
    }
    Ok(())
}

/// A version or release: what rpm accepts without misreading it as a
/// separator or a macro.
fn check_evr_part(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~^".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request_hint(
            format!("{value:?} is not a valid {what}"),
            format!(
                "a {what} has letters, digits and . _ + ~ ^ only, starting with a letter or digit"
            ),
        ))
    }
}

/// The deny-list entry one of `license`'s terms matches (case-insensitive;
/// terms are what `AND`, `OR`, `WITH`, commas and parentheses separate).
fn denied_term<'a>(license: &str, deny: &'a [String]) -> Option<&'a str> {
    let spaced = license.replace(['(', ')', ','], " | ");
    let mut terms = vec![license.trim().to_lowercase()];
    let mut current: Vec<&str> = Vec::new();
    for word in spaced.split_whitespace() {
        if word == "|" || ["and", "or", "with"].contains(&word.to_lowercase().as_str()) {
            if !current.is_empty() {
                terms.push(current.join(" ").to_lowercase());
                current.clear();
            }
        } else {
            current.push(word);
        }
    }
    if !current.is_empty() {
        terms.push(current.join(" ").to_lowercase());
    }
    deny.iter()
        .find(|entry| terms.contains(&entry.trim().to_lowercase()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srpm(version: &str, license: &str, specs: &[&str]) -> SourceRpm {
        SourceRpm {
            name: "hello".parse().unwrap(),
            epoch: None,
            version: version.into(),
            release: "1".into(),
            license: license.into(),
            summary: String::new(),
            url: None,
            spec_files: specs.iter().map(|s| s.to_string()).collect(),
            noarch_only: false,
        }
    }

    fn defaults() -> Vec<String> {
        DEFAULT_LICENSE_DENY_LIST
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn ordinary_packages_pass() {
        for license in ["MIT", "GPL-2.0-or-later AND (MIT OR Apache-2.0)", "LGPLv2+"] {
            assert!(check(&srpm("1.0~rc1^git2", license, &["hello.spec"]), &defaults()).is_ok());
        }
    }

    #[test]
    fn denied_licences_are_found_in_expressions() {
        let deny = defaults();
        for license in [
            "Proprietary",
            "proprietary",
            "MIT AND Proprietary",
            "(MIT OR Not redistributable)",
            "GPL-2.0-only, Commercial",
        ] {
            let err = check(&srpm("1", license, &["x.spec"]), &deny).unwrap_err();
            assert!(
                err.to_string().contains("does not build or publish"),
                "{license}: {err}"
            );
        }
        // An instance may allow them.
        assert!(check(&srpm("1", "Proprietary", &["x.spec"]), &[]).is_ok());
        assert!(denied_term("ProprietaryButNot", &deny).is_none());
    }

    #[test]
    fn versions_specs_and_licences_must_be_there_and_sane() {
        let deny = defaults();
        for version in ["1-2", "%{x}", "", "1 2", ".1", "1/2"] {
            assert!(
                check(&srpm(version, "MIT", &["x.spec"]), &deny).is_err(),
                "{version:?}"
            );
        }
        assert!(check(&srpm("1", "MIT", &[]), &deny).is_err());
        assert!(check(&srpm("1", "MIT", &["a.spec", "b.spec"]), &deny).is_err());
        assert!(check(&srpm("1", " ", &["x.spec"]), &deny).is_err());
    }
}
