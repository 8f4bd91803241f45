//! The one convention every core error follows: a stable machine `code` beside a message
//! that says what happened and what to do. The binding layer turns any [`Coded`] error into
//! a JS `Error` with `err.code`; the CLI prints `{"ok": false, "code", "error"}`.

/// An error with a stable code (`E_…`) that callers can branch on.
pub trait Coded: std::error::Error {
    /// The stable code, e.g. `E_TASK_KEY_ACTIVE`.
    fn code(&self) -> &'static str;
}
