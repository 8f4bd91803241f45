//! The trash folder `<OKSTRA_HOME>/worktrees/.trash/`: a removed worktree's directory is
//! renamed into it (instant, one `rename(2)` on the same file system) and deleted in the
//! background; whatever a crash left there is deleted by the next end-of-life call.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fsio::{self, io_err, FsError};
use crate::registry::Registry;
use crate::worktree::holders;

/// The trash folder's name inside the worktrees root.
pub const TRASH_DIR: &str = ".trash";

/// The trash folder of a registry.
pub fn dir(reg: &Registry) -> PathBuf {
    reg.root().join(TRASH_DIR)
}

/// A fresh name in the trash for a removal of `key`.
pub fn slot(reg: &Registry, key: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    dir(reg).join(format!(
        "{}-{}-{nanos}",
        crate::ids::stable_hash8(key),
        std::process::id()
    ))
}

/// Moves `path` to `to` (in the trash). `Ok(false)` when the two are on different file
/// systems (`EXDEV`): the caller deletes in place instead.
pub fn move_in(path: &Path, to: &Path) -> Result<bool, FsError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    match std::fs::rename(path, to) {
        Ok(()) => {
            if let Some(parent) = path.parent() {
                let _ = fsio::fsync_dir(parent);
            }
            if let Some(parent) = to.parent() {
                let _ = fsio::fsync_dir(parent);
            }
            Ok(true)
        }
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => Ok(false),
        Err(e) => Err(io_err("rename", path)(e)),
    }
}

/// Deletes `item` in a background process that outlives this one (`sh -c 'rm -rf -- "$1"
/// &'`: the shell exits at once and the `rm` is nobody's child, so no zombie is left in a
/// long-lived Node process). Falls back to deleting here when no shell can start.
pub fn delete_in_background(item: &Path) {
    let started = Command::new("/bin/sh")
        .args([
            "-c",
            "rm -rf -- \"$1\" </dev/null >/dev/null 2>&1 &",
            "okstra-trash",
        ])
        .arg(item)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !started {
        let _ = std::fs::remove_dir_all(item);
    }
}

/// The items in the trash.
pub fn items(reg: &Registry) -> Vec<PathBuf> {
    std::fs::read_dir(dir(reg))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Finishes deletions a crash interrupted: every item no process is deleting (none has an
/// open file or its cwd under it) gets a background deletion. With `wait`, deletes them
/// here instead and returns once the trash is empty.
pub fn finish(reg: &Registry, wait: bool) {
    for item in items(reg) {
        if wait {
            let _ = std::fs::remove_dir_all(&item);
            let _ = std::fs::remove_file(&item);
        } else if holders::holders(&item).is_empty() {
            delete_in_background(&item);
        }
    }
}

/// Bytes a directory tree takes on disk (allocated blocks), without following symlinks or
/// crossing into another file system; hard links count once per tree.
pub fn disk_use(path: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let dev = top.dev();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
            continue;
        }
        total += m.blocks() * 512;
        if m.is_dir() && m.dev() == dev {
            if let Ok(d) = std::fs::read_dir(&p) {
                stack.extend(d.flatten().map(|e| e.path()));
            }
        }
    }
    total
}
