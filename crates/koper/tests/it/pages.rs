//! The browsable views: directory, project page, repo packages, package
//! details, Atom feed.

use crate::common::*;

fn get(world: &World, path: &str) -> (u16, String, String) {
    let response = reqwest::blocking::get(format!("{}{path}", world.server.url)).unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.text().unwrap())
}

#[test]
fn projects_repos_and_builds_can_be_browsed() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    let alice = &world.alice;
    assert_success(
        &alice
            .run(&[
                "build",
                "alice/hello",
                world.srpm("hello").to_str().unwrap(),
            ])
            .unwrap(),
    );
    assert_success(
        &alice
            .run(&[
                "create",
                "alice/hidden",
                "--chroot",
                &host_chroot(),
                "--unlisted",
                "--description",
                "not in the directory",
            ])
            .unwrap(),
    );

    // The directory: listed projects, searchable (page, API and CLI).
    let (status, _, html) = get(&world, "/coprs/");
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/coprs/alice/hello/\""), "{html}");
    assert!(!html.contains("alice/hidden"), "{html}");
    let (_, _, html) = get(&world, "/coprs/?q=nothing-like-this");
    assert!(html.contains("No listed project matches"), "{html}");
    let found: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/projects?search=HELLO", world.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["full_name"], "alice/hello");
    let out = alice.run(&["search", "hid"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "");

    // The project page: install instructions, key, storage, builds.
    let (status, _, html) = get(&world, "/coprs/alice/hello/");
    assert_eq!(status, 200);
    let key = koper_sign::PublicKey::from_armored(
        &std::fs::read_to_string(world.results().join("alice/hello/pubkey.gpg")).unwrap(),
    )
    .unwrap();
    assert!(html.contains(&key.fingerprint()), "{html}");
    assert!(html.contains("koper-alice-hello-1-1.noarch.rpm"), "{html}");
    assert!(html.contains("/repo/host-1/dnf.repo"), "{html}");
    assert!(
        html.contains("Storage: ") && html.contains("of 1.0 GiB used"),
        "{html}"
    );
    assert!(
        html.contains("<td>hello 1.0-1</td><td>succeeded</td>"),
        "{html}"
    );

    // The repo's packages, and one package's versions, changelog and files.
    let chroot = host_chroot();
    let (status, _, html) = get(&world, &format!("/coprs/alice/hello/packages/{chroot}/"));
    assert_eq!(status, 200);
    assert!(
        html.contains("<a href=\"hello/\">hello</a></td><td>1.0-1</td>"),
        "{html}"
    );
    assert!(
        html.contains("Says hello, from a koper repository"),
        "{html}"
    );
    let (status, _, html) = get(
        &world,
        &format!("/coprs/alice/hello/packages/{chroot}/hello/"),
    );
    assert_eq!(status, 200);
    assert!(html.contains("First release"), "{html}");
    assert!(
        html.contains("Alice Packager &#60;alice@example.org&#62;"),
        "{html}"
    );
    assert!(html.contains("/usr/bin/hello\n"), "{html}");
    assert!(html.contains("License: MIT"), "{html}");
    let (status, _, _) = get(
        &world,
        &format!("/coprs/alice/hello/packages/{chroot}/nope/"),
    );
    assert_eq!(status, 404);

    // The Atom feed of new builds.
    let (status, kind, xml) = get(&world, "/coprs/alice/hello/feed.atom");
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/atom+xml"), "{kind}");
    assert!(
        xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<title>Build 1: hello 1.0-1 succeeded</title>"),
        "{xml}"
    );
    assert!(xml.contains("00000001-hello/"), "{xml}");
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("the feed is not well-formed XML: {e}\n{xml}"),
        }
    }
}
