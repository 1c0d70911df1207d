//! Enabling a project's repository on a dnf host: `koper enable` (with
//! the repos of the projects it depends on) and dnf's own copr plugin.

use koper_testkit::DnfRoot;

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr, stdout};

#[test]
fn koper_enable_brings_the_repos_a_project_depends_on() {
    let world = World::new();
    let alice = &world.alice;
    let host = host_chroot();
    // hello is built in alice/hello; alice/app depends on that project.
    let out = alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let out = alice
        .run(&[
            "create",
            "alice/app",
            "--chroot",
            &host,
            "--repo",
            "copr://alice/hello",
        ])
        .unwrap();
    assert_success(&out);

    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    let reposdir = world.server.scratch("yum.repos.d").unwrap();
    let out = alice
        .run(&[
            "enable",
            "alice/app",
            "host-1",
            "--reposdir",
            reposdir.to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    assert!(stderr(&out).contains("2 repos"), "{}", stderr(&out));
    let file = reposdir.join("_copr:127.0.0.1:alice:app.repo");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("[copr:127.0.0.1:alice:app]\n"), "{text}");
    assert!(
        text.contains("\n[coprdep:127.0.0.1:alice:hello]\n"),
        "{text}"
    );

    // hello is only in the dependency; dnf finds it, signature checked.
    let out = root
        .dnf_with_reposdir(&reposdir, &["install", "hello"])
        .unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());

    let enabled = |root: &DnfRoot| {
        let out = root
            .dnf_with_reposdir(&reposdir, &["repolist", "--enabled"])
            .unwrap();
        assert_success(&out);
        stdout(&out)
    };
    let listed = enabled(&root);
    assert!(
        listed.contains("alice:app") && listed.contains("alice:hello"),
        "{listed}"
    );

    // Disabled, the repos stay written but dnf no longer uses them.
    let out = alice
        .run(&[
            "disable",
            "alice/app",
            "--reposdir",
            reposdir.to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("enabled=1"), "{text}");
    let listed = enabled(&root);
    assert!(!listed.contains("alice"), "{listed}");

    // A chroot the project does not build for: the ones it has are named.
    let out = alice
        .run(&[
            "enable",
            "alice/app",
            "fedora-42",
            "--reposdir",
            reposdir.to_str().unwrap(),
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains(&host), "{}", stderr(&out));
    let out = alice
        .run(&[
            "disable",
            "alice/nothing",
            "--reposdir",
            reposdir.to_str().unwrap(),
        ])
        .unwrap();
    assert_exit(&out, 1);
}

#[test]
fn dnfs_copr_plugin_enables_a_koper_project() {
    let world = World::new();
    let host = host_chroot();
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);

    // Exactly what the project page tells a user to do: the plugin's hub
    // configuration (the test server is plain HTTP), then the command.
    let page = reqwest::blocking::get(format!("{}/coprs/alice/hello/", world.server.url))
        .unwrap()
        .text()
        .unwrap();
    let (config_path, config) = plugin_config_on(&page);
    let plugins = world.server.scratch("dnf-plugins").unwrap();
    std::fs::create_dir_all(plugins.join("copr.d")).unwrap();
    let config_name = config_path.rsplit('/').next().unwrap();
    std::fs::write(plugins.join("copr.d").join(config_name), config).unwrap();
    let pluginconf = format!("--setopt=pluginconfpath={}", plugins.display());
    let enable = pre_on(&page, "enable-cmd");
    let argument = enable
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("sudo dnf copr enable "))
        .unwrap_or_else(|| panic!("no enable command on the page: {enable}"))
        .to_owned();
    assert_eq!(argument, "127.0.0.1/alice/hello");
    let reposdir = world.server.scratch("plugin-repos").unwrap();
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    let out = root
        .dnf_with_reposdir(
            &reposdir,
            &[&pluginconf, "copr", "enable", &argument, &host],
        )
        .unwrap();
    assert_success(&out);
    assert!(
        reposdir.join("_copr:127.0.0.1:alice:hello.repo").is_file(),
        "{}",
        stdout(&out)
    );
    let out = root
        .dnf_with_reposdir(&reposdir, &["install", "hello"])
        .unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());
}

/// The text of `<pre id="ID">` on a page, unescaped.
fn pre_on(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("<pre id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no {id} on the page:\n{page}"));
    let body = &page[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    body.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The `copr.d` file the page's `sudo tee PATH <<'EOF'` command writes.
fn plugin_config_on(page: &str) -> (String, String) {
    let command = pre_on(page, "plugin-config");
    let (first, rest) = command.split_once('\n').unwrap();
    let path = first
        .strip_prefix("sudo tee ")
        .and_then(|p| p.strip_suffix(" <<'EOF'"))
        .unwrap_or_else(|| panic!("not a tee command: {command}"));
    let config = rest.strip_suffix("EOF").unwrap_or(rest);
    (path.to_owned(), config.to_owned())
}
