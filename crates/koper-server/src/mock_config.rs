//! A mock profile that reproduces a project chroot's builds on a
//! packager's machine: the chroot's base packages and repos, the project's
//! repo and those it depends on, its extra buildroot packages, macros and
//! network setting. Self-contained (no `include()` of a system profile),
//! so it means the same on every host.

use std::fmt::Write;

use koper_chroots::{BaseRoot, ChrootDefinition, RepoDefinition};
use koper_db::ProjectRow;

use crate::app::App;
use crate::buildroot;
use crate::error::Result;

/// The profile for `project`'s builds in `chroot`.
pub async fn render(app: &App, project: &ProjectRow, chroot: &ChrootDefinition) -> Result<String> {
    let project_repos = buildroot::build_repos(app, project, chroot).await?;
    let extra = buildroot::extra_packages(app, project, &chroot.name).await?;
    Ok(profile(project, chroot, &project_repos, &extra))
}

fn profile(
    project: &ProjectRow,
    chroot: &ChrootDefinition,
    project_repos: &[RepoDefinition],
    extra_packages: &[String],
) -> String {
    let mut out = String::new();
    let owner = project.owner.as_str().replace('@', "group_");
    let _ = writeln!(
        out,
        "# mock profile for {}/{} in {}; use it with `mock -r FILE --rebuild SRPM`.",
        project.owner, project.name, chroot.name
    );
    let set = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "config_opts[{}] = {}", py_str(key), value);
    };
    set(
        &mut out,
        "root",
        &py_str(&format!("{owner}-{}_{}", project.name, chroot.name)),
    );
    set(&mut out, "target_arch", &py_str(&chroot.arch));
    set(
        &mut out,
        "legal_host_arches",
        &format!("({},)", py_str(&chroot.arch)),
    );
    set(&mut out, "package_manager", &py_str("dnf"));
    let packages = match &chroot.base_root {
        BaseRoot::Dnf {
            releasever,
            packages,
        } => {
            set(&mut out, "releasever", &py_str(releasever));
            packages.clone()
        }
        BaseRoot::Directory { path } => {
            let _ = writeln!(
                out,
                "# koper builds this chroot on the directory tree {} of its builders;\n\
                 # mock makes a root of the usual build packages instead.",
                path.display()
            );
            vec!["@buildsys-build".to_owned()]
        }
    };
    set(
        &mut out,
        "chroot_setup_cmd",
        &py_str(&format!("install {}", packages.join(" "))),
    );
    if !extra_packages.is_empty() {
        set(
            &mut out,
            "chroot_additional_packages",
            &py_str(&extra_packages.join(" ")),
        );
    }
    set(
        &mut out,
        "rpmbuild_networking",
        if project.buildroot.enable_net {
            "True"
        } else {
            "False"
        },
    );
    for (name, value) in &chroot.macros {
        let _ = writeln!(
            out,
            "config_opts['macros'][{}] = {}",
            py_str(&format!("%{name}")),
            py_str(value)
        );
    }
    let _ = writeln!(out, "config_opts['dnf.conf'] = \"\"\"");
    let _ = writeln!(
        out,
        "[main]\nkeepcache=1\nsystem_cachedir=/var/cache/dnf\ndebuglevel=2\nreposdir=/dev/null\n\
         logfile=/var/log/yum.log\nretries=20\nobsoletes=1\ngpgcheck=0\nassumeyes=1\n\
         install_weak_deps=0\nmetadata_expire=0\nbest=1"
    );
    for repo in chroot.repos.iter().chain(project_repos) {
        repo_section(&mut out, repo);
    }
    let _ = writeln!(out, "\"\"\"");
    out
}

fn repo_section(out: &mut String, repo: &RepoDefinition) {
    let _ = writeln!(
        out,
        "\n[{}]\nname={}",
        ini_value(&repo.id),
        ini_value(&repo.id)
    );
    if let Some(url) = &repo.baseurl {
        let _ = writeln!(out, "baseurl={}", ini_value(url));
    }
    if let Some(url) = &repo.metalink {
        let _ = writeln!(out, "metalink={}", ini_value(url));
    }
    if let Some(priority) = repo.priority {
        let _ = writeln!(out, "priority={priority}");
    }
    match &repo.gpgkey {
        Some(key) => {
            let _ = writeln!(out, "gpgcheck=1\ngpgkey={}", ini_value(key));
        }
        None => {
            let _ = writeln!(out, "gpgcheck=0");
        }
    }
    let _ = writeln!(out, "enabled=1\nskip_if_unavailable=False");
}

/// A Python string literal for any text.
fn py_str(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A value inside the triple-quoted dnf.conf: one line, and nothing that
/// could end the Python string (koper's URLs never hold these).
fn ini_value(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
        .replace('"', "%22")
        .replace('\\', "%5C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_strings_are_escaped() {
        assert_eq!(py_str("a'b\\c\nd"), "'a\\'b\\\\c\\nd'");
        assert_eq!(
            ini_value("http://x/\"\"\"\nevil"),
            "http://x/%22%22%22 evil"
        );
    }
}
