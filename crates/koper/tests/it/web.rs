//! The web pages in a real headless Chromium against the real server:
//! signing in, creating a project, uploading a source RPM through the
//! form, following the live log until the build succeeded, the install
//! instructions, API tokens; and what is refused: a wrong password, a form
//! without its CSRF token, too many failed sign-ins; a quota request
//! answered and a project hidden and disabled by an administrator.
//! Screenshots of the main pages are kept under the test target's tmp
//! directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use koper_testkit::Browser;

use crate::common::*;

const PASSWORD: &str = "a long enough password";

fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn page_text(client: &Client) -> String {
    // Waits for the page a click started to load.
    client
        .wait()
        .for_element(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks what `locator` finds and waits until the page it leads to
/// replaced the current one.
async fn click_through(client: &Client, locator: Locator<'_>) {
    let old = client.find(Locator::Css("html")).await.unwrap();
    client.find(locator).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // A replaced page's elements are stale: asking them fails.
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "the click led nowhere");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(client: &Client, url: &str, name: &str, password: &str) {
    client.goto(&format!("{url}/login")).await.unwrap();
    let field = client.find(Locator::Id("name")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(name).await.unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_through(client, Locator::Css("main button[type=submit]")).await;
}

/// Waits (at most `limit`) until `ready` says yes; panics with `what`
/// otherwise.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !ready().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[test]
fn a_packager_builds_and_a_user_finds_the_install_instructions() {
    let world = World::new();
    world.server.set_password("alice", PASSWORD).unwrap();
    let bob = world.server.add_user("bob").unwrap();
    world.server.set_password("bob", PASSWORD).unwrap();
    world.server.add_site_admin("root").unwrap();
    world.server.set_password("root", PASSWORD).unwrap();
    // hello, taking a few seconds to build, so the live log is watched
    // while the build runs however fast the machine is.
    let spec = std::fs::read_to_string(koper_testkit::fixtures_dir().join("hello.spec"))
        .unwrap()
        .replacen(
            "%build\n",
            "%build\necho \"hello is being built\"\nsleep 6\n",
            1,
        );
    assert!(spec.contains("sleep 6"));
    let srpm = koper_testkit::build_srpm_from_text(
        "hello",
        &spec,
        &world.server.scratch("slow-hello").unwrap(),
    )
    .unwrap();
    let url = world.server.url.clone();
    let host = host_chroot();
    runtime().block_on(async {
        let browser = Browser::start(&screenshots_dir()).await.unwrap();
        let client = &browser.client;

        // Home and directory, signed out.
        client.goto(&format!("{url}/")).await.unwrap();
        assert!(page_text(client).await.contains("Recent builds"));
        browser.screenshot("home").await.unwrap();

        // A wrong password is refused on the form, which keeps the name.
        sign_in(client, &url, "alice", "not the password").await;
        let text = page_text(client).await;
        assert!(text.contains("wrong user name or password"), "{text}");
        browser.screenshot("login-refused").await.unwrap();

        // Signing in from a page that needed it comes back to it.
        client.goto(&format!("{url}/coprs/new")).await.unwrap();
        assert!(client.current_url().await.unwrap().path() == "/login");
        client
            .find(Locator::Id("name"))
            .await
            .unwrap()
            .send_keys("alice")
            .await
            .unwrap();
        client
            .find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        click_through(client, Locator::Css("main button[type=submit]")).await;
        assert_eq!(client.current_url().await.unwrap().path(), "/coprs/new");

        // A new project through the form.
        client
            .find(Locator::Id("name"))
            .await
            .unwrap()
            .send_keys("webtools")
            .await
            .unwrap();
        client
            .find(Locator::Id("description"))
            .await
            .unwrap()
            .send_keys("Built from the browser")
            .await
            .unwrap();
        client
            .find(Locator::Css(&format!(
                "input[name=chroots][value=\"{host}\"]"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser.screenshot("new-project").await.unwrap();
        click_through(client, Locator::Css("main button[type=submit]")).await;
        assert_eq!(
            client.current_url().await.unwrap().path(),
            "/coprs/alice/webtools/"
        );

        // A form whose CSRF token is not the session's is refused.
        client
            .goto(&format!("{url}/coprs/alice/webtools/edit"))
            .await
            .unwrap();
        client
            .execute(
                "document.querySelector('main input[name=csrf]').value = 'forged'",
                vec![],
            )
            .await
            .unwrap();
        click_through(client, Locator::Css("main button[type=submit]")).await;
        let text = page_text(client).await;
        assert!(
            text.contains("403") && text.contains("security token"),
            "{text}"
        );
        browser.screenshot("csrf-refused").await.unwrap();

        // Upload the source RPM through the form (with the progress bar's
        // script), then follow the live log on the build page.
        client
            .goto(&format!("{url}/coprs/alice/webtools/new_build"))
            .await
            .unwrap();
        client
            .find(Locator::Id("srpm"))
            .await
            .unwrap()
            .send_keys(srpm.to_str().unwrap())
            .await
            .unwrap();
        browser.screenshot("new-build").await.unwrap();
        click_through(
            client,
            Locator::Css("form[data-upload] button[type=submit]"),
        )
        .await;
        wait_until(Duration::from_secs(60), "the build page", || async {
            client
                .current_url()
                .await
                .is_ok_and(|u| u.path().starts_with("/coprs/alice/webtools/build/"))
        })
        .await;
        let mut log_seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            if let Ok(pre) = client.find(Locator::Css("pre.log")).await
                && let Ok(text) = pre.text().await
                && text.len() > log_seen.len()
            {
                log_seen = text;
            }
            if client
                .find(Locator::Css(".page-head .state-succeeded"))
                .await
                .is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "gave up waiting for the build");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(
            log_seen.contains("hello"),
            "the live log showed nothing while the build ran: {log_seen:?}"
        );
        browser.screenshot("build-succeeded").await.unwrap();

        // The project page: install instructions and repo files.
        client
            .goto(&format!("{url}/coprs/alice/webtools/"))
            .await
            .unwrap();
        let text = page_text(client).await;
        assert!(text.contains("dnf copr enable"), "{text}");
        assert!(text.contains("koper-alice-webtools"), "{text}");
        client
            .find(Locator::Css(&format!(
                "a[href=\"/coprs/alice/webtools/repo/{}/dnf.repo\"]",
                host.trim_end_matches(&format!("-{}", std::env::consts::ARCH))
            )))
            .await
            .unwrap();
        assert!(text.contains("hello 1.0-1"), "{text}");
        browser.screenshot("project").await.unwrap();

        client
            .goto(&format!(
                "{url}/coprs/alice/webtools/builds/?state=succeeded"
            ))
            .await
            .unwrap();
        assert!(page_text(client).await.contains("hello 1.0-1"));
        browser.screenshot("builds").await.unwrap();
        client
            .goto(&format!("{url}/coprs/alice/webtools/builds/?state=failed"))
            .await
            .unwrap();
        assert!(page_text(client).await.contains("No build matches"));

        // The directory finds projects by the packages built in them.
        client.goto(&format!("{url}/coprs/?q=HELLO")).await.unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("alice/webtools") && text.contains("alice/hello"),
            "{text}"
        );
        client.goto(&format!("{url}/coprs/?q=tools")).await.unwrap();
        assert!(page_text(client).await.contains("alice/webtools"));
        let others = client
            .find_all(Locator::Css("a[href=\"/coprs/alice/hello/\"]"))
            .await
            .unwrap();
        assert!(others.is_empty(), "alice/hello matches \"tools\"");
        browser.screenshot("directory").await.unwrap();

        // An API token made on the token page works once copied, and not
        // after it is revoked.
        client.goto(&format!("{url}/account/tokens")).await.unwrap();
        client
            .find(Locator::Id("label"))
            .await
            .unwrap()
            .send_keys("laptop")
            .await
            .unwrap();
        click_through(client, Locator::Css("main form button[type=submit]")).await;
        let token = client
            .find(Locator::Id("new-token"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        browser.screenshot("token-created").await.unwrap();
        let me = |token: String| {
            let url = url.clone();
            async move {
                reqwest::Client::new()
                    .get(format!("{url}/api/v1/me"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(me(token.clone()).await, 200);
        client.goto(&format!("{url}/account/tokens")).await.unwrap();
        assert!(!page_text(client).await.contains(&token), "shown once only");
        click_through(client, Locator::Css("button.danger")).await;
        assert!(page_text(client).await.contains("revoked"));
        assert_eq!(me(token).await, 401);

        // Alice's page lists her projects; the instance page is not hers.
        client.goto(&format!("{url}/coprs/alice/")).await.unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("alice/webtools") && text.contains("alice/hello"),
            "{text}"
        );
        browser.screenshot("user").await.unwrap();
        client.goto(&format!("{url}/admin/")).await.unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("403") && text.contains("not an administrator"),
            "{text}"
        );

        // The pages on a phone-sized screen.
        client
            .goto(&format!("{url}/coprs/alice/webtools/"))
            .await
            .unwrap();
        browser.resize(390, 844).await.unwrap();
        browser.screenshot("project-phone").await.unwrap();
        browser.resize(1280, 900).await.unwrap();

        // Bob asks for the builder role on the permissions page; alice
        // grants it on hers.
        click_through(client, Locator::Css(".topbar button.linkish")).await;
        sign_in(client, &url, "bob", PASSWORD).await;
        client
            .goto(&format!("{url}/coprs/alice/webtools/permissions"))
            .await
            .unwrap();
        client
            .find(Locator::Css("input[name=builder]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        click_through(client, Locator::Css("main form button[type=submit]")).await;
        let text = page_text(client).await;
        assert!(text.contains("Your request was saved"), "{text}");
        click_through(client, Locator::Css(".topbar button.linkish")).await;
        sign_in(client, &url, "alice", PASSWORD).await;
        client
            .goto(&format!("{url}/coprs/alice/webtools/permissions"))
            .await
            .unwrap();
        let builder_role = client
            .find(Locator::Css("select[form=role-bob][name=builder]"))
            .await
            .unwrap();
        assert_eq!(
            builder_role.prop("value").await.unwrap().as_deref(),
            Some("request")
        );
        builder_role.select_by_value("approved").await.unwrap();
        click_through(client, Locator::Css("form#role-bob button")).await;
        let text = page_text(client).await;
        assert!(text.contains("The roles of bob were saved"), "{text}");
        browser.screenshot("permissions").await.unwrap();
        let roles: serde_json::Value = reqwest::Client::new()
            .get(format!("{url}/api/v1/projects/alice/webtools/permissions"))
            .bearer_auth(&world.alice.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            roles,
            serde_json::json!([{ "user": "bob", "builder": "approved", "admin": "nothing" }])
        );

        // Signing out, then too many failed sign-ins lock the account:
        // even its right password is refused until the window passes.
        click_through(client, Locator::Css(".topbar button.linkish")).await;
        assert!(page_text(client).await.contains("Sign in"));
        for _ in 0..5 {
            sign_in(client, &url, "alice", "wrong again").await;
            assert!(
                page_text(client)
                    .await
                    .contains("wrong user name or password")
            );
        }
        sign_in(client, &url, "alice", PASSWORD).await;
        let text = page_text(client).await;
        assert!(text.contains("too many failed sign-ins"), "{text}");
        browser.screenshot("login-rate-limited").await.unwrap();

        // A site administrator sees the queue, the builders and the users.
        sign_in(client, &url, "root", PASSWORD).await;
        client.goto(&format!("{url}/admin/")).await.unwrap();
        let text = page_text(client).await;
        assert!(text.contains("Builders") && text.contains("bob"), "{text}");
        browser.screenshot("admin").await.unwrap();
        // Moderation: bob is locked out of the web pages and the API.
        click_through(client, Locator::Css("button[data-lock=bob]")).await;
        let text = page_text(client).await;
        assert!(text.contains("bob is locked out"), "{text}");
        assert_exit(&bob.run(&["whoami"]).unwrap(), 7);
        client.goto(&format!("{url}/")).await.unwrap();
        assert!(page_text(client).await.contains("hello 1.0-1"));
        browser.screenshot("home-with-builds").await.unwrap();

        // A token past its expiry: the CLI says so and where to get a new one.
        world
            .server
            .sql("UPDATE api_tokens SET expires_on = 1 WHERE user_id = (SELECT id FROM users WHERE name = 'alice')")
            .unwrap();
        let out = world.alice.run(&["whoami"]).unwrap();
        assert_exit(&out, 7);
        assert!(
            stderr(&out).contains("the API token of alice has expired")
                && stderr(&out).contains("/account/tokens"),
            "{}",
            stderr(&out)
        );

        click_through(client, Locator::Css(".topbar button.linkish")).await;
        sign_in(client, &url, "bob", PASSWORD).await;
        let text = page_text(client).await;
        assert!(text.contains("wrong user name or password"), "{text}");

        // Errors are pages in the same look.
        client.goto(&format!("{url}/no/such/page")).await.unwrap();
        assert!(page_text(client).await.contains("Not found"));
        browser.screenshot("not-found").await.unwrap();

        browser.close().await.unwrap();
    });
    eprintln!("screenshots in {}", screenshots_dir().display());
}

/// Types `text` into the field `css` finds, replacing what it held.
async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[test]
fn a_quota_request_is_granted_and_a_project_hidden_and_disabled_by_an_administrator() {
    let world = World::configured(&["--builders", "0"], "");
    world.server.set_password("alice", PASSWORD).unwrap();
    let bob = world.server.add_user("bob").unwrap();
    world.server.set_password("bob", PASSWORD).unwrap();
    world.server.add_site_admin("root").unwrap();
    world.server.set_password("root", PASSWORD).unwrap();
    let url = world.server.url.clone();
    runtime().block_on(async {
        let browser = Browser::start(&screenshots_dir()).await.unwrap();
        let client = &browser.client;
        let sign_out = || async move {
            click_through(client, Locator::Css(".topbar button.linkish")).await;
        };

        // Alice asks for more storage from her project's page.
        sign_in(client, &url, "alice", PASSWORD).await;
        client
            .goto(&format!("{url}/coprs/alice/hello/"))
            .await
            .unwrap();
        client
            .find(Locator::Css("#quota-request-form"))
            .await
            .unwrap();
        client
            .find(Locator::Css("details summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(client, "#quota-size", "5GiB").await;
        fill(client, "#quota-reason", "ISO images for the installer").await;
        click_through(client, Locator::Css("#quota-request-form button")).await;
        let text = page_text(client).await;
        assert!(
            text.contains("Your request for 5.0 GiB (ISO images for the installer) is waiting"),
            "{text}"
        );
        // One open request at a time: the form is gone.
        assert!(
            client
                .find(Locator::Css("#quota-request-form"))
                .await
                .is_err()
        );
        browser.screenshot("quota-request-filed").await.unwrap();
        sign_out().await;

        // The administrator grants 3 GiB instead, then hides and disables
        // the project and disables bob.
        sign_in(client, &url, "root", PASSWORD).await;
        client.goto(&format!("{url}/admin/")).await.unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("alice/hello") && text.contains("ISO images for the installer"),
            "{text}"
        );
        browser.screenshot("admin-quota-requests").await.unwrap();
        fill(client, "input[data-grant-size]", "3GiB").await;
        click_through(client, Locator::Css("button[data-grant]")).await;
        let text = page_text(client).await;
        assert!(
            text.contains("alice/hello now has a quota of its own: 3.0 GiB"),
            "{text}"
        );
        assert!(text.contains("No request is waiting"), "{text}");
        for (action, reason, says) in [
            ("hide", "looks like spam", "alice/hello is hidden"),
            ("disable", "ships malware", "alice/hello is disabled"),
        ] {
            fill(client, "#moderate-name", "alice/hello").await;
            client
                .find(Locator::Css("#moderate-action"))
                .await
                .unwrap()
                .select_by_value(action)
                .await
                .unwrap();
            fill(client, "#moderate-reason", reason).await;
            click_through(client, Locator::Css("#moderate-project button")).await;
            let text = page_text(client).await;
            assert!(text.contains(says), "{text}");
        }
        fill(client, "input[data-disable-reason=bob]", "sends spam").await;
        click_through(client, Locator::Css("button[data-disable-user=bob]")).await;
        let text = page_text(client).await;
        assert!(text.contains("bob is disabled"), "{text}");
        browser.screenshot("admin-moderation").await.unwrap();
        sign_out().await;

        // Alice sees the outcome on her project's page.
        sign_in(client, &url, "alice", PASSWORD).await;
        client
            .goto(&format!("{url}/coprs/alice/hello/"))
            .await
            .unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("was granted: the project's quota is 3.0 GiB"),
            "{text}"
        );
        assert!(
            text.contains("Disabled by the administrators of this instance: ships malware"),
            "{text}"
        );
        assert!(
            text.contains("Hidden by the administrators of this instance: looks like spam"),
            "{text}"
        );
        assert!(text.contains("3.0 GiB"), "{text}");
        assert!(
            client.find(Locator::LinkText("New build")).await.is_err(),
            "a disabled project offers no build"
        );
        browser.screenshot("project-moderated").await.unwrap();
        client.goto(&format!("{url}/coprs/alice/")).await.unwrap();
        let text = page_text(client).await;
        assert!(text.contains("alice/hello disabled"), "{text}");
        sign_out().await;

        // Everyone else is told it is disabled, not why; it is listed
        // nowhere.
        client
            .goto(&format!("{url}/coprs/alice/hello/"))
            .await
            .unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains("alice/hello is disabled by the administrators"),
            "{text}"
        );
        assert!(!text.contains("malware"), "{text}");
        browser.screenshot("project-disabled").await.unwrap();
        client.goto(&format!("{url}/coprs/")).await.unwrap();
        assert!(!page_text(client).await.contains("alice/hello"));

        // Bob cannot sign in, and is told why.
        sign_in(client, &url, "bob", PASSWORD).await;
        let text = page_text(client).await;
        assert!(
            text.contains(
                "the account bob is disabled by the administrators of this instance: sends spam"
            ),
            "{text}"
        );
        browser.screenshot("login-disabled").await.unwrap();
        let out = bob.run(&["whoami"]).unwrap();
        assert_exit(&out, 7);
        assert!(stderr(&out).contains("sends spam"), "{}", stderr(&out));

        browser.close().await.unwrap();
    });
}

#[test]
fn instructions_are_shown_as_written_never_run() {
    let world = World::configured(
        &["--builders", "0"],
        "signing_key_algorithm = \"ed25519\"\n",
    );
    world.server.set_password("alice", PASSWORD).unwrap();
    let url = world.server.url.clone();
    runtime().block_on(async {
        let browser = Browser::start(&screenshots_dir()).await.unwrap();
        let client = &browser.client;
        sign_in(client, &url, "alice", PASSWORD).await;

        // Instructions typed on the settings form, markup and all.
        client
            .goto(&format!("{url}/coprs/alice/hello/edit"))
            .await
            .unwrap();
        let field = client.find(Locator::Id("instructions")).await.unwrap();
        field
            .send_keys(
                "sudo dnf install hello\n<script>window.koperRan = true</script>\n<b>bold?</b>",
            )
            .await
            .unwrap();
        click_through(client, Locator::Css("main button[type=submit]")).await;
        assert!(page_text(client).await.contains("Settings saved."));
        let kept = client
            .find(Locator::Id("instructions"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            kept.starts_with("sudo dnf install hello\n<script>"),
            "{kept:?}"
        );

        // The project page shows them line by line, as text.
        client
            .goto(&format!("{url}/coprs/alice/hello/"))
            .await
            .unwrap();
        let text = page_text(client).await;
        assert!(
            text.contains(
                "sudo dnf install hello\n<script>window.koperRan = true</script>\n<b>bold?</b>"
            ),
            "{text}"
        );
        let ran = client
            .execute("return window.koperRan === true", vec![])
            .await
            .unwrap();
        assert_eq!(ran, serde_json::Value::Bool(false), "the script ran");
        let bold = client.find_all(Locator::Css("main b")).await.unwrap();
        assert!(bold.is_empty(), "markup was rendered");
        browser.screenshot("project-instructions").await.unwrap();
        browser.close().await.unwrap();
    });
}

#[test]
fn a_git_build_from_the_web_form_shows_rpmlint_findings_on_its_page() {
    let world = World::new();
    world.server.set_password("alice", PASSWORD).unwrap();
    // hello.git on loopback, its spec in pkg/ (noarch, no %doc: rpmlint
    // has things to say).
    let clone_url = crate::scm::hello_repo(&world);
    let url = world.server.url.clone();
    runtime().block_on(async {
        let browser = Browser::start(&screenshots_dir()).await.unwrap();
        let client = &browser.client;
        sign_in(client, &url, "alice", PASSWORD).await;

        client
            .goto(&format!("{url}/coprs/alice/hello/new_build"))
            .await
            .unwrap();
        for (id, value) in [
            ("clone_url", clone_url.as_str()),
            ("committish", "v2"),
            ("subdirectory", "pkg"),
            ("spec", "hello.spec"),
        ] {
            client
                .find(Locator::Id(id))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        browser.screenshot("new-build-git").await.unwrap();
        click_through(
            client,
            Locator::Css("form[action$=\"/new_build_scm\"] button[type=submit]"),
        )
        .await;
        wait_until(Duration::from_secs(60), "the build page", || async {
            client
                .current_url()
                .await
                .is_ok_and(|u| u.path().starts_with("/coprs/alice/hello/build/"))
        })
        .await;
        let build_page = client.current_url().await.unwrap();
        // The page reloads itself when the logs end; reloading here too
        // covers the moment before the source RPM exists.
        let deadline = Instant::now() + Duration::from_secs(900);
        while client
            .find(Locator::Css(".page-head .state-succeeded"))
            .await
            .is_err()
        {
            assert!(
                client
                    .find(Locator::Css(".page-head .state-failed"))
                    .await
                    .is_err(),
                "the build failed: {}",
                page_text(client).await
            );
            assert!(Instant::now() < deadline, "gave up waiting for the build");
            tokio::time::sleep(Duration::from_secs(2)).await;
            client.goto(build_page.as_str()).await.unwrap();
        }
        // rpmlint's findings follow the outcome (late logs).
        let mut text = page_text(client).await;
        while !text.contains("rpmlint: ") {
            assert!(Instant::now() < deadline, "no rpmlint findings: {text}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            client.goto(build_page.as_str()).await.unwrap();
            text = page_text(client).await;
        }
        assert!(text.contains("hello 2.0-1"), "{text}");
        let warnings = client
            .find_all(Locator::Css("ul.findings li.finding-warning"))
            .await
            .unwrap();
        assert!(!warnings.is_empty(), "no rpmlint warning shown: {text}");
        let first = warnings[0].text().await.unwrap();
        assert!(first.contains("hello.noarch: W: "), "{first}");
        browser.screenshot("build-rpmlint").await.unwrap();
        browser.close().await.unwrap();
    });
}
