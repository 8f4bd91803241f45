//! okstra native core. The modules below are plain Rust, covered by `cargo test`; the
//! `binding` module alone knows Node-API and only converts types and errors.

pub mod cli;
pub mod error;
pub mod fsio;
pub mod ids;
pub mod registry;

mod binding;
