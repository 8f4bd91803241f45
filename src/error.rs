//! The one convention every core error follows: a stable machine [`Code`] beside a message
//! that says what happened and what to do. The binding layer turns any [`Coded`] error into
//! a JS `Error` with `err.code`; the CLI prints `{"ok": false, "code", "error"}` and exits
//! with the code's [`ExitClass`].
//!
//! Every code is declared once, in [`code`]; `docs/errors.md` is generated from it. Two
//! failures every module shares have one home here: an unusable argument ([`InvalidArg`])
//! and a failed git operation ([`GitError`]).

pub mod code;
mod git;

pub use code::{Code, ExitClass};
pub use git::{git_err, GitCause, GitError};

/// An error with a stable code (`E_…`) that callers can branch on.
pub trait Coded: std::error::Error {
    /// The stable code, e.g. [`Code::TaskKeyActive`] (`E_TASK_KEY_ACTIVE`).
    fn code(&self) -> Code;

    /// What the error says as data, beside its code and message: each entry becomes a
    /// property of the JS error object and a field of the CLI's JSON error output (e.g.
    /// `reasons` of `E_REMOVE_REFUSED`). `None` for most errors. Keys never replace `code`,
    /// `message`, `ok` or `error`.
    fn data(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }
}

/// An argument that cannot be used as given (`E_INVALID_ARG`), from any door: an id, a path,
/// a number, an option. The message names the argument and says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidArg(pub String);

impl Coded for InvalidArg {
    fn code(&self) -> Code {
        Code::InvalidArg
    }
}

/// An [`InvalidArg`] with message `msg`.
pub fn invalid(msg: impl Into<String>) -> InvalidArg {
    InvalidArg(msg.into())
}
