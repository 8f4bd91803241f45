//! Interruption by SIGINT / SIGTERM, as a flag that long multi-step operations poll.
//!
//! The CLI (`runCli`, whichever process hosts it: Node or a native executable) installs
//! [`SignalScope`] for the duration of one command. A signal then only sets a flag; the
//! step that is running (a checkout, a `git` child) finishes, the next
//! [`check`] returns [`Interrupted`], and the operation's rollback guard undoes what it
//! made before the command returns (exit code 130). Nothing is ever left half-way by the
//! signal itself. Outside a scope (the JS API) signals keep their usual meaning.
//!
//! The one policy every command follows (docs/security.md): a signal during a lock wait
//! ([`crate::fsio::LockGuard`] polls the flag) or a read ([`crate::safe_open`] polls it
//! between chunks) ends the command with `E_INTERRUPTED` (exit 130) before it changed
//! anything — a lock taken after the signal is released unused; once a command holds its
//! locks, its write (an atomic replace, a ledger append) finishes and the command
//! completes, or, for provisioning's multi-step change, the rollback guard undoes it.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// The signal received inside the current scope (0 = none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// How many [`SignalScope`]s are alive: only the outermost installs and restores handlers
/// (the native executable holds one for its whole life, `cli::run` one per command).
static DEPTH: AtomicUsize = AtomicUsize::new(0);

/// An operation stopped because SIGINT or SIGTERM arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "interrupted by {} before it finished; everything this call had made was undone, so \
     running the same command again starts cleanly",
    signal_name(*signal)
)]
pub struct Interrupted {
    pub signal: i32,
}

impl crate::error::Coded for Interrupted {
    fn code(&self) -> crate::error::Code {
        crate::error::Code::Interrupted
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic store.
    RECEIVED.store(sig, Ordering::SeqCst);
}

thread_local! {
    /// How many [`Finishing`] guards this thread holds.
    static FINISHING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `Err(Interrupted)` once SIGINT or SIGTERM arrived inside a [`SignalScope`] — unless this
/// thread is [`finishing`] a change it began.
pub fn check() -> Result<(), Interrupted> {
    if FINISHING.with(|f| f.get()) > 0 {
        return Ok(());
    }
    match RECEIVED.load(Ordering::SeqCst) {
        0 => Ok(()),
        signal => Err(Interrupted { signal }),
    }
}

/// While alive, [`check`] on this thread passes: a command that has begun a change of
/// several writes (each taking its own lock) finishes all of them instead of stopping
/// half-way; the signal is still seen by whatever checks after the guard is dropped.
pub struct Finishing(());

/// Starts a [`Finishing`] section.
pub fn finishing() -> Finishing {
    FINISHING.with(|f| f.set(f.get() + 1));
    Finishing(())
}

impl Drop for Finishing {
    fn drop(&mut self) {
        FINISHING.with(|f| f.set(f.get().saturating_sub(1)));
    }
}

/// While alive, SIGINT and SIGTERM set the flag [`check`] reads instead of ending the
/// process; dropping it restores the previous handlers.
pub struct SignalScope {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalScope {
    /// Installs the flag-setting handlers for SIGINT and SIGTERM; inside another scope it
    /// only nests (the outer scope's handlers and flag stay).
    pub fn install() -> SignalScope {
        let mut old = Vec::new();
        if DEPTH.fetch_add(1, Ordering::SeqCst) > 0 {
            return SignalScope { old };
        }
        RECEIVED.store(0, Ordering::SeqCst);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the
            // handler only performs an atomic store; `prev` receives the old action, which
            // Drop puts back.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &act, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        SignalScope { old }
    }

    /// The signal received while the scope was alive, if any.
    pub fn received(&self) -> Option<i32> {
        check().err().map(|i| i.signal)
    }
}

impl Drop for SignalScope {
    fn drop(&mut self) {
        if DEPTH.fetch_sub(1, Ordering::SeqCst) > 1 {
            return;
        }
        for (sig, prev) in &self.old {
            // SAFETY: restores the action saved by `install`.
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
        RECEIVED.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signal inside a scope is seen by `check`, except inside a `finishing` section. In
    /// a child process: the flag is the process's, and the other tests run `cli::run`.
    #[test]
    fn finishing_lets_a_begun_change_complete() {
        crate::testutil::run_with_env!(
            finishing_lets_a_begun_change_complete,
            "OKSTRA_TEST_RAISES_SIGTERM" => "1"
        );
        let _scope = SignalScope::install();
        // SAFETY: raise delivers SIGTERM to this thread; the scope's handler sets the flag.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert_eq!(
            check(),
            Err(Interrupted {
                signal: libc::SIGTERM
            })
        );
        {
            let _f = finishing();
            assert_eq!(check(), Ok(()));
        }
        assert!(check().is_err());
    }
}
