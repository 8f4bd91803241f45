//! okstra native core. The modules below are plain Rust, covered by `cargo test`; the
//! `binding` module alone knows Node-API and only converts types and errors.

mod bytescan;
pub mod cli;
pub mod context;
pub mod error;
pub mod fsio;
#[cfg(test)]
mod fuzz;
pub mod git_arg;
pub mod handoff;
pub mod ids;
pub mod integration;
pub mod interrupt;
pub mod key_ref;
pub mod ledger;
pub mod lifecycle;
pub mod plan;
pub mod platform;
pub mod reconcile;
pub mod registry;
pub mod report;
pub mod safe_open;
#[cfg(test)]
mod security_tests;
pub mod task_type;
#[cfg(test)]
mod testutil;
pub mod timing;
pub mod wizard;
pub mod worktree;

// The binding is exercised by the Node tests (`__test__/`). In the unit-test build
// napi-derive registers no exports, so every binding item would be dead code there. Without
// the `napi` feature (the `okstra` executable) there is no binding at all.
#[cfg(all(feature = "napi", not(test)))]
mod binding;
