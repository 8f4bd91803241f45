//! The resolved context of one call: where the okstra home is and how long any lock is
//! waited for. The boundary (a binding export, a CLI command) builds it once from what the
//! caller passed and the environment, and hands it down; nothing below reads `OKSTRA_HOME`
//! or `OKSTRA_LOCK_TIMEOUT_MS` again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::InvalidArg;
use crate::fsio;
use crate::ids;

/// Where one call works and how long it waits for locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    home: PathBuf,
    lock_timeout: Duration,
}

impl Context {
    /// Resolves `home` (else `OKSTRA_HOME`, else `~/.okstra`; validated, absolute) and the
    /// lock bound (else `OKSTRA_LOCK_TIMEOUT_MS`, else 30 s). Fails with `E_INVALID_ARG` for
    /// a relative or malformed home, or when neither `OKSTRA_HOME` nor `HOME` is set.
    pub fn resolve(
        home: Option<&str>,
        lock_timeout_ms: Option<u64>,
    ) -> Result<Context, InvalidArg> {
        Ok(Context {
            home: ids::okstra_home(home)?,
            lock_timeout: fsio::lock_timeout(lock_timeout_ms)?,
        })
    }

    /// A context with both parts given (tests, callers that resolved them already).
    pub fn at(home: PathBuf, lock_timeout: Duration) -> Context {
        Context { home, lock_timeout }
    }

    /// The okstra home (absolute).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `<home>/worktrees`: the registry and every worktree live here.
    pub fn worktrees_root(&self) -> PathBuf {
        self.home.join("worktrees")
    }

    /// How long any lock is waited for.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_once_and_refuses_a_relative_home() {
        let c = Context::resolve(Some("/h"), Some(7)).unwrap();
        assert_eq!(c.home(), Path::new("/h"));
        assert_eq!(c.worktrees_root(), Path::new("/h/worktrees"));
        assert_eq!(c.lock_timeout(), Duration::from_millis(7));
        let e = Context::resolve(Some("rel"), None).unwrap_err();
        assert_eq!(crate::error::Coded::code(&e), "E_INVALID_ARG");
    }
}
