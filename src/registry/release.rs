//! Releasing registry rows: one key ([`Registry::release`]) or every active row whose
//! directory is gone ([`Registry::prune`]). A released row keeps its directory, branch and
//! base, so the next provision of the key reactivates it; only its branch slot is freed.

use std::path::Path;

use serde_json::Value;

use super::store::Doc;
use super::{EntryStatus, Registry, Result, WorktreeEntry};
use crate::ids::KeyParts;

/// Marks the row of `key` released and frees `branch` in the index when the key owns it
/// (an index entry naming another key is left to that key).
fn release_row(doc: &mut Doc, key: &str, branch: &str) {
    if let Some(row) = doc.tasks_mut().get_mut(key).and_then(Value::as_object_mut) {
        row.insert("status".into(), EntryStatus::Released.as_str().into());
    }
    if doc.branches().get(branch).and_then(Value::as_str) == Some(key) {
        doc.branches_mut().remove(branch);
    }
}

impl Registry {
    /// Marks the entry `released` and frees its branch slot; the directory is kept.
    /// Returns the released entry, or `None` when the key is absent.
    pub fn release(&self, parts: &KeyParts) -> Result<Option<WorktreeEntry>> {
        let key = parts.key();
        self.edit(|canon| {
            let Some(mut row) = canon.row(&key).filter(Value::is_object) else {
                return Ok((None, false));
            };
            row["status"] = EntryStatus::Released.as_str().into();
            let entry = self.put_row(canon, &key, &row)?;
            canon.free_branch(&entry.branch, &key);
            Ok((Some(entry), true))
        })
    }

    /// Releases active entries whose worktree directory is gone. With `dry_run` (the
    /// default everywhere it is exposed) nothing is written; the result is what would be
    /// (or was) released.
    pub fn prune(&self, dry_run: bool) -> Result<Vec<WorktreeEntry>> {
        self.modify(|doc| {
            let gone: Vec<WorktreeEntry> = self
                .entries(doc)?
                .into_iter()
                .filter(|e| e.is_active() && !Path::new(&e.worktree_path).exists())
                .collect();
            if dry_run || gone.is_empty() {
                return Ok((gone, false));
            }
            let released = gone
                .into_iter()
                .map(|e| {
                    release_row(doc, &e.task_key, &e.branch);
                    WorktreeEntry {
                        status: EntryStatus::Released,
                        ..e
                    }
                })
                .collect();
            Ok((released, true))
        })
    }
}
