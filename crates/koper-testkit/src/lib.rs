//! Test harness shared by koper's integration tests: source RPMs built at
//! test time from the specs in `fixtures/`, with real `rpmbuild -bs`.

mod fixtures;

pub use fixtures::{build_srpm, fixtures_dir};
