//! `portal-host`: a native runner of a Spin 4 application manifest on wasmtime.
//!
//! It implements the Spin interfaces the portal's components import (HTTP trigger, key-value,
//! variables, outbound HTTP, component dependencies) with Spin's semantics, so the same
//! `spin.toml` and `.wasm` files run here and under `spin up`. It also embeds an S3-compatible
//! endpoint, so a fresh checkout needs no object storage service.

pub mod app;
pub mod backup;
pub mod bindings;
pub mod body;
pub mod build;
pub mod client_tls;
pub mod clock;
pub mod compose;
pub mod dependencies;
pub mod kv;
pub mod manifest;
pub mod objects;
pub mod outbound;
pub mod problem;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod variables;
