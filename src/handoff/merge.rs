//! The merge engine of `assemble`: every merge is first made in memory (the idea of
//! `git merge-tree --write-tree`: merge two commits into an in-memory index, look for
//! conflicts, write the tree), so a conflict is found before any branch, worktree or
//! registry entry exists. The merge commits it writes are real two-parent commits that no
//! ref points to until the caller moves the collector branch onto the last one; unused
//! objects are left for `git gc`.

use std::fmt;
use std::path::Path;

use git2::{Commit, Index, MergeOptions, Oid, Repository, Signature};

use super::HandoffError;
use crate::error::git_err;

/// A conflict found in the preflight: merging `stage` conflicts with the stages in `with`
/// (pairwise), or, when `with` is empty, only with the merge of all earlier stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageConflict {
    pub stage: u32,
    pub with: Vec<u32>,
    pub paths: Vec<String>,
}

impl fmt::Display for StageConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths = self.paths.join(", ");
        match self.with.as_slice() {
            [] => write!(
                f,
                "stage {} conflicts with the earlier stages' merge on {paths}",
                self.stage
            ),
            with => {
                let with: Vec<String> = with.iter().map(|n| format!("stage {n}")).collect();
                write!(f, "stage {} × {} on {paths}", self.stage, with.join(", "))
            }
        }
    }
}

/// One stage to merge.
pub(crate) struct Item<'a> {
    pub stage: u32,
    pub commit: Oid,
    pub title: &'a str,
}

/// One merge made (or found unnecessary: `merge == None` when `start` already contained
/// the stage's commit).
pub(crate) struct Made {
    pub stage: u32,
    pub commit: Oid,
    pub merge: Option<Oid>,
}

fn conflict_paths(index: &Index) -> Result<Vec<String>, git2::Error> {
    let mut paths = Vec::new();
    for c in index.conflicts()? {
        let c = c?;
        let entry = c.our.or(c.their).or(c.ancestor);
        if let Some(e) = entry {
            let p = String::from_utf8_lossy(&e.path).into_owned();
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    Ok(paths)
}

fn merge_index(repo: &Repository, a: &Commit, b: &Commit) -> Result<Index, git2::Error> {
    repo.merge_commits(a, b, Some(&MergeOptions::new()))
}

/// Merges `items` one after another onto `start` (dependency order is the caller's),
/// writing a two-parent merge commit for each stage not already contained. Returns the
/// merges made, or every conflict (pairwise between selected stages where that explains
/// it). No ref changes.
pub(crate) fn merge_chain(
    repo: &Repository,
    start: Oid,
    items: &[Item<'_>],
    branch: &str,
) -> Result<Vec<Made>, HandoffError> {
    let at = repo.path();
    let sig = repo
        .signature()
        .or_else(|_| Signature::now("okstra", "okstra@localhost"))
        .map_err(git_err("signature", at))?;
    let mut cur = repo
        .find_commit(start)
        .map_err(git_err("find commit", at))?;
    let mut made = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let theirs = repo
            .find_commit(item.commit)
            .map_err(git_err("find commit", at))?;
        if cur.id() == item.commit
            || repo
                .graph_descendant_of(cur.id(), item.commit)
                .map_err(git_err("merge-base", at))?
        {
            made.push(Made {
                stage: item.stage,
                commit: item.commit,
                merge: None,
            });
            continue;
        }
        let mut index = merge_index(repo, &cur, &theirs).map_err(git_err("merge", at))?;
        if index.has_conflicts() {
            let paths = conflict_paths(&index).map_err(git_err("merge", at))?;
            return Err(HandoffError::MergeConflict {
                conflicts: explain(repo, items, i, paths)?,
            });
        }
        let tree_id = index
            .write_tree_to(repo)
            .map_err(git_err("write tree", at))?;
        let tree = repo.find_tree(tree_id).map_err(git_err("find tree", at))?;
        let message = format!(
            "Merge stage {} into {branch}: {}\n\nStage head {} (okstra handoff assemble).\n",
            item.stage, item.title, item.commit
        );
        let id = repo
            .commit(None, &sig, &sig, &message, &tree, &[&cur, &theirs])
            .map_err(git_err("commit", at))?;
        made.push(Made {
            stage: item.stage,
            commit: item.commit,
            merge: Some(id),
        });
        cur = repo.find_commit(id).map_err(git_err("find commit", at))?;
    }
    Ok(made)
}

/// The conflicts behind a failed merge of `items[failed]`: every pair of selected stages
/// whose commits conflict with each other, or the failed merge alone when no pair does.
fn explain(
    repo: &Repository,
    items: &[Item<'_>],
    failed: usize,
    paths: Vec<String>,
) -> Result<Vec<StageConflict>, HandoffError> {
    let at: &Path = repo.path();
    let mut out = Vec::new();
    for (j, b) in items.iter().enumerate().skip(1) {
        let bc = repo
            .find_commit(b.commit)
            .map_err(git_err("find commit", at))?;
        let mut with = Vec::new();
        let mut pair_paths: Vec<String> = Vec::new();
        for a in &items[..j] {
            let ac = repo
                .find_commit(a.commit)
                .map_err(git_err("find commit", at))?;
            let index = merge_index(repo, &ac, &bc).map_err(git_err("merge", at))?;
            if index.has_conflicts() {
                with.push(a.stage);
                for p in conflict_paths(&index).map_err(git_err("merge", at))? {
                    if !pair_paths.contains(&p) {
                        pair_paths.push(p);
                    }
                }
            }
        }
        if !with.is_empty() {
            out.push(StageConflict {
                stage: b.stage,
                with,
                paths: pair_paths,
            });
        }
    }
    if out.is_empty() {
        out.push(StageConflict {
            stage: items[failed].stage,
            with: Vec::new(),
            paths,
        });
    }
    Ok(out)
}
