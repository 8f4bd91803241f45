//! Which live processes work inside a directory, name it on their command line, or hold a
//! file under it open, read from `/proc`
//! (Linux). Recovery waits for them before undoing (a `git` child of a killed provisioning
//! may still be checking out), and doctor calls a git lock file stale only when nobody
//! holds it.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// Processes other than this one whose working directory lies under `path`, whose command
/// line names `path` (a `git worktree add … <path>`), or that hold a file under `path` open.
#[cfg(target_os = "linux")]
pub fn holders(path: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let dir = p.path();
        let inside = |link: &Path| std::fs::read_link(link).is_ok_and(|t| t.starts_with(path));
        let needle = path.as_os_str().as_encoded_bytes();
        let named = std::fs::read(dir.join("cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg.starts_with(needle)));
        let busy = named
            || inside(&dir.join("cwd"))
            || std::fs::read_dir(dir.join("fd"))
                .map(|fds| fds.flatten().any(|fd| inside(&fd.path())))
                .unwrap_or(false);
        if busy {
            found.push(pid);
        }
    }
    found
}

/// macOS: the same answer from `proc_pidinfo` (`platform::holders`).
#[cfg(target_os = "macos")]
pub use crate::platform::holders;

/// Waits (at most `bound`) until no other process works under `path`; returns whether it
/// is free.
pub fn wait_free(path: &Path, bound: Duration) -> bool {
    let start = Instant::now();
    loop {
        if holders(path).is_empty() {
            return true;
        }
        if start.elapsed() >= bound {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
