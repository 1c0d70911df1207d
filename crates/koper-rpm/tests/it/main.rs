//! Integration tests of koper-rpm against RPMs built at test time with
//! rpmbuild.

mod fixtures;
mod inspect;
