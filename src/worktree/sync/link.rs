//! The shared kinds: symlinked directories and files (one copy of the state for every
//! worktree) and read-only snapshot copies of files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::confine;

/// Where an entry goes, or why it does not: `None` when the source is missing, of the
/// wrong kind, or the target exists; a note when it would escape.
pub fn endpoints(
    main_canon: &Path,
    wt: &Path,
    rel: &str,
    want_dir: Option<bool>,
    notes: &mut Vec<String>,
) -> Option<(PathBuf, PathBuf)> {
    let src = match confine::source(main_canon, rel) {
        Ok(Some(src)) => src,
        Ok(None) => return None,
        Err(note) => {
            notes.push(note);
            return None;
        }
    };
    // A FIFO, socket or device is never opened: reading a FIFO (a `.env` a secrets tool
    // serves) waits for a writer forever, while provisioning holds its locks.
    if let Some(what) = crate::safe_open::special_kind(&src).filter(|w| *w != "a directory") {
        notes.push(format!(
            "skipped {rel}: it is {what} in the main worktree, and only regular files and \
             directories are carried (a FIFO, socket or device is never opened)"
        ));
        return None;
    }
    if want_dir.is_some_and(|d| src.is_dir() != d) {
        return None;
    }
    match confine::target(wt, rel) {
        Ok(Some(dst)) => Some((src, dst)),
        Ok(None) => None,
        Err(note) => {
            notes.push(note);
            None
        }
    }
}

/// Symlinks each entry of `list` (directories when `dirs`, else files) from the main
/// worktree into `wt`; returns the entries linked.
pub fn link_all(
    main_canon: &Path,
    wt: &Path,
    list: &[String],
    dirs: bool,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let mut done = Vec::new();
    for rel in list {
        let Some((src, dst)) = endpoints(main_canon, wt, rel, Some(dirs), notes) else {
            continue;
        };
        match std::os::unix::fs::symlink(&src, &dst) {
            Ok(()) => done.push(rel.clone()),
            Err(e) => notes.push(format!("could not link {rel}: {e}")),
        }
    }
    done
}

/// Copies each file of `list` into `wt` read-only (0444); `" (rw-fallback)"` is appended
/// to an entry whose mode could not be set.
pub fn snapshot_all(
    main_canon: &Path,
    wt: &Path,
    list: &[String],
    notes: &mut Vec<String>,
) -> Vec<String> {
    let mut done = Vec::new();
    for rel in list {
        if main_canon.join(rel).is_dir() {
            notes.push(format!(
                "skipped snapshot {rel}: it is a directory, and a snapshot is a file (list it \
                 as a copy entry instead)"
            ));
            continue;
        }
        let Some((src, dst)) = endpoints(main_canon, wt, rel, Some(false), notes) else {
            continue;
        };
        if let Err(e) = super::copy::check_byte_copy(&src).and_then(|()| std::fs::copy(&src, &dst))
        {
            let _ = std::fs::remove_file(&dst);
            notes.push(format!("could not copy {rel}: {e}"));
            continue;
        }
        match std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o444)) {
            Ok(()) => done.push(rel.clone()),
            Err(_) => done.push(format!("{rel} (rw-fallback)")),
        }
    }
    done
}
