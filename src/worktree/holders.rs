//! Which live processes work inside a directory, read from `/proc` (Linux). Recovery
//! waits for them before undoing (a `git` child of a killed provisioning may still be
//! checking out), and doctor calls a git lock file or a temp file stale only when nobody
//! holds it.
//!
//! A process is inside `path` only by its working directory or an open file lying at
//! `path` or under it, compared component by component (`…/t3.stage-1` is not inside
//! `…/t3`), plus one narrow case for the moment before the directory exists: a `git`
//! process with `path` itself (exactly) as an argument, i.e. the `git worktree add … <path>`
//! a killed provisioning started. Any other command line naming the path is a stranger's
//! and never waited on.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
/// Whether `/proc/<pid>/<link>` points at `path` or under it.
fn link_inside(link: &Path, path: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|t| t.starts_with(path))
}

/// Whether the command line in `cmdline` (NUL-separated, `argv[0]` first) is a `git` run
/// with `path` as one whole argument. The one rule for both platforms: `/proc/<pid>/cmdline`
/// on Linux, `KERN_PROCARGS2`'s arguments on macOS (`platform::holders`).
pub fn git_naming(cmdline: &[u8], path: &Path) -> bool {
    let mut args = cmdline.split(|b| *b == 0);
    let is_git = args
        .next()
        .map(|a0| Path::new(OsStr::from_bytes(a0)))
        .and_then(Path::file_name)
        .is_some_and(|n| n == "git");
    let needle = path.as_os_str().as_bytes();
    is_git && args.any(|a| a == needle)
}

/// Processes other than this one whose working directory or an open file lies at `path`
/// or under it, or that are a `git` naming exactly `path` as an argument.
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
        let busy = link_inside(&dir.join("cwd"), path)
            || std::fs::read_dir(dir.join("fd"))
                .map(|fds| fds.flatten().any(|fd| link_inside(&fd.path(), path)))
                .unwrap_or(false)
            || std::fs::read(dir.join("cmdline")).is_ok_and(|c| git_naming(&c, path));
        if busy {
            found.push(pid);
        }
    }
    found
}

/// Whether process `pid` exists (`kill(pid, 0)`: alive when it succeeds or is refused
/// for permission, which only a live process can be).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// Real processes: one working in a sibling whose name extends the directory's, one
    /// naming the directory on its command line, one inside it and one holding a file
    /// under it open.
    #[test]
    fn only_cwd_open_files_and_gits_own_add_count() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let t3 = root.join("t3");
        let sibling = root.join("t3.stage-1");
        std::fs::create_dir_all(&t3).unwrap();
        std::fs::create_dir_all(&sibling).unwrap();
        std::fs::write(t3.join("f"), "x").unwrap();
        // Each in its own process group, killed whole (the shells' `sleep` children too).
        let spawn = |cmd: &mut Command| cmd.stdin(Stdio::null()).process_group(0).spawn().unwrap();
        let mut strangers = vec![
            spawn(Command::new("sleep").arg("30").current_dir(&sibling)),
            spawn(
                Command::new("sh")
                    .args(["-c", "sleep 30; :", "sh"])
                    .arg(&t3),
            ),
            spawn(
                Command::new("sh")
                    .args(["-c", "sleep 30; :", "sh"])
                    .arg(sibling.join("x")),
            ),
        ];
        let start = Instant::now();
        assert!(
            wait_free(&t3, Duration::from_secs(5)),
            "strangers are not waited on"
        );
        assert!(start.elapsed() < Duration::from_secs(1));
        let mut inside = spawn(Command::new("sleep").arg("30").current_dir(&t3));
        let mut reader = spawn(
            Command::new("sh")
                .args(["-c", "exec 3<\"$1\"; exec sleep 30", "sh"])
                .arg(t3.join("f")),
        );
        thread::sleep(Duration::from_millis(300));
        let h = holders(&t3);
        assert!(h.contains(&inside.id()), "cwd inside: {h:?}");
        assert!(h.contains(&reader.id()), "open file inside: {h:?}");
        for c in &strangers {
            assert!(!h.contains(&c.id()), "stranger {} counted: {h:?}", c.id());
        }
        assert!(!wait_free(&t3, Duration::from_millis(200)));
        for c in strangers.iter_mut().chain([&mut inside, &mut reader]) {
            // SAFETY: kill(2) on the process group this test made.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
        assert!(wait_free(&t3, Duration::from_secs(5)));
    }

    #[test]
    fn a_git_naming_the_exact_path_counts() {
        let p = Path::new("/w/t3");
        assert!(git_naming(b"/usr/bin/git\0worktree\0add\0/w/t3\0", p));
        assert!(!git_naming(
            b"/usr/bin/git\0worktree\0add\0/w/t3.stage-1\0",
            p
        ));
        assert!(!git_naming(b"sleep\0/w/t3\0", p));
    }
}
