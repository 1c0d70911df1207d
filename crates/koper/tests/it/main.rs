//! End-to-end tests: the real `koper serve` on 127.0.0.1:0 with its local
//! builder (real rpmbuild in a real bubblewrap sandbox), driven by the real
//! `koper` CLI, with the results installed by real dnf.

mod bad_input;
mod buildroots;
mod builds;
mod capabilities;
mod common;
mod copr_cli;
mod createrepo;
mod enable;
mod end_to_end;
mod faults;
mod fleet;
mod forks;
mod hostile;
mod instructions;
mod koper_cli;
mod leases;
mod moderation;
mod noarch;
mod oidc;
mod pages;
mod permissions;
mod prebuilt;
mod queue;
mod release;
mod repos;
mod scm;
mod server_faults;
mod signing;
mod sources;
mod storage;
mod web;
