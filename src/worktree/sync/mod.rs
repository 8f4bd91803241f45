//! Shared state carried from the main worktree into a new one: symlinked dirs and files,
//! read-only snapshot copies, and private copy-on-write copies, each list resolved env →
//! project.json → default (plus `.worktreeinclude` for copies). Everything carried is made
//! invisible to git in the new worktree, and nothing is carried through a symlink.
//!
//! - [`resolve`]: which entries (configuration, normalization, dependency-dir rule);
//! - [`include`]: `.worktreeinclude` matching against the paths git ignores;
//! - [`confine`]: no escapes, source and target side;
//! - [`link`]: symlinks and snapshots;
//! - [`copy`]: reflink-or-copy of files and trees, in parallel;
//! - [`exclude`]: the okstra block of `info/exclude`;
//! - [`ignored`]: git's ignore decision for a path, to check nothing carried shows.

mod confine;
pub(crate) mod copy;
mod exclude;
mod ignored;
mod include;
mod link;
mod resolve;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

pub use resolve::{clean_gate_excludes, resolve_sync_entries, SyncEntries};

/// What [`carry`] did; every list holds project-relative entries.
#[derive(Debug, Default)]
pub struct Carried {
    /// Symlinked directories.
    pub linked: Vec<String>,
    /// Symlinked files.
    pub linked_files: Vec<String>,
    /// Read-only copies (`" (rw-fallback)"` appended when the mode could not be set).
    pub snapshots: Vec<String>,
    /// Private copies whose every file shares extents with the source (reflink).
    pub cloned: Vec<String>,
    /// Private copies written byte for byte (no reflink on this filesystem).
    pub copied: Vec<String>,
    /// What was skipped, taken out again or could not be done, and why.
    pub notes: Vec<String>,
}

impl Carried {
    /// `; linked a, b; linked-files .env; …; <notes>` for the provisioning note.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (label, list) in [
            ("linked", &self.linked),
            ("linked-files", &self.linked_files),
            ("snapshot", &self.snapshots),
            ("cloned", &self.cloned),
            ("copied", &self.copied),
        ] {
            if !list.is_empty() {
                s.push_str(&format!("; {label} {}", list.join(", ")));
            }
        }
        for n in &self.notes {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }

    /// Drops `rel` from whichever list holds it.
    fn forget(&mut self, rel: &str) {
        let snap = format!("{rel} (rw-fallback)");
        for list in [
            &mut self.linked,
            &mut self.linked_files,
            &mut self.snapshots,
            &mut self.cloned,
            &mut self.copied,
        ] {
            list.retain(|e| e != rel && *e != snap);
        }
    }
}

/// Copies each entry of `list` into `wt` (copy-on-write where possible).
fn copy_all(
    main_canon: &Path,
    wt: &Path,
    list: &[String],
    out: &mut Carried,
    done: &mut Vec<String>,
) {
    for rel in list {
        let Some((src, dst)) = link::endpoints(main_canon, wt, rel, None, &mut out.notes) else {
            continue;
        };
        match copy::copy_entry(&src, &dst) {
            Ok(c) => {
                if c.skipped_special > 0 {
                    out.notes.push(format!(
                        "{rel}: {} FIFOs, sockets or devices not copied",
                        c.skipped_special
                    ));
                }
                match c.how {
                    copy::How::Cloned => out.cloned.push(rel.clone()),
                    copy::How::Copied => out.copied.push(rel.clone()),
                }
                done.push(rel.clone());
            }
            Err(e) => out.notes.push(format!("could not copy {rel}: {e}")),
        }
    }
}

/// Carries the shared state of the checkout `from` (the main worktree; for a bare
/// repository, the checkout the task was started from, and nothing when it was started from
/// the bare directory itself) of the repository `main` into the new worktree `wt`, right
/// after checkout: resolves the entries, copies, links and snapshots
/// them (never through a symlink, never over an existing path), adds them to the okstra
/// block of the shared `info/exclude`, and takes out again any entry git would still show
/// as untracked (a `.gitignore` negation un-ignores it). Failures of single entries become
/// notes; this never fails. `lock_timeout` bounds the wait for the `info/exclude` lock.
pub fn carry(
    main: &git2::Repository,
    from: Option<&Path>,
    wt: &Path,
    lock_timeout: Duration,
) -> Carried {
    let Some(main_root) = from else {
        return Carried::default();
    };
    let main_canon = main_root
        .canonicalize()
        .unwrap_or_else(|_| main_root.to_path_buf());
    let entries = resolve_sync_entries(&main_canon);
    let mut out = Carried {
        notes: entries.notes.clone(),
        ..Carried::default()
    };
    let mut done: Vec<String> = Vec::new();
    copy_all(&main_canon, wt, &entries.copies, &mut out, &mut done);
    for (list, dirs) in [(&entries.dirs, true), (&entries.files, false)] {
        let linked = link::link_all(&main_canon, wt, list, dirs, &mut out.notes);
        done.extend(linked.iter().cloned());
        if dirs {
            out.linked = linked;
        } else {
            out.linked_files = linked;
        }
    }
    let snaps = link::snapshot_all(&main_canon, wt, &entries.snapshots, &mut out.notes);
    done.extend(
        snaps
            .iter()
            .map(|s| s.trim_end_matches(" (rw-fallback)").to_string()),
    );
    out.snapshots = snaps;
    if let Err(e) = exclude::ensure(main.path(), &done, lock_timeout) {
        out.notes.push(format!(
            "could not add the carried entries to info/exclude: {e}"
        ));
    }
    for rel in ignored::visible(wt, main.path(), &done) {
        let p = wt.join(&rel);
        let removed = match p.symlink_metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => Ok(()),
        };
        out.forget(&rel);
        out.notes.push(match removed {
            Ok(()) => format!(
                "took {rel} out again: git would list it as untracked (the repository's \
                 .gitignore un-ignores it with a `!` pattern) and `git add -A` would commit it"
            ),
            Err(e) => format!("{rel} is visible to git and could not be removed: {e}"),
        });
    }
    out
}
