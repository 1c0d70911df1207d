//! The client side of koper's native API (`/api/v1/`), and where the
//! client's settings come from.

mod access;
mod api;
mod config;
mod packages;

pub use api::{Client, ClientError, LogChunk};
pub use config::{ClientConfig, ConfigError, ConfigOverrides, ConfigSource};
