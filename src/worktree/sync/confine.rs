//! No escapes: where an entry may be carried from and to. A target is reached component by
//! component inside the new worktree, never through a symlink (the base commit may track
//! `a -> /somewhere` and an entry `a/b` would otherwise create files there); a source is
//! taken only when it resolves inside the main worktree.

use std::path::{Path, PathBuf};

/// Where entry `rel` goes in the worktree `wt`, its missing parent directories created one
/// at a time. `Ok(None)` when the target already exists (tracked content is never
/// clobbered); `Err(note)` when a component on the way is a symlink or not a directory.
pub fn target(wt: &Path, rel: &str) -> Result<Option<PathBuf>, String> {
    let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        return Ok(None);
    };
    let mut at = wt.to_path_buf();
    for part in parents {
        at.push(part);
        match at.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "skipped {rel}: {} in the worktree is a symlink, and nothing is carried \
                     through one",
                    rel_of(wt, &at)
                ))
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "skipped {rel}: {} in the worktree is not a directory",
                    rel_of(wt, &at)
                ))
            }
            Ok(_) => {}
            Err(_) => {
                // create_dir (not _all): it never follows a symlink someone put there since.
                if let Err(e) = std::fs::create_dir(&at) {
                    return Err(format!(
                        "could not carry {rel}: create {}: {e}",
                        at.display()
                    ));
                }
            }
        }
    }
    at.push(last);
    Ok(at.symlink_metadata().is_err().then_some(at))
}

fn rel_of(wt: &Path, p: &Path) -> String {
    p.strip_prefix(wt).unwrap_or(p).display().to_string()
}

/// The resolved source of entry `rel` in the main worktree (canonical `main_canon`):
/// `Ok(None)` when it is missing (skipped silently); `Err(note)` when it resolves outside
/// the main worktree (it or a directory on its way is a symlink leading out).
pub fn source(main_canon: &Path, rel: &str) -> Result<Option<PathBuf>, String> {
    let p = main_canon.join(rel);
    if p.symlink_metadata().is_err() {
        return Ok(None);
    }
    let Ok(resolved) = p.canonicalize() else {
        return Ok(None);
    };
    if !resolved.starts_with(main_canon) {
        return Err(format!(
            "skipped {rel}: in the main worktree it is a symlink leading outside it (to {}); \
             only state inside the main worktree is carried",
            resolved.display()
        ));
    }
    Ok(Some(resolved))
}
