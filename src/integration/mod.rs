//! The integration proof: is a branch's work already in a base branch? True for a real
//! merge, a squash merge, a rebase merge and cherry-picks, and never for a branch holding a
//! change the base does not have. Handoff eligibility uses it for "is this dependency
//! merged?"; worktree clean-up can use it for "may this branch go?".
//!
//! [`prove`] resolves both revisions to commit ids first (`git rev-parse --verify
//! --end-of-options <rev>^{commit}`), then tries, cheapest first, and names the first proof
//! that holds:
//!
//! 1. [`Proof::Ancestor`] — `git merge-base --is-ancestor <branch> <base>`: every commit of
//!    the branch is in the base's history (a real merge, a fast-forward).
//! 2. [`Proof::SameTree`] — `<branch>^{tree}` equals `<base>^{tree}`: the base holds
//!    exactly the branch's content.
//! 3. [`Proof::MergeAddsNothing`] — `git merge-tree --write-tree <base> <branch>` merges
//!    cleanly and its tree is the base's tree: merging the branch now would change nothing,
//!    so every change it made since the fork point is in the base (a squash merge, a rebase
//!    merge onto an advanced base, all its commits cherry-picked). git's own merge, with the
//!    repository's merge configuration (renames, drivers).
//! 4. [`Proof::PatchId`] — patch ids (`git rev-list --cherry-mark`, git's `patch-id`): either
//!    **every** commit of the branch since the merge base has an equal-patch commit in the
//!    base since the merge base (a merge commit never counts as matched), or the branch's
//!    **combined** diff since the merge base equals one base commit's patch (a squash
//!    merge). This is the proof that still holds after the base went on to edit the same
//!    lines, where step 3 conflicts.
//!
//! The rule that keeps it safe: a branch with any commit whose change is not in the base is
//! [`Proof::NotIntegrated`]. Steps 1–3 compare content the branch's commits all contribute
//! to; step 4 needs a match for each commit or for their sum, so one extra commit (or a
//! merge bringing in other work) makes both fail. A branch whose commits cancel out (a
//! change and its revert) has nothing to integrate and passes step 3.

mod base;
mod git;

use std::path::Path;

use serde::Serialize;

pub use base::{default_base, Base, BaseSource};

use crate::error::{Code, Coded, GitError, InvalidArg};
use git::Git;

/// Integration failures.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    /// A revision (the branch, the base, the default base) resolves to no commit.
    #[error("{0}")]
    UnknownRef(String),
    /// No git executable to run.
    #[error("{0}")]
    GitRequired(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

impl Coded for IntegrationError {
    fn code(&self) -> Code {
        match self {
            IntegrationError::InvalidArg(e) => e.code(),
            IntegrationError::UnknownRef(_) => Code::UnknownRef,
            IntegrationError::GitRequired(_) => Code::GitRequired,
            IntegrationError::Git(e) => e.code(),
        }
    }
}

/// Which patch-id rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchMatch {
    /// Every commit of the branch since the merge base has an equal patch in the base.
    EveryCommit,
    /// The branch's combined diff since the merge base equals one base commit's patch.
    CombinedDiff,
}

/// The answer of [`prove`]: the first proof that holds, or why none does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "proof", rename_all = "kebab-case")]
pub enum Proof {
    /// The branch is an ancestor of (or equal to) the base.
    Ancestor,
    /// The branch's tree is the base's tree.
    SameTree,
    /// Merging the branch into the base would change nothing.
    MergeAddsNothing,
    /// Patch ids match (see [`PatchMatch`]).
    PatchId { matched: PatchMatch },
    /// Some work of the branch is not in the base.
    NotIntegrated {
        /// The branch's commits since the merge base with no equal patch in the base (merge
        /// commits included), at most [`MAX_LISTED`], newest first.
        unmatched: Vec<String>,
    },
}

/// How many unmatched commits [`Proof::NotIntegrated`] lists.
pub const MAX_LISTED: usize = 20;

impl Proof {
    /// Whether the branch's work is in the base.
    pub fn is_integrated(&self) -> bool {
        !matches!(self, Proof::NotIntegrated { .. })
    }

    /// The proof's name as serialized: `ancestor`, `same-tree`, `merge-adds-nothing`,
    /// `patch-id`, `not-integrated`.
    pub fn name(&self) -> &'static str {
        match self {
            Proof::Ancestor => "ancestor",
            Proof::SameTree => "same-tree",
            Proof::MergeAddsNothing => "merge-adds-nothing",
            Proof::PatchId { .. } => "patch-id",
            Proof::NotIntegrated { .. } => "not-integrated",
        }
    }
}

/// Whether the work of `branch` is in `base`, in the repository containing `repo_dir`, and
/// by which proof (see the module docs). `branch` and `base` are any revisions git
/// resolves. Writes no ref; the merge-tree step and the combined-diff commit write
/// unreachable objects that `git gc` removes. Errors: `E_UNKNOWN_REF` (either revision
/// names no commit), `E_GIT`, `E_GIT_REQUIRED`.
pub fn prove(repo_dir: &Path, branch: &str, base: &str) -> Result<Proof, IntegrationError> {
    let git = Git::at(repo_dir);
    let resolve = |what: &str, rev: &str| {
        git.commit(rev)?.ok_or_else(|| {
            IntegrationError::UnknownRef(format!(
                "the {what} {rev:?} does not resolve to a commit in {}",
                repo_dir.display()
            ))
        })
    };
    let head = resolve("branch", branch)?;
    let base = resolve("base", base)?;
    prove_commits(&git, &head, &base)
}

/// [`prove`] for two full commit ids the caller has already checked are commits of the
/// repository (handoff checks each stage head in-process), saving the two `rev-parse`
/// runs. Anything else is `E_INVALID_ARG`.
pub(crate) fn prove_resolved(
    repo_dir: &Path,
    head: &str,
    base: &str,
) -> Result<Proof, IntegrationError> {
    if let Some(bad) = [head, base].into_iter().find(|c| !git::is_oid(c)) {
        return Err(InvalidArg(format!("{bad:?} is not a full commit id")).into());
    }
    prove_commits(&Git::at(repo_dir), head, base)
}

/// [`prove`] for two resolved commit ids.
fn prove_commits(git: &Git, head: &str, base: &str) -> Result<Proof, IntegrationError> {
    let out = git.output(
        "merge-base",
        &[
            "merge-base",
            "--is-ancestor",
            "--end-of-options",
            head,
            base,
        ],
    )?;
    match out.status.code() {
        Some(0) => return Ok(Proof::Ancestor),
        Some(1) => {}
        _ => return Err(git.failed("merge-base", &out)),
    }
    let trees = git.text(
        "rev-parse",
        &[
            "rev-parse",
            // Two object ids of ours, so no `--end-of-options` (rev-parse would echo it).
            &format!("{base}^{{tree}}"),
            &format!("{head}^{{tree}}"),
        ],
    )?;
    let mut trees = trees.lines().map(str::trim);
    let (base_tree, head_tree) = (trees.next().unwrap_or(""), trees.next().unwrap_or(""));
    if !git::is_oid(base_tree) || !git::is_oid(head_tree) {
        return Err(IntegrationError::UnknownRef(format!(
            "the trees of {base} and {head} cannot be read in {}",
            git.dir().display()
        )));
    }
    let base_tree = base_tree.to_string();
    if head_tree == base_tree {
        return Ok(Proof::SameTree);
    }
    if merge_tree(git, base, head)?.as_deref() == Some(base_tree.as_str()) {
        return Ok(Proof::MergeAddsNothing);
    }
    let unmatched = unmatched_commits(git, base, head)?;
    if unmatched.is_empty() {
        return Ok(Proof::PatchId {
            matched: PatchMatch::EveryCommit,
        });
    }
    if combined_matches(git, base, head)? {
        return Ok(Proof::PatchId {
            matched: PatchMatch::CombinedDiff,
        });
    }
    Ok(Proof::NotIntegrated {
        unmatched: unmatched.into_iter().take(MAX_LISTED).collect(),
    })
}

/// The tree of a clean `git merge-tree --write-tree <base> <head>`; `None` on a conflict,
/// unrelated histories, or a git without `--write-tree` (before 2.38).
fn merge_tree(git: &Git, base: &str, head: &str) -> Result<Option<String>, IntegrationError> {
    let out = git.output(
        "merge-tree",
        &["merge-tree", "--write-tree", "--no-messages", base, head],
    )?;
    if out.status.code() != Some(0) {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .map(str::trim)
        .filter(|t| git::is_oid(t))
        .map(str::to_string))
}

/// `git rev-list --cherry-mark --right-only <base>...<head>`: the commits of `head` since
/// the merge base marked `+` (no equal patch among the base's commits since the merge base;
/// merge commits are always `+`). Empty when every commit has its equal.
fn unmatched_commits(git: &Git, base: &str, head: &str) -> Result<Vec<String>, IntegrationError> {
    let range = format!("{base}...{head}");
    let out = git.text(
        "rev-list",
        &["rev-list", "--cherry-mark", "--right-only", &range, "--"],
    )?;
    let mut unmatched = Vec::new();
    let mut any = false;
    for line in out.lines() {
        any = true;
        if let Some(c) = line.strip_prefix('+') {
            unmatched.push(c.trim().to_string());
        } else if !line.starts_with('=') {
            unmatched.push(line.trim().to_string());
        }
    }
    if !any {
        // Not an ancestor yet nothing on the right: cannot happen for resolved commits, but
        // an empty answer must never read as "all matched".
        unmatched.push(head.to_string());
    }
    Ok(unmatched)
}

/// The merge base of `a` and `b`, `None` for unrelated histories.
fn merge_base(git: &Git, a: &str, b: &str) -> Result<Option<String>, IntegrationError> {
    let out = git.output("merge-base", &["merge-base", "--end-of-options", a, b])?;
    match out.status.code() {
        Some(0) => Ok(
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
                .filter(|m| git::is_oid(m)),
        ),
        Some(1) => Ok(None),
        _ => Err(git.failed("merge-base", &out)),
    }
}

/// A commit holding `head`'s tree on the merge base as its one parent: its patch is the
/// branch's combined diff. Written with a fixed identity and date, so the same branch gives
/// the same (unreachable) object. `None` for unrelated histories.
fn combined_commit(git: &Git, base: &str, head: &str) -> Result<Option<String>, IntegrationError> {
    let Some(mb) = merge_base(git, base, head)? else {
        return Ok(None);
    };
    let tree = format!("{head}^{{tree}}");
    let commit = git.text(
        "commit-tree",
        &[
            "commit-tree",
            "-p",
            &mb,
            "-m",
            "okstra combined diff",
            &tree,
        ],
    )?;
    Ok(Some(commit).filter(|c| git::is_oid(c)))
}

/// Whether the branch's combined diff since the merge base has an equal patch among the
/// base's commits since the merge base.
fn combined_matches(git: &Git, base: &str, head: &str) -> Result<bool, IntegrationError> {
    let Some(combined) = combined_commit(git, base, head)? else {
        return Ok(false);
    };
    Ok(unmatched_commits(git, base, &combined)?.is_empty())
}

/// The patch id (`git patch-id --stable`) of the branch's combined diff since its merge base
/// with `base`: what a stage changes, unchanged by a rebase that replays the same change onto
/// a newer base. `None` when the combined diff is empty or the histories are unrelated.
/// Errors: `E_UNKNOWN_REF`, `E_GIT`, `E_GIT_REQUIRED`.
pub fn patch_id(
    repo_dir: &Path,
    branch: &str,
    base: &str,
) -> Result<Option<String>, IntegrationError> {
    let git = Git::at(repo_dir);
    let resolve = |rev: &str| {
        git.commit(rev)?.ok_or_else(|| {
            IntegrationError::UnknownRef(format!(
                "{rev:?} does not resolve to a commit in {}",
                repo_dir.display()
            ))
        })
    };
    let (head, base) = (resolve(branch)?, resolve(base)?);
    let Some(combined) = combined_commit(&git, &base, &head)? else {
        return Ok(None);
    };
    let out = git.pipe(
        "patch-id",
        &[
            "diff-tree",
            "-p",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            &combined,
        ],
        &["patch-id", "--stable"],
    )?;
    Ok(String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .filter(|id| git::is_oid(id))
        .map(str::to_string))
}

#[cfg(test)]
mod tests;
