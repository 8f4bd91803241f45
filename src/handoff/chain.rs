//! What of an earlier run's collector branch a re-run of `assemble` keeps: the collector's
//! own commits are okstra's merge commits on a first-parent chain from the implementation
//! base. They are kept, oldest first, while each merged the same stage head the new run
//! would merge next; from the first that differs (a stage rebased, re-recorded or dropped)
//! the chain is rebuilt, so no replaced merge, and no rebased stage's old commits, stay on
//! the branch. A branch holding any other commit is refused rather than rewritten.

use std::path::Path;

use git2::{Oid, Repository};

use super::merge::{Engine, Item, Made, MARKER};
use super::{HandoffError, MergeRecord};

/// How a run continues: kept merges, the commit to merge on from, the first item left to
/// merge, and the earlier merges the rebuild drops.
pub(crate) struct Plan {
    pub kept: Vec<Made>,
    pub start: String,
    pub next: usize,
    pub dropped: Vec<MergeRecord>,
}

/// One okstra merge found on the old branch.
struct Old {
    merge: String,
    stage: u32,
    commit: String,
}

/// The plan for merging `items` onto `base`, reusing the merges of `old_tip` (the tip of the
/// existing collector's branch, checked out at the path given with it) where they still hold. Errors: `E_COLLECTOR_CHANGED` when the branch
/// carries commits that are neither okstra's merges nor contained in `base`.
pub(crate) fn plan(
    repo: &Repository,
    engine: &Engine,
    old_tip: Option<(&str, &Path)>,
    base: &str,
    items: &[Item<'_>],
) -> Result<Plan, HandoffError> {
    let fresh = Plan {
        kept: Vec::new(),
        start: base.to_string(),
        next: 0,
        dropped: Vec::new(),
    };
    let Some((old_tip, collector)) = old_tip else {
        return Ok(fresh);
    };
    let (old, stop) = okstra_merges(repo, old_tip);
    if stop != base && !engine.is_ancestor(&stop, base)? {
        let summary = Oid::from_str(&stop)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
            .and_then(|c| {
                c.summary_bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            })
            .unwrap_or_default();
        return Err(HandoffError::CollectorChanged {
            path: collector.to_path_buf(),
            what: format!(
                "its branch holds commit {stop} ({summary:?}), which is neither an okstra \
                 merge nor in the implementation base {base}; move it to a stage branch"
            ),
        });
    }
    let dropped = |from: usize| -> Vec<MergeRecord> {
        old[from..]
            .iter()
            .map(|o| MergeRecord {
                stage: o.stage,
                commit: o.commit.clone(),
                merge_commit: o.merge.clone(),
            })
            .collect()
    };
    if stop != base {
        // The implementation base was re-pinned: everything is merged again.
        return Ok(Plan {
            dropped: dropped(0),
            ..fresh
        });
    }
    let mut cur = base.to_string();
    let mut kept = Vec::new();
    let mut j = 0;
    let mut next = 0;
    for item in items {
        if engine.is_ancestor(&item.commit, &cur)? {
            kept.push(Made {
                stage: item.stage,
                commit: item.commit.clone(),
                merge: None,
            });
        } else if old
            .get(j)
            .is_some_and(|o| o.commit == item.commit && o.stage == item.stage)
        {
            cur = old[j].merge.clone();
            kept.push(Made {
                stage: item.stage,
                commit: item.commit.clone(),
                merge: Some(cur.clone()),
            });
            j += 1;
        } else {
            break;
        }
        next += 1;
    }
    Ok(Plan {
        kept,
        start: cur,
        next,
        dropped: dropped(j),
    })
}

/// okstra's merges on the first-parent chain below `tip`, oldest first, and the first
/// commit that is not one (the base they were made on).
fn okstra_merges(repo: &Repository, tip: &str) -> (Vec<Old>, String) {
    let mut out = Vec::new();
    let mut cur = Oid::from_str(tip)
        .ok()
        .and_then(|o| repo.find_commit(o).ok());
    let mut stop = tip.to_string();
    for _ in 0..100_000 {
        let Some(c) = cur else { break };
        stop = c.id().to_string();
        let message = String::from_utf8_lossy(c.message_bytes());
        let stage = message
            .strip_prefix("Merge stage ")
            .and_then(|m| m.split(' ').next())
            .and_then(|n| n.parse::<u32>().ok());
        let (Some(stage), true, Ok(second)) = (stage, message.contains(MARKER), c.parent_id(1))
        else {
            break;
        };
        if c.parent_count() != 2 {
            break;
        }
        out.push(Old {
            merge: c.id().to_string(),
            stage,
            commit: second.to_string(),
        });
        cur = c.parent(0).ok();
    }
    out.reverse();
    (out, stop)
}
