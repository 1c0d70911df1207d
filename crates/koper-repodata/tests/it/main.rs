//! Integration tests of koper-repodata: RPMs built at test time with
//! rpmbuild, metadata checked with real dnf and against createrepo_c.

mod crash;
mod equivalence;
mod publish;
mod rpmmd;
mod signing;
mod support;
