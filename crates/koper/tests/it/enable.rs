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

    // The plugin's hub configuration names the test server.
    let port = world.server.url.rsplit(':').next().unwrap().to_owned();
    let plugins = world.server.scratch("dnf-plugins").unwrap();
    std::fs::create_dir_all(plugins.join("copr.d")).unwrap();
    std::fs::write(
        plugins.join("copr.d/kopertest.conf"),
        format!("[kopertest]\nhostname = 127.0.0.1\nprotocol = http\nport = {port}\n"),
    )
    .unwrap();
    let pluginconf = format!("--setopt=pluginconfpath={}", plugins.display());
    let reposdir = world.server.scratch("plugin-repos").unwrap();
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    let out = root
        .dnf_with_reposdir(
            &reposdir,
            &[
                &pluginconf,
                "copr",
                "enable",
                "kopertest/alice/hello",
                &host,
            ],
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
