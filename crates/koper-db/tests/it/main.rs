//! Database tests: every test runs against a fresh SQLite file and a fresh
//! PostgreSQL database, so both backends keep the same behaviour.

mod harness;
mod locks;
mod moderation;
mod oidc;
mod projects;
mod queue;
mod roles;
mod sources;
mod storage;
mod summaries;
mod tasks;
mod users;
