//! Test harness shared by koper's integration tests:
//! - source RPMs built at test time from the specs in `fixtures/`, with
//!   real `rpmbuild -bs` ([`build_srpm`]);
//! - the real `koper serve` on `127.0.0.1:0` with a temporary data
//!   directory and its local builder ([`TestServer`]), driven by the real
//!   `koper` CLI;
//! - real `dnf --installroot` against a `.repo` file ([`DnfRoot`]);
//! - a headless Chromium driven through chromedriver ([`Browser`]);
//! - a static file server on loopback for sources fetched by URL
//!   ([`serve_dir`]);
//! - a real OpenID Provider, panva's `oidc-provider` under Node.js
//!   ([`OidcProvider`]).

mod browser;
mod dnf;
mod fixtures;
mod http;
mod oidc;
mod server;

pub use browser::{Browser, free_port};
pub use dnf::DnfRoot;
pub use fixtures::{build_rpms, build_srpm, build_srpm_from_text, fixtures_dir};
pub use http::serve_dir;
pub use oidc::OidcProvider;
pub use server::{TestServer, TestUser};
