//! Who may do what: roles asked for and granted, groups owning projects,
//! and a permission matrix of every state-changing endpoint (native API and
//! Copr's APIv3) against every kind of caller. The matrix also reads the
//! server's route table from its source, so an endpoint added without a row
//! here fails this suite.

use std::path::{Path, PathBuf};

use koper_testkit::TestUser;
use reqwest::Method;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr, stdout};

/// A server without builders (builds stay pending, so cancel and delete
/// can be tried on them) and with quick project keys.
fn world() -> World {
    World::configured(
        &["--builders", "0"],
        "signing_key_algorithm = \"ed25519\"\n",
    )
}

#[test]
fn a_user_asks_for_a_role_and_the_owner_grants_it() {
    let world = world();
    let alice = &world.alice;
    let bob = world.server.add_user("bob").unwrap();
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();

    let out = bob
        .run(&["build", "alice/hello", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);

    // Bob asks; asking is not having.
    let out = bob
        .run(&["request-permissions", "alice/hello", "--builder"])
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("Asked for builder in alice/hello"),
        "{}",
        stdout(&out)
    );
    let out = bob
        .run(&["build", "alice/hello", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);
    // Only those who may grant see the requests.
    let out = bob.run(&["list-permissions", "alice/hello"]).unwrap();
    assert_exit(&out, 7);
    let out = alice.run(&["list-permissions", "alice/hello"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "bob: builder request, admin nothing");

    // Alice grants it: bob builds, but may not change the project.
    let out = alice
        .run(&["edit-permissions", "alice/hello", "--builder", "bob"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["build", "alice/hello", srpm, "--nowait"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["modify", "alice/hello", "--description", "mine now"])
        .unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("bob may not change alice/hello"),
        "{}",
        stderr(&out)
    );

    // Asking again for what one has changes nothing; giving it up does.
    let out = bob
        .run(&["request-permissions", "alice/hello", "--builder"])
        .unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("Nothing changed"), "{}", stdout(&out));
    let out = bob
        .run(&[
            "request-permissions",
            "alice/hello",
            "--builder",
            "--give-up",
        ])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["build", "alice/hello", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);

    // Admins may manage: change settings and grant roles themselves.
    let out = alice
        .run(&["edit-permissions", "alice/hello", "--admin", "bob"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["modify", "alice/hello", "--description", "shared"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&[
            "edit-permissions",
            "alice/hello",
            "--builder",
            "bob=approved",
        ])
        .unwrap();
    assert_success(&out);

    // Refusals name what is wrong and change nothing.
    let out = alice
        .run(&[
            "edit-permissions",
            "alice/hello",
            "--builder",
            "nobody",
            "--admin",
            "bob=nothing",
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("user nobody does not exist"),
        "{}",
        stderr(&out)
    );
    let out = alice
        .run(&["edit-permissions", "alice/hello", "--builder", "bob=maybe"])
        .unwrap();
    assert_exit(&out, 2);
    let out = alice
        .run(&["request-permissions", "alice/hello", "--admin"])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already manages"), "{}", stderr(&out));
    let out = alice
        .run(&["list-permissions", "alice/hello", "--output", "json"])
        .unwrap();
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        listed,
        json!([{ "user": "bob", "builder": "approved", "admin": "approved" }])
    );
}

#[test]
fn groups_own_projects_their_members_build_in_and_their_admins_manage() {
    let world = world();
    let carol = world.server.add_user("carol").unwrap();
    let bob = world.server.add_user("bob").unwrap();
    let dave = world.server.add_user("dave").unwrap();
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();
    let chroot = host_chroot();

    let out = carol.run(&["group", "create", "@kde"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "@kde\n  carol (admin)\n");
    let out = dave.run(&["group", "create", "kde"]).unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("group @kde already exists"),
        "{}",
        stderr(&out)
    );

    // Only the group's admins change its membership.
    let out = dave.run(&["group", "add-member", "@kde", "dave"]).unwrap();
    assert_exit(&out, 7);
    let out = carol.run(&["group", "add-member", "@kde", "bob"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "@kde\n  carol (admin)\n  bob (member)\n");

    // Members create and build in the group's projects; others do not.
    let out = bob
        .run(&["create", "@kde/plasma", "--chroot", &chroot])
        .unwrap();
    assert_success(&out);
    let out = dave
        .run(&["create", "@kde/dolphin", "--chroot", &chroot])
        .unwrap();
    assert_exit(&out, 7);
    let out = bob
        .run(&["build", "@kde/plasma", srpm, "--nowait"])
        .unwrap();
    assert_success(&out);
    let out = dave
        .run(&["build", "@kde/plasma", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);

    // Settings are for the group's admins.
    let out = bob
        .run(&["modify", "@kde/plasma", "--description", "KDE"])
        .unwrap();
    assert_exit(&out, 7);
    let out = carol
        .run(&["modify", "@kde/plasma", "--description", "KDE"])
        .unwrap();
    assert_success(&out);

    // A group keeps an admin; removed members lose the group's projects.
    let out = carol
        .run(&["group", "remove-member", "kde", "carol"])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("last admin"), "{}", stderr(&out));
    let out = carol
        .run(&["group", "remove-member", "kde", "bob"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["build", "@kde/plasma", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);
    let out = dave.run(&["group", "list"]).unwrap();
    assert_eq!(stdout(&out), "@kde\n");
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Anonymous,
    /// A user with no relation to the project.
    Other,
    /// Granted the builder role.
    Builder,
    /// Granted the admin role.
    Admin,
    /// The project's owner, and admin of the matrix's groups.
    Owner,
    /// An administrator of the instance.
    SiteAdmin,
}

const ACTORS: [Actor; 6] = [
    Actor::Anonymous,
    Actor::Other,
    Actor::Builder,
    Actor::Admin,
    Actor::Owner,
    Actor::SiteAdmin,
];

/// What an endpoint asks of its caller.
#[derive(Debug, Clone, Copy)]
enum Needs {
    /// Any signed-in user.
    Login,
    /// The builder role or more.
    Build,
    /// The admin role or more.
    Manage,
    /// Being the owner named (or a site admin).
    Owner,
    /// Administering the group (or being a site admin).
    GroupAdmin,
    /// Nothing: anyone may (signing in and out).
    Anyone,
    /// Administering the instance.
    SiteAdmin,
    /// The webhook secret in the URL, which no caller here has: refused
    /// to everyone, signed in or not.
    WebhookSecret,
}

impl Needs {
    fn allows(self, actor: Actor) -> bool {
        use Actor::*;
        match self {
            Needs::Login => actor != Anonymous,
            Needs::Build => matches!(actor, Builder | Admin | Owner | SiteAdmin),
            Needs::Manage => matches!(actor, Admin | Owner | SiteAdmin),
            Needs::Owner | Needs::GroupAdmin => matches!(actor, Owner | SiteAdmin),
            Needs::Anyone => true,
            Needs::SiteAdmin => actor == SiteAdmin,
            Needs::WebhookSecret => false,
        }
    }
}

/// What one cell of the matrix acts on, made fresh for it.
struct Target {
    /// A project of alice's where `builder` and `admin` hold their roles,
    /// with a package `hello`.
    project: String,
    /// A pending build in it.
    pending: i64,
    /// A canceled build in it.
    ended: i64,
    /// A group alice administers, with `erin` as a member.
    group: String,
    /// A name nothing has yet.
    fresh: String,
}

/// The body of a request.
enum Body {
    Empty,
    Json(Value),
    Srpm,
    /// Copr's multipart: the `json` part, then a file part.
    CoprMultipart(Value, &'static str),
    /// A multipart body with one RPM part (native `rpms`).
    RpmsMultipart,
    /// A web form (url-encoded), sent with the caller's session and CSRF
    /// token.
    WebForm(Vec<(&'static str, String)>),
    /// A web upload form (multipart: CSRF token, these fields, the source
    /// RPM as `srpm`), sent with the caller's session.
    WebUpload(Vec<(&'static str, String)>),
}

/// The password every matrix user signs in to the web pages with.
const WEB_PASSWORD: &str = "matrix password 1";

/// A state-changing endpoint: its method and path as the server's source
/// registers them, what it needs, and how to call it.
struct Endpoint {
    method: &'static str,
    route: &'static str,
    needs: Needs,
    request: fn(&Target) -> (String, Body),
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        // Native API.
        Endpoint {
            method: "POST",
            route: "/api/v1/projects",
            needs: Needs::Owner,
            request: |t| {
                let body = json!({ "owner": "alice", "name": t.fresh, "chroots": [host_chroot()] });
                ("/api/v1/projects".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "PATCH",
            route: "/api/v1/projects/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}", t.project);
                (url, Body::Json(json!({ "description": "changed" })))
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api/v1/projects/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| (format!("/api/v1/projects/alice/{}", t.project), Body::Empty),
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/rpms",
            needs: Needs::Build,
            request: |t| {
                let url = format!(
                    "/api/v1/projects/alice/{}/rpms?chroot={}",
                    t.project,
                    host_chroot()
                );
                (url, Body::RpmsMultipart)
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/quota-requests",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/quota-requests", t.project);
                let body = json!({ "bytes": 10u64 << 30, "reason": "more packages" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api/v1/projects/{owner}/{project}/chroots/{chroot}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!(
                    "/api/v1/projects/alice/{}/chroots/{}",
                    t.project,
                    host_chroot()
                );
                (url, Body::Json(json!({ "additional_packages": ["make"] })))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/builds",
            needs: Needs::Build,
            request: |t| {
                (
                    format!("/api/v1/projects/alice/{}/builds", t.project),
                    Body::Srpm,
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/builds/url",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/builds/url", t.project);
                (
                    url,
                    Body::Json(json!({ "url": "http://127.0.0.1:9/gone.src.rpm" })),
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/builds/scm",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/builds/scm", t.project);
                (
                    url,
                    Body::Json(json!({ "clone_url": "http://127.0.0.1:9/gone.git" })),
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/packages/{name}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/packages/{}", t.project, t.fresh);
                let body = json!({ "source_type": "scm", "clone_url": "http://127.0.0.1:9/x.git" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api/v1/projects/{owner}/{project}/packages/{name}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/packages/hello", t.project);
                let body = json!({ "source_type": "link", "url": "http://127.0.0.1:9/x.src.rpm" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api/v1/projects/{owner}/{project}/packages/{name}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/packages/hello", t.project);
                (url, Body::Empty)
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/packages/{name}/build",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/packages/hello/build", t.project);
                (url, Body::Empty)
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/packages/{name}/reset",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/packages/hello/reset", t.project);
                (url, Body::Empty)
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api/v1/builds/{id}",
            needs: Needs::Build,
            request: |t| (format!("/api/v1/builds/{}", t.ended), Body::Empty),
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/builds/{id}/cancel",
            needs: Needs::Build,
            request: |t| (format!("/api/v1/builds/{}/cancel", t.pending), Body::Empty),
        },
        Endpoint {
            method: "PUT",
            route: "/api/v1/projects/{owner}/{project}/permissions",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/permissions", t.project);
                (
                    url,
                    Body::Json(json!({ "erin": { "builder": "approved" } })),
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/permissions/request",
            needs: Needs::Login,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/permissions/request", t.project);
                (url, Body::Json(json!({ "builder": true })))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/groups",
            needs: Needs::Login,
            request: |t| {
                (
                    "/api/v1/groups".into(),
                    Body::Json(json!({ "name": t.fresh })),
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api/v1/groups/{group}/members/{user}",
            needs: Needs::GroupAdmin,
            request: |t| {
                let url = format!("/api/v1/groups/{}/members/erin", t.group);
                (url, Body::Json(json!({ "admin": true })))
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api/v1/groups/{group}/members/{user}",
            needs: Needs::GroupAdmin,
            request: |t| {
                (
                    format!("/api/v1/groups/{}/members/erin", t.group),
                    Body::Empty,
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/fork",
            needs: Needs::Owner,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/fork", t.project);
                (
                    url,
                    Body::Json(json!({ "owner": "alice", "name": t.fresh })),
                )
            },
        },
        // Copr's APIv3.
        Endpoint {
            method: "POST",
            route: "/api_3/project/fork/{owner}/{project}",
            needs: Needs::Owner,
            request: |t| {
                let url = format!("/api_3/project/fork/alice/{}", t.project);
                (
                    url,
                    Body::Json(json!({ "ownername": "alice", "name": t.fresh })),
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/project/add/{owner}",
            needs: Needs::Owner,
            request: |t| {
                let body = json!({ "name": t.fresh, "chroots": [host_chroot()] });
                (
                    "/api_3/project/add/alice?ownername=alice".into(),
                    Body::Json(body),
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/project/edit/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api_3/project/edit/alice/{}", t.project);
                (url, Body::Json(json!({ "description": "changed" })))
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api_3/project/delete/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api_3/project/delete/alice/{}", t.project);
                (url, Body::Json(json!({ "verify": true })))
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/project/regenerate-repos/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| {
                (
                    format!("/api_3/project/regenerate-repos/alice/{}", t.project),
                    Body::Empty,
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/project/permissions/set/{owner}/{project}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/api_3/project/permissions/set/alice/{}", t.project);
                (
                    url,
                    Body::Json(json!({ "erin": { "builder": "approved" } })),
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/project/permissions/request/{owner}/{project}",
            needs: Needs::Login,
            request: |t| {
                let url = format!("/api_3/project/permissions/request/alice/{}", t.project);
                (url, Body::Json(json!({ "builder": true })))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/build/check-before-build",
            needs: Needs::Build,
            request: |t| {
                let body = json!({ "ownername": "alice", "projectname": t.project, "chroots": [host_chroot()] });
                ("/api_3/build/check-before-build".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/build/create/upload",
            needs: Needs::Build,
            request: |t| {
                let fields = json!({ "ownername": "alice", "projectname": t.project, "chroots": [host_chroot()] });
                (
                    "/api_3/build/create/upload".into(),
                    Body::CoprMultipart(fields, "pkgs"),
                )
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/build/create/url",
            needs: Needs::Build,
            request: |t| {
                let body = json!({
                    "ownername": "alice", "projectname": t.project,
                    "pkgs": "http://127.0.0.1:9/gone.src.rpm", "chroots": [host_chroot()],
                });
                ("/api_3/build/create/url".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api/v1/projects/{owner}/{project}/webhook-secret",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api/v1/projects/alice/{}/webhook-secret", t.project);
                (url, Body::Empty)
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/webhook/generate/{owner}/{project}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api_3/webhook/generate/alice/{}", t.project);
                (url, Body::Empty)
            },
        },
        Endpoint {
            method: "POST",
            route: "/webhooks/{owner}/{project}/{secret}",
            needs: Needs::WebhookSecret,
            request: |t| {
                let url = format!("/webhooks/alice/{}/{}", t.project, "0".repeat(48));
                let body = json!({ "clone_url": "http://127.0.0.1:9/x.git" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/build/create/scm",
            needs: Needs::Build,
            request: |t| {
                let body = json!({
                    "ownername": "alice", "projectname": t.project,
                    "clone_url": "http://127.0.0.1:9/gone.git", "chroots": [host_chroot()],
                });
                ("/api_3/build/create/scm".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/package/add/{owner}/{project}/{package}/{source_type}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api_3/package/add/alice/{}/{}/scm", t.project, t.fresh);
                let body =
                    json!({ "package_name": t.fresh, "clone_url": "http://127.0.0.1:9/x.git" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/package/edit/{owner}/{project}/{package}/{source_type}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api_3/package/edit/alice/{}/hello/scm", t.project);
                let body = json!({ "clone_url": "http://127.0.0.1:9/x.git" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/package/edit/{owner}/{project}/{package}",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/api_3/package/edit/alice/{}/hello", t.project);
                let body = json!({ "clone_url": "http://127.0.0.1:9/x.git" });
                (url, Body::Json(body))
            },
        },
        Endpoint {
            method: "DELETE",
            route: "/api_3/package/delete",
            needs: Needs::Build,
            request: |t| {
                let body = json!({ "ownername": "alice", "projectname": t.project, "package_name": "hello" });
                ("/api_3/package/delete".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/package/reset",
            needs: Needs::Build,
            request: |t| {
                let body = json!({ "ownername": "alice", "projectname": t.project, "package_name": "hello" });
                ("/api_3/package/reset".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/package/build",
            needs: Needs::Build,
            request: |t| {
                let body = json!({ "ownername": "alice", "projectname": t.project, "package_name": "hello" });
                ("/api_3/package/build".into(), Body::Json(body))
            },
        },
        Endpoint {
            method: "POST",
            route: "/api_3/build/create/rpm-upload",
            needs: Needs::Build,
            request: |t| {
                let fields = json!({ "ownername": "alice", "projectname": t.project, "chroot": host_chroot() });
                (
                    "/api_3/build/create/rpm-upload".into(),
                    Body::CoprMultipart(fields, "pkgs"),
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/build/cancel/{id}",
            needs: Needs::Build,
            request: |t| (format!("/api_3/build/cancel/{}", t.pending), Body::Empty),
        },
        Endpoint {
            method: "DELETE",
            route: "/api_3/build/delete/{id}",
            needs: Needs::Build,
            request: |t| (format!("/api_3/build/delete/{}", t.ended), Body::Empty),
        },
        Endpoint {
            method: "DELETE",
            route: "/api_3/build/delete/list",
            needs: Needs::Build,
            request: |t| {
                (
                    "/api_3/build/delete/list".into(),
                    Body::Json(json!({ "builds": [t.ended] })),
                )
            },
        },
        Endpoint {
            method: "PUT",
            route: "/api_3/project-chroot/edit/{owner}/{project}/{chroot}",
            needs: Needs::Manage,
            request: |t| {
                let url = format!(
                    "/api_3/project-chroot/edit/alice/{}/{}",
                    t.project,
                    host_chroot()
                );
                (
                    url,
                    Body::CoprMultipart(json!({ "additional_packages": ["make"] }), ""),
                )
            },
        },
        // Web forms: state-changing pages, with a session and CSRF token.
        Endpoint {
            method: "POST",
            route: "/login",
            needs: Needs::Anyone,
            request: |_| {
                let form = vec![("name", "erin".into()), ("password", WEB_PASSWORD.into())];
                ("/login".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/logout",
            needs: Needs::Anyone,
            request: |_| ("/logout".into(), Body::WebForm(vec![])),
        },
        Endpoint {
            method: "POST",
            route: "/signup",
            needs: Needs::Anyone,
            request: |t| {
                let form = vec![("name", t.fresh.clone()), ("password", WEB_PASSWORD.into())];
                ("/signup".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/new",
            needs: Needs::Owner,
            request: |t| {
                let form = vec![
                    ("owner", "alice".into()),
                    ("name", t.fresh.clone()),
                    ("chroots", host_chroot()),
                    ("listed", "on".into()),
                ];
                ("/coprs/new".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/edit",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/alice/{}/edit", t.project);
                (url, Body::WebForm(settings_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/edit",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/edit", t.group, t.project);
                (url, Body::WebForm(settings_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/new_build",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/alice/{}/new_build", t.project);
                (url, Body::WebUpload(vec![("chroots", host_chroot())]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/new_build",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/new_build", t.group, t.project);
                (url, Body::WebUpload(vec![("chroots", host_chroot())]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/new_build_url",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/alice/{}/new_build_url", t.project);
                (url, Body::WebForm(url_build_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/new_build_url",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/new_build_url", t.group, t.project);
                (url, Body::WebForm(url_build_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/new_build_scm",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/alice/{}/new_build_scm", t.project);
                (url, Body::WebForm(scm_build_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/new_build_scm",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/new_build_scm", t.group, t.project);
                (url, Body::WebForm(scm_build_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/build/{id}/cancel",
            needs: Needs::Build,
            request: |t| {
                let url = format!("/coprs/alice/{}/build/{}/cancel", t.project, t.pending);
                (url, Body::WebForm(vec![]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/build/{id}/cancel",
            needs: Needs::Build,
            request: |t| {
                // A build of another project: refused by this one's roles
                // first, then not found for those who may build here.
                let url = format!(
                    "/coprs/g/{}/{}/build/{}/cancel",
                    t.group, t.project, t.pending
                );
                (url, Body::WebForm(vec![]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/permissions",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/alice/{}/permissions", t.project);
                (url, Body::WebForm(grant_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/permissions",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/permissions", t.group, t.project);
                (url, Body::WebForm(grant_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/permissions/request",
            needs: Needs::Login,
            request: |t| {
                let url = format!("/coprs/alice/{}/permissions/request", t.project);
                (url, Body::WebForm(vec![("builder", "on".into())]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/permissions/request",
            needs: Needs::Login,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/permissions/request", t.group, t.project);
                (url, Body::WebForm(vec![("builder", "on".into())]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/admin/users/{name}/lock",
            needs: Needs::SiteAdmin,
            request: |t| {
                // A name without an account: locking a real one would lock
                // it out of the following cells.
                let url = format!("/admin/users/{}/lock", t.fresh);
                (url, Body::WebForm(vec![]))
            },
        },
        Endpoint {
            method: "POST",
            route: "/admin/users/{name}/moderate",
            needs: Needs::SiteAdmin,
            request: |t| {
                // As for locking: a name without an account.
                let url = format!("/admin/users/{}/moderate", t.fresh);
                let form = vec![("action", "disable".into()), ("reason", "spam".into())];
                (url, Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/admin/projects/moderate",
            needs: Needs::SiteAdmin,
            request: |t| {
                let form = vec![
                    ("project", format!("alice/{}", t.project)),
                    ("action", "hide".into()),
                    ("reason", "spam".into()),
                ];
                ("/admin/projects/moderate".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/admin/quota-requests/{id}",
            needs: Needs::SiteAdmin,
            request: |_| {
                let form = vec![("decision", "deny".into()), ("message", "no".into())];
                ("/admin/quota-requests/999999".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/{owner}/{project}/quota-request",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/alice/{}/quota-request", t.project);
                (url, Body::WebForm(quota_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/coprs/g/{group}/{project}/quota-request",
            needs: Needs::Manage,
            request: |t| {
                let url = format!("/coprs/g/{}/{}/quota-request", t.group, t.project);
                (url, Body::WebForm(quota_form()))
            },
        },
        Endpoint {
            method: "POST",
            route: "/account/tokens",
            needs: Needs::Login,
            request: |_| {
                let form = vec![("label", "matrix".into()), ("days", "30".into())];
                ("/account/tokens".into(), Body::WebForm(form))
            },
        },
        Endpoint {
            method: "POST",
            route: "/account/tokens/{id}/revoke",
            needs: Needs::Login,
            request: |_| {
                (
                    "/account/tokens/999999/revoke".into(),
                    Body::WebForm(vec![]),
                )
            },
        },
    ]
}

fn quota_form() -> Vec<(&'static str, String)> {
    vec![("size", "10GiB".into()), ("reason", "more packages".into())]
}

fn settings_form() -> Vec<(&'static str, String)> {
    vec![
        ("description", "changed on the web".into()),
        ("chroots", host_chroot()),
        ("listed", "on".into()),
        ("retain_older", "0".into()),
    ]
}

fn url_build_form() -> Vec<(&'static str, String)> {
    vec![
        ("chroots", host_chroot()),
        ("url", "http://127.0.0.1:9/gone.src.rpm".into()),
    ]
}

fn scm_build_form() -> Vec<(&'static str, String)> {
    vec![
        ("chroots", host_chroot()),
        ("clone_url", "http://127.0.0.1:9/gone.git".into()),
        ("method", "rpkg".into()),
    ]
}

fn grant_form() -> Vec<(&'static str, String)> {
    vec![("user", "erin".into()), ("builder", "approved".into())]
}

/// The matrix's cast and a way to call the server as each of them.
struct Matrix {
    world: World,
    http: Client,
    /// For web forms: redirects are answers, not to be followed.
    web_http: Client,
    srpm: PathBuf,
    other: TestUser,
    builder: TestUser,
    admin: TestUser,
    site_admin: TestUser,
    cells: usize,
}

impl Matrix {
    fn user(&self, actor: Actor) -> Option<&TestUser> {
        match actor {
            Actor::Anonymous => None,
            Actor::Other => Some(&self.other),
            Actor::Builder => Some(&self.builder),
            Actor::Admin => Some(&self.admin),
            Actor::Owner => Some(&self.world.alice),
            Actor::SiteAdmin => Some(&self.site_admin),
        }
    }

    fn call(&self, actor: Actor, method: &str, url: &str, body: Body) -> (u16, String) {
        match body {
            Body::WebForm(fields) => return self.call_web(actor, url, fields, false),
            Body::WebUpload(fields) => return self.call_web(actor, url, fields, true),
            _ => {}
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request: RequestBuilder = self
            .http
            .request(method, format!("{}{url}", self.world.server.url));
        if let Some(user) = self.user(actor) {
            request = request.basic_auth(&user.name, Some(&user.token));
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Srpm => request.body(std::fs::read(&self.srpm).unwrap()),
            Body::CoprMultipart(fields, file_part) => {
                let mut form = Form::new().text("json", fields.to_string());
                if !file_part.is_empty() {
                    form = form.part(file_part, self.srpm_part());
                }
                request.multipart(form)
            }
            Body::RpmsMultipart => request.multipart(Form::new().part("rpm", self.srpm_part())),
            Body::WebForm(_) | Body::WebUpload(_) => unreachable!("sent by call_web"),
        };
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }

    /// A fresh browser session of `actor` (signed in unless anonymous):
    /// its `Cookie` header and the CSRF token its forms carry.
    fn web_session(&self, actor: Actor) -> (String, String) {
        let base = &self.world.server.url;
        let page = self.web_http.get(format!("{base}/login")).send().unwrap();
        let mut cookies = set_cookies(&page);
        let csrf = csrf_of(&page.text().unwrap());
        let Some(user) = self.user(actor) else {
            return (cookies, csrf);
        };
        let signed_in = self
            .web_http
            .post(format!("{base}/login"))
            .header("cookie", &cookies)
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", user.name.as_str()),
                ("password", WEB_PASSWORD),
            ])
            .send()
            .unwrap();
        assert_eq!(signed_in.status().as_u16(), 303, "{} signs in", user.name);
        cookies = set_cookies(&signed_in);
        let page = self
            .web_http
            .get(format!("{base}/account/tokens"))
            .header("cookie", &cookies)
            .send()
            .unwrap();
        let csrf = csrf_of(&page.text().unwrap());
        (cookies, csrf)
    }

    /// Submits a web form as `actor`. A redirect to the sign-in page is
    /// the web's refusal of an anonymous caller: it counts as 401.
    fn call_web(
        &self,
        actor: Actor,
        url: &str,
        fields: Vec<(&'static str, String)>,
        upload: bool,
    ) -> (u16, String) {
        let (cookies, csrf) = self.web_session(actor);
        let request = self
            .web_http
            .post(format!("{}{url}", self.world.server.url))
            .header("cookie", cookies);
        let request = if upload {
            let mut form = Form::new().text("csrf", csrf);
            for (name, value) in fields {
                form = form.text(name, value);
            }
            request.multipart(form.part("srpm", self.srpm_part()))
        } else {
            let mut form = vec![("csrf", csrf)];
            form.extend(fields);
            request.form(&form)
        };
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let to_sign_in = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"));
        if status == 303 && to_sign_in {
            return (401, "redirected to the sign-in page".into());
        }
        (status, response.text().unwrap_or_default())
    }

    fn srpm_part(&self) -> Part {
        Part::bytes(std::fs::read(&self.srpm).unwrap()).file_name(
            self.srpm
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// A fresh project, builds and group for one cell, made by alice.
    fn target(&mut self) -> Target {
        self.cells += 1;
        let n = self.cells;
        let project = format!("m{n}");
        let as_owner = |method: &str, url: &str, body: Body| {
            let (status, text) = self.call(Actor::Owner, method, url, body);
            assert!(
                (200..300).contains(&status),
                "{method} {url}: {status} {text}"
            );
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
        };
        as_owner(
            "POST",
            "/api/v1/projects",
            Body::Json(json!({ "owner": "alice", "name": project, "chroots": [host_chroot()] })),
        );
        as_owner(
            "PUT",
            &format!("/api/v1/projects/alice/{project}/permissions"),
            Body::Json(json!({
                "carol": { "builder": "approved" },
                "dave": { "admin": "approved" },
            })),
        );
        let builds = format!("/api/v1/projects/alice/{project}/builds");
        let pending = as_owner("POST", &builds, Body::Srpm)["id"]
            .as_i64()
            .unwrap();
        let ended = as_owner("POST", &builds, Body::Srpm)["id"]
            .as_i64()
            .unwrap();
        as_owner(
            "POST",
            &format!("/api/v1/builds/{ended}/cancel"),
            Body::Empty,
        );
        // A package built from a URL nothing answers on (its builds fail
        // at once, harmlessly).
        as_owner(
            "POST",
            &format!("/api/v1/projects/alice/{project}/packages/hello"),
            Body::Json(json!({ "source_type": "link", "url": "http://127.0.0.1:9/x.src.rpm" })),
        );
        let group = format!("g{n}");
        as_owner(
            "POST",
            "/api/v1/groups",
            Body::Json(json!({ "name": group })),
        );
        as_owner(
            "PUT",
            &format!("/api/v1/groups/{group}/members/erin"),
            Body::Json(json!({ "admin": false })),
        );
        // A project of the group, where the same users hold the same roles.
        as_owner(
            "POST",
            "/api/v1/projects",
            Body::Json(
                json!({ "owner": format!("@{group}"), "name": project, "chroots": [host_chroot()] }),
            ),
        );
        as_owner(
            "PUT",
            &format!("/api/v1/projects/@{group}/{project}/permissions"),
            Body::Json(json!({
                "carol": { "builder": "approved" },
                "dave": { "admin": "approved" },
            })),
        );
        Target {
            project,
            pending,
            ended,
            group,
            fresh: format!("new{n}"),
        }
    }
}

#[test]
fn every_state_changing_endpoint_checks_permissions() {
    let world = world();
    let server = &world.server;
    let other = server.add_user("bob").unwrap();
    let builder = server.add_user("carol").unwrap();
    let admin = server.add_user("dave").unwrap();
    server.add_user("erin").unwrap();
    let site_admin = server.add_site_admin("root").unwrap();
    for name in ["alice", "bob", "carol", "dave", "erin", "root"] {
        server.set_password(name, WEB_PASSWORD).unwrap();
    }
    let srpm = world.srpm("hello");
    let mut matrix = Matrix {
        world,
        // A connection per request: the server closes one after refusing
        // an upload it did not read, and a request sent on it again
        // would fail instead of being answered.
        http: Client::builder().pool_max_idle_per_host(0).build().unwrap(),
        web_http: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
        srpm,
        other,
        builder,
        admin,
        site_admin,
        cells: 0,
    };

    let endpoints = endpoints();
    let mut wrong = Vec::new();
    for endpoint in &endpoints {
        for actor in ACTORS {
            let target = matrix.target();
            let (url, body) = (endpoint.request)(&target);
            let (status, text) = matrix.call(actor, endpoint.method, &url, body);
            let denied = status == 401 || status == 403;
            let expected_allowed = endpoint.needs.allows(actor);
            if status >= 500 || denied == expected_allowed {
                wrong.push(format!(
                    "{} {} as {actor:?}: expected {}, got {status} {text}",
                    endpoint.method,
                    endpoint.route,
                    if expected_allowed {
                        "allowed"
                    } else {
                        "denied"
                    },
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "permission matrix:\n{}", wrong.join("\n"));

    // Every state-changing route the server registers has its row.
    let registered = state_changing_routes();
    let covered: Vec<(String, String)> = endpoints
        .iter()
        .map(|e| (e.method.to_owned(), e.route.to_owned()))
        .collect();
    let missing: Vec<_> = registered
        .iter()
        .filter(|(method, route)| {
            !covered
                .iter()
                .any(|(m, r)| r == route && (m == method || copr_alias(route, method, m)))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "state-changing routes without a row in the permission matrix: {missing:?}"
    );
}

/// Copr routes accept a second method for the same operation (PUT and
/// POST, DELETE and POST); one row covers both.
fn copr_alias(route: &str, registered: &str, covered: &str) -> bool {
    route.starts_with("/api_3/") && registered == "POST" && covered != "GET"
}

/// `(METHOD, route)` of every POST, PUT, PATCH and DELETE route in the
/// server's HTTP modules, read from their source. Native API routes get
/// their `/api/v1` prefix; the builder protocol, which authenticates
/// builders and not users, is tested apart.
fn state_changing_routes() -> Vec<(String, String)> {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("../koper-server/src/http");
    let mut files = Vec::new();
    collect_rust_files(&http, &mut files);
    let mut routes = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "builder_api.rs" {
            continue;
        }
        let prefix = if name == "api.rs" || name == "access.rs" || name == "package_api.rs" {
            "/api/v1"
        } else {
            ""
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for (path, handlers) in route_calls(&source) {
            for method in ["post", "put", "patch", "delete"] {
                if calls(&handlers, method) {
                    routes.push((method.to_uppercase(), format!("{prefix}{path}")));
                }
            }
        }
    }
    assert!(
        routes.len() > 20,
        "the route scan found too little: {routes:?}"
    );
    routes
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `(path, handler text)` of each `route("/path", handlers)` or
/// `route(router, "/path", handlers)` call.
fn route_calls(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("route(") {
        rest = &rest[at + "route(".len()..];
        let args = rest.trim_start();
        let args = args.strip_prefix("router,").map_or(args, str::trim_start);
        let Some(args) = args.strip_prefix('"') else {
            continue;
        };
        let Some(end) = args.find('"') else { continue };
        let path = args[..end].to_owned();
        let mut depth = 1;
        let mut handlers = String::new();
        for c in args[end + 1..].chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                break;
            }
            handlers.push(c);
        }
        found.push((path, handlers));
    }
    found
}

/// Whether `text` calls `name(` as a function or method.
fn calls(text: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    text.match_indices(&pattern).any(|(at, _)| {
        text[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// The cookies a response sets, as a `Cookie` header.
fn set_cookies(response: &reqwest::blocking::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The CSRF token of the first form of a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
