//! Verification tied to a commit: which stage head a `verified` row verified, and whether
//! the stage is still that change.
//!
//! A `verified` row names the head it verified in `head_commit`. Rows written without it
//! (older okstra, the Python helper) verified the head of the stage's last `done` row
//! *before* them in the ledger, which is what a verification run reads. After
//! `git-reconcile` appends a `done` row with a new head (a rebase, an amend), the stage
//! stays verified only if its change is the same: the patch id of its combined diff since
//! its merge base with the base branch (`integration::patch_id`) is equal for the verified
//! head and the current one. Otherwise it must be verified again.

use std::path::Path;

use serde_json::Value;

use super::HandoffError;
use crate::error::{Code, Coded};
use crate::integration;
use crate::ledger::{stage_of, RowView};

/// The stage's last `verified` row: whether its verdict is `accepted`, and the head it
/// verified (`None` when neither the row nor an earlier `done` row names one).
pub(crate) fn last_verified(rows: &[Value], stage: u32) -> Option<(bool, Option<String>)> {
    let mut done_head: Option<String> = None;
    let mut last = None;
    for r in rows {
        let Some(obj) = r.as_object() else { continue };
        if stage_of(obj) != Some(stage) {
            continue;
        }
        let head = || {
            obj.get("head_commit")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(str::to_string)
        };
        match r.status() {
            Some("done") => done_head = head(),
            Some("verified") => {
                let accepted = r
                    .verdict()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("accepted"));
                last = Some((accepted, head().or_else(|| done_head.clone())));
            }
            _ => {}
        }
    }
    last
}

fn short(c: &str) -> &str {
    &c[..c.len().min(12)]
}

/// Why stage `n`, verified at `verified` and now at `current`, must be verified again;
/// `None` when both are one change (same commit, or same patch id against `base`).
pub(crate) fn changed_since(
    repo_dir: &Path,
    n: u32,
    verified: &str,
    current: &str,
    base: &str,
) -> Result<Option<String>, HandoffError> {
    if verified.eq_ignore_ascii_case(current) {
        return Ok(None);
    }
    let before = match integration::patch_id(repo_dir, verified, base) {
        Ok(id) => id,
        Err(e) if e.code() == Code::UnknownRef => {
            return Ok(Some(format!(
                "Stage {n} was verified at {}, which is no longer in the repository, and its \
                 head is now {}: the change cannot be compared, so verify it again.",
                short(verified),
                short(current)
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let now = integration::patch_id(repo_dir, current, base)?;
    if before == now {
        return Ok(None);
    }
    let id = |p: &Option<String>| p.as_deref().map_or("none", short).to_string();
    Ok(Some(format!(
        "Stage {n} changed since it was verified: verified at {}, head now {}, and its change \
         differs (patch-id {} → {}); verify it again.",
        short(verified),
        short(current),
        id(&before),
        id(&now)
    )))
}
