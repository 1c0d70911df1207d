//! Signing in with a real OpenID Provider (panva's `oidc-provider` under
//! Node.js, see koper-testkit): in headless Chromium from koper's sign-in
//! page through the provider's own sign-in and consent forms and back,
//! signed in as a new account that then creates a project; and over HTTP,
//! what is refused: a state not this browser's, a replayed code, an
//! id_token for another audience or issuer, expired, with another
//! sign-in's nonce or a signature not the provider's, a name clash with a
//! local account the provider account is not linked to.

use std::collections::BTreeMap;
use std::path::Path;

use fantoccini::{Client, Locator};
use koper_testkit::{Browser, OidcProvider};
use reqwest::Url;
use reqwest::blocking::Response;
use serde_json::json;

use crate::common::{World, host_chroot};

const CLIENT_ID: &str = "koper-test";
const CLIENT_SECRET: &str = "the client secret of koper at the provider";

/// A server whose `[oidc]` provider is a real `oidc-provider`, which
/// knows carol and dave (new here), alice (whose name a local account
/// has) and mallory (whose name koper cannot take).
fn world_with_provider() -> (World, OidcProvider) {
    let port = koper_testkit::free_port().unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), format!("{CLIENT_SECRET}\n")).unwrap();
    let settings = format!(
        "signing_key_algorithm = \"ed25519\"\n\n[oidc]\nname = \"Test ID\"\n\
         issuer = \"{issuer}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret_file = \"{}\"\n",
        secret_file.path().display()
    );
    let world = World::configured(&["--builders", "0"], &settings);
    let provider = OidcProvider::start(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        port,
        &format!("{}/login/oidc/callback", world.server.url),
        CLIENT_ID,
        CLIENT_SECRET,
        &json!({
            "carol": { "sub": "3b6e0c2a-carol", "preferred_username": "carol", "name": "Carol" },
            "dave": { "sub": "77f1d9e0-dave", "preferred_username": "dave" },
            "alice": { "sub": "9d1f5b44-alice", "preferred_username": "alice" },
            "mallory": { "sub": "0c0c0c0c-mallory", "preferred_username": "../etc" },
        }),
    )
    .unwrap();
    assert_eq!(provider.issuer, issuer);
    (world, provider)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn page_text(client: &Client) -> String {
    client
        .wait()
        .for_element(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks and waits until the page it leads to replaced this one.
async fn click_through(client: &Client, locator: Locator<'_>) {
    let old = client.find(Locator::Css("html")).await.unwrap();
    client.find(locator).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while old.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the click led nowhere"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// From koper's sign-in page through the provider's sign-in (`login`) and
/// consent forms, as far as they are asked for.
async fn sign_in_with_provider(client: &Client, browser: &Browser, url: &str, login: &str) {
    client.goto(&format!("{url}/login")).await.unwrap();
    let button = client.find(Locator::Id("oidc-sign-in")).await.unwrap();
    assert_eq!(button.text().await.unwrap(), "Sign in with Test ID");
    click_through(client, Locator::Id("oidc-sign-in")).await;
    for _ in 0..4 {
        if client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(url)
        {
            return;
        }
        if let Ok(field) = client.find(Locator::Css("input[name=login]")).await {
            field.send_keys(login).await.unwrap();
            client
                .find(Locator::Css("input[name=password]"))
                .await
                .unwrap()
                .send_keys("the provider's business")
                .await
                .unwrap();
            browser.screenshot("oidc-provider-login").await.unwrap();
        } else {
            browser.screenshot("oidc-provider-consent").await.unwrap();
        }
        click_through(client, Locator::Css("button[type=submit]")).await;
    }
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(url),
        "the provider did not send the browser back"
    );
}

#[test]
fn a_new_user_signs_in_with_the_provider_and_creates_a_project() {
    let (world, _provider) = world_with_provider();
    let url = world.server.url.clone();
    let host = host_chroot();
    runtime().block_on(async {
        let browser = Browser::start(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"))
            .await
            .unwrap();
        let client = &browser.client;

        // A page that needs an account: signing in with the provider comes
        // back to it, as carol, an account made by this first sign-in.
        client.goto(&format!("{url}/coprs/new")).await.unwrap();
        assert_eq!(client.current_url().await.unwrap().path(), "/login");
        browser.screenshot("oidc-sign-in-page").await.unwrap();
        click_through(client, Locator::Id("oidc-sign-in")).await;
        assert!(
            client
                .current_url()
                .await
                .unwrap()
                .as_str()
                .starts_with(&_provider.issuer),
            "not at the provider"
        );
        for step in 0..2 {
            if step == 0 {
                client
                    .find(Locator::Css("input[name=login]"))
                    .await
                    .unwrap()
                    .send_keys("carol")
                    .await
                    .unwrap();
                client
                    .find(Locator::Css("input[name=password]"))
                    .await
                    .unwrap()
                    .send_keys("the provider's business")
                    .await
                    .unwrap();
                browser.screenshot("oidc-provider-login").await.unwrap();
            } else {
                assert!(page_text(client).await.contains("Continue"));
                browser.screenshot("oidc-provider-consent").await.unwrap();
            }
            click_through(client, Locator::Css("button[type=submit]")).await;
        }
        let here = client.current_url().await.unwrap();
        assert_eq!(here.as_str(), format!("{url}/coprs/new"));
        let text = page_text(client).await;
        assert!(text.contains("carol"), "{text}");

        // carol creates a project, with instructions holding markup.
        client
            .find(Locator::Id("name"))
            .await
            .unwrap()
            .send_keys("carols-tools")
            .await
            .unwrap();
        client
            .find(Locator::Id("instructions"))
            .await
            .unwrap()
            .send_keys("dnf install carols-tools\n<script>window.koperRan = true</script>")
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
        click_through(client, Locator::Css("main button[type=submit]")).await;
        assert_eq!(
            client.current_url().await.unwrap().path(),
            "/coprs/carol/carols-tools/"
        );
        let text = page_text(client).await;
        assert!(
            text.contains("dnf install carols-tools\n<script>window.koperRan = true</script>"),
            "{text}"
        );
        let ran = client
            .execute("return window.koperRan === true", vec![])
            .await
            .unwrap();
        assert_eq!(ran, serde_json::Value::Bool(false), "the script ran");
        browser.screenshot("oidc-user-project").await.unwrap();

        // Signed out and in again: the same account (found by the
        // provider's subject), without the provider asking again.
        click_through(client, Locator::Css(".topbar button.linkish")).await;
        sign_in_with_provider(client, &browser, &url, "carol").await;
        client.goto(&format!("{url}/coprs/carol/")).await.unwrap();
        let text = page_text(client).await;
        assert!(text.contains("carol/carols-tools"), "{text}");
        assert!(text.contains("Sign out"), "{text}");

        // alice exists here with no link to the provider's alice: refused,
        // with a page that says why, and nobody is signed in.
        client.delete_all_cookies().await.unwrap();
        sign_in_with_provider(client, &browser, &url, "alice").await;
        let text = page_text(client).await;
        assert!(
            text.contains("an account named alice already exists here and is not linked"),
            "{text}"
        );
        assert!(!text.contains("Sign out"), "{text}");
        browser.screenshot("oidc-name-taken").await.unwrap();

        browser.close().await.unwrap();
    });
}

/// A browser without a browser: follows redirects itself and keeps the
/// cookies of 127.0.0.1 (koper's and the provider's: cookies do not tell
/// ports apart).
struct Agent {
    http: reqwest::blocking::Client,
    cookies: BTreeMap<String, String>,
}

impl Agent {
    fn new() -> Self {
        Self {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn keep_cookies(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, content) = pair.split_once('=').unwrap();
            let expired = value.to_ascii_lowercase().contains("max-age=0")
                || value
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
            if expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), content.trim().to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&mut self, url: &str) -> Response {
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Starts a sign-in at koper, signs `login` in at the provider and
    /// returns the callback URL the provider sends the browser to, not
    /// yet visited.
    fn consent(&mut self, koper: &str, login: &str) -> Url {
        let callback = format!("{koper}/login/oidc/callback");
        let mut at = Url::parse(&format!("{koper}/login/oidc")).unwrap();
        for _ in 0..20 {
            let response = self.get(at.as_str());
            if response.status().is_redirection() {
                let location = response.headers()["location"].to_str().unwrap();
                at = at.join(location).unwrap();
                if at.as_str().starts_with(&callback) {
                    return at;
                }
                continue;
            }
            assert_eq!(response.status().as_u16(), 200, "at {at}");
            let html = response.text().unwrap();
            let action = attribute_after(&html, "<form", "action");
            let prompt = attribute_after(&html, "name=\"prompt\"", "value");
            let form: Vec<(&str, &str)> = if prompt == "login" {
                vec![("prompt", "login"), ("login", login), ("password", "x")]
            } else {
                vec![("prompt", "consent")]
            };
            let response = self.post_form(at.join(&action).unwrap().as_str(), &form);
            assert!(response.status().is_redirection(), "{at}: {html}");
            at = at
                .join(response.headers()["location"].to_str().unwrap())
                .unwrap();
        }
        panic!("the provider never sent the browser back");
    }
}

/// The value of `name="..."` in the first tag at or after `marker`.
fn attribute_after(html: &str, marker: &str, name: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[start..];
    let at = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    rest[at..at + rest[at..].find('"').unwrap()].replace("&amp;", "&")
}

/// `url` with its `key` parameter replaced.
fn with_param(url: &Url, key: &str, value: &str) -> Url {
    let mut changed = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == key {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// Visits the callback: its status, page, and whether a session came of it.
fn finish(agent: &mut Agent, callback: &Url) -> (u16, String, bool) {
    let response = agent.get(callback.as_str());
    let status = response.status().as_u16();
    let signed_in = response.headers().get_all("set-cookie").iter().any(|c| {
        c.to_str().unwrap().starts_with("koper_session=")
            && !c.to_str().unwrap().starts_with("koper_session=;")
    });
    (status, response.text().unwrap(), signed_in)
}

fn user_exists(world: &World, name: &str) -> bool {
    reqwest::blocking::get(format!("{}/coprs/{name}/", world.server.url))
        .unwrap()
        .status()
        .is_success()
}

#[test]
fn sign_ins_the_provider_did_not_vouch_for_are_refused() {
    let (world, provider) = world_with_provider();
    let koper = world.server.url.clone();

    // The real thing works: dave's first sign-in makes his account.
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "carol");
    let (status, page, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 303, "{page}");
    assert!(signed_in);
    assert!(user_exists(&world, "carol"));

    // A state that is not the one this browser was sent off with.
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "dave");
    let (status, page, signed_in) = finish(&mut agent, &with_param(&callback, "state", "forged"));
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("its state does not match"), "{page}");
    assert!(!signed_in);
    // Another browser's sign-in, finished here (login CSRF): refused too.
    let mut victim = Agent::new();
    victim.get(&format!("{koper}/login"));
    let (status, page, signed_in) = finish(&mut victim, &callback);
    assert_eq!(status, 401, "{page}");
    assert!(!signed_in);
    assert!(!user_exists(&world, "dave"));

    // A replayed code: the same callback again (with the state cookie it
    // had), or the code with a new sign-in's state.
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "carol");
    let state_cookie = agent.cookies["koper_oidc"].clone();
    let (status, _, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 303);
    assert!(signed_in);
    agent.cookies.insert("koper_oidc".into(), state_cookie);
    let (status, page, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("already used"), "{page}");
    assert!(!signed_in);
    let fresh = agent.consent(&koper, "carol");
    let fresh_state = fresh
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let replayed = with_param(&callback, "state", &fresh_state);
    let (status, page, signed_in) = finish(&mut agent, &replayed);
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains("Test ID refused to complete the sign-in: invalid_grant"),
        "{page}"
    );
    assert!(!signed_in);

    // id_tokens the provider's token endpoint was made to alter: each
    // refused, and dave's account is not made.
    for (mode, why) in [
        ("audience", "audience"),
        ("issuer", "issuer"),
        ("expired", "expired"),
        ("nonce", "nonce"),
        ("signature", "signature"),
    ] {
        provider.tamper(mode).unwrap();
        let mut agent = Agent::new();
        let callback = agent.consent(&koper, "dave");
        let (status, page, signed_in) = finish(&mut agent, &callback);
        assert_eq!(status, 401, "{mode}: {page}");
        assert!(
            page.contains("could not be verified") && page.to_lowercase().contains(why),
            "{mode}: {page}"
        );
        assert!(!signed_in, "{mode}");
        assert!(!user_exists(&world, "dave"), "{mode}");
    }
    provider.tamper("none").unwrap();
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "dave");
    let (status, page, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 303, "{page}");
    assert!(signed_in && user_exists(&world, "dave"));

    // A name a local account has, unlinked: refused, not taken over.
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "alice");
    let (status, page, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains(
            "an account named alice already exists here and is not linked to your Test ID account"
        ),
        "{page}"
    );
    assert!(!signed_in);

    // A name koper cannot take.
    let mut agent = Agent::new();
    let callback = agent.consent(&koper, "mallory");
    let (status, page, signed_in) = finish(&mut agent, &callback);
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("cannot name an account here"), "{page}");
    assert!(!signed_in);

    // The provider said no (the user aborted), or the callback is called
    // with nothing.
    let mut agent = Agent::new();
    agent.get(&format!("{koper}/login/oidc"));
    let state = agent.cookies["koper_oidc"].clone();
    let (status, page, _) = finish(
        &mut agent,
        &Url::parse(&format!(
            "{koper}/login/oidc/callback?error=access_denied&error_description=End-User+aborted+interaction&state={state}"
        ))
        .unwrap(),
    );
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains("Test ID did not sign you in: access_denied"),
        "{page}"
    );
    let (status, _, _) = finish(
        &mut agent,
        &Url::parse(&format!("{koper}/login/oidc/callback")).unwrap(),
    );
    assert_eq!(status, 400);
}

#[test]
fn an_instance_without_a_provider_offers_none() {
    let world = World::configured(
        &["--builders", "0"],
        "signing_key_algorithm = \"ed25519\"\n",
    );
    let page = reqwest::blocking::get(format!("{}/login", world.server.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(!page.contains("Sign in with"), "{page}");
    let response = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login/oidc", world.server.url))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
