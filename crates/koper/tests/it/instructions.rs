//! A project's instructions: set and changed through koper's CLI, the
//! native API and Copr's APIv3, kept by forks, shown as text on the project
//! page; too long or with control characters, refused with a reason, as a
//! description is.

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr};

fn world() -> World {
    World::configured(
        &["--builders", "0"],
        "signing_key_algorithm = \"ed25519\"\n",
    )
}

fn native_project(world: &World, name: &str) -> Value {
    Client::new()
        .get(format!("{}/api/v1/projects/{name}", world.server.url))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn instructions_go_through_every_interface() {
    let world = world();
    let alice = &world.alice;
    let host = host_chroot();
    let http = Client::new();
    let url = &world.server.url;
    let written = "sudo dnf install notes\nThen run <b>notes</b> & \"enjoy\"";

    // koper create and modify.
    let out = alice
        .run(&[
            "create",
            "alice/notes",
            "--chroot",
            &host,
            "--description",
            "takes notes",
            "--instructions",
            written,
        ])
        .unwrap();
    assert_success(&out);
    let project = native_project(&world, "alice/notes");
    assert_eq!(project["instructions"], written);
    let out = alice
        .run(&[
            "modify",
            "alice/notes",
            "--instructions",
            "  \r\nnow: notes --help\r\n",
        ])
        .unwrap();
    assert_success(&out);
    let project = native_project(&world, "alice/notes");
    assert_eq!(project["instructions"], "now: notes --help");
    assert_eq!(project["description"], "takes notes", "left as it was");
    // Changing something else keeps them.
    assert_success(
        &alice
            .run(&["modify", "alice/notes", "--description", "takes more notes"])
            .unwrap(),
    );
    assert_eq!(
        native_project(&world, "alice/notes")["instructions"],
        "now: notes --help"
    );

    // The project page shows them as text: the markup is escaped.
    assert_success(
        &alice
            .run(&["modify", "alice/notes", "--instructions", written])
            .unwrap(),
    );
    let html = http
        .get(format!("{url}/coprs/alice/notes/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        html.contains("Then run &#60;b&#62;notes&#60;/b&#62;")
            || html.contains("Then run &lt;b&gt;notes&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>notes</b>"), "{html}");

    // A fork takes them along.
    assert_success(&alice.run(&["fork", "alice/notes", "notes-fork"]).unwrap());
    assert_eq!(
        native_project(&world, "alice/notes-fork")["instructions"],
        written
    );

    // Copr's APIv3: add, get, edit.
    let copr = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{url}{path}"))
            .basic_auth("alice", Some(&alice.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap())
    };
    let (status, added) = copr(
        reqwest::Method::POST,
        "/api_3/project/add/alice",
        Some(json!({ "name": "coprnotes", "chroots": [host], "instructions": "from copr-cli" })),
    );
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["instructions"], "from copr-cli");
    let (status, edited) = copr(
        reqwest::Method::PUT,
        "/api_3/project/edit/alice/coprnotes",
        Some(json!({ "instructions": "edited\nover two lines" })),
    );
    assert_eq!(status, 200, "{edited}");
    let (_, got) = copr(
        reqwest::Method::GET,
        "/api_3/project?ownername=alice&projectname=coprnotes",
        None,
    );
    assert_eq!(got["instructions"], "edited\nover two lines");
    let (_, unchanged) = copr(
        reqwest::Method::PUT,
        "/api_3/project/edit/alice/coprnotes",
        Some(json!({ "description": "only this" })),
    );
    assert_eq!(unchanged["instructions"], "edited\nover two lines");

    // Refused: too long, control characters (CLI, native API, Copr).
    let long = "x".repeat(20_001);
    let out = alice
        .run(&["modify", "alice/notes", "--instructions", &long])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("instructions are at most 20000 characters long"),
        "{}",
        stderr(&out)
    );
    let response = http
        .patch(format!("{url}/api/v1/projects/alice/notes"))
        .bearer_auth(&alice.token)
        .json(&json!({ "instructions": "red \u{1b}[31m text" }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().unwrap();
    assert!(text.contains("control characters"), "{text}");
    let (status, refused) = copr(
        reqwest::Method::POST,
        "/api_3/project/add/alice",
        Some(json!({ "name": "badnotes", "chroots": [host], "instructions": "nul\u{0}byte" })),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        native_project(&world, "alice/notes")["instructions"],
        written,
        "a refused change changes nothing"
    );
    let response = http
        .get(format!("{url}/api/v1/projects/alice/badnotes"))
        .send()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        404,
        "a refused project is not made"
    );
}

#[test]
fn a_description_too_long_or_with_control_characters_is_refused() {
    let world = world();
    let alice = &world.alice;
    let host = host_chroot();
    let url = &world.server.url;
    let long = "d".repeat(5_001);

    let out = alice
        .run(&[
            "create",
            "alice/long",
            "--chroot",
            &host,
            "--description",
            &long,
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("a description is at most 5000 characters long"),
        "{}",
        stderr(&out)
    );
    let response = Client::new()
        .get(format!("{url}/api/v1/projects/alice/long"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 404, "no project was made");

    let out = alice
        .run(&[
            "create",
            "alice/kept",
            "--chroot",
            &host,
            "--description",
            " \r\nfine\r\n",
        ])
        .unwrap();
    assert_success(&out);
    assert_eq!(native_project(&world, "alice/kept")["description"], "fine");
    let out = alice
        .run(&["modify", "alice/kept", "--description", &long])
        .unwrap();
    assert_exit(&out, 1);
    let response = Client::new()
        .patch(format!("{url}/api/v1/projects/alice/kept"))
        .bearer_auth(&alice.token)
        .json(&json!({ "description": "bell\u{7}" }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().unwrap();
    assert!(
        text.contains("a description may not contain control characters"),
        "{text}"
    );
    let response = Client::new()
        .put(format!("{url}/api_3/project/edit/alice/kept"))
        .basic_auth("alice", Some(&alice.token))
        .json(&json!({ "description": long }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        native_project(&world, "alice/kept")["description"],
        "fine",
        "refused changes change nothing"
    );
}
