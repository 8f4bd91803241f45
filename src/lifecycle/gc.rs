//! `gc`: which worktrees may go, and (with `apply`) removing exactly those — what
//! [`super::remove`] without force would remove, nothing more.
//!
//! A row is a candidate when it matches the selection: `merged` (its work is integrated in
//! the base), `released` (its registry row is released), or its directory is gone; with
//! neither `merged` nor `released` given, both apply. `older_than` further keeps rows
//! created more recently; `keep` keeps the N newest candidates. A candidate with any
//! blocker is kept, with the blockers as its reasons.

use std::path::Path;

use serde::Serialize;

use super::git::Git;
use super::inspect::Blocker;
use super::remove::{parts_of_key, remove};
use super::status::{judge_all, row};
use super::{trash, LifecycleError};
use crate::context::Context;
use crate::error::InvalidArg;
use crate::registry::{parse_stamp, Registry, WorktreeEntry};

/// The selection of `gc`.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Remove (otherwise a dry run).
    pub apply: bool,
    pub merged: bool,
    pub released: bool,
    /// Only rows created at least this many seconds ago.
    pub older_than_secs: Option<u64>,
    /// Keep the N newest candidates.
    pub keep: Option<usize>,
    /// Only these projects (all when empty).
    pub project_ids: Vec<String>,
}

/// One row `gc` considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcCandidate {
    pub task_key: String,
    pub path: String,
    pub branch: String,
    /// `remove` (would be, or was, removed) or `keep`.
    pub action: String,
    /// Why it is a candidate: `merged (<proof>)`, `released`, `gone`, `older than …`.
    pub why: Vec<String>,
    /// Why it is kept: the blockers, `--keep`, or the removal's error.
    pub kept_because: Vec<String>,
    pub blockers: Vec<Blocker>,
    /// Bytes on disk the removal frees (measured before).
    pub disk_bytes: u64,
    /// With `apply`: the removal happened (the branch was deleted when integrated).
    pub removed: bool,
    pub branch_deleted: bool,
}

/// What `gc` found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    pub applied: bool,
    pub candidates: Vec<GcCandidate>,
    /// Bytes freed (with `apply`) or that would be.
    pub reclaimed_bytes: u64,
}

/// `7d`, `12h`, `30m`, `45s`, `2w` → seconds.
pub fn parse_duration(text: &str) -> Result<u64, InvalidArg> {
    let t = text.trim();
    let bad = || {
        InvalidArg(format!(
            "--older-than {} is not a duration; give a whole number with a unit: 30m, 12h, \
             7d, 2w",
            crate::ids::excerpt(text)
        ))
    };
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Lists (and with `apply` removes) the worktrees the selection names.
pub fn gc(ctx: &Context, opts: &GcOptions) -> Result<GcReport, LifecycleError> {
    let reg = Registry::open(ctx);
    let git = Git::locate()?;
    super::remove::recover_all(ctx)?;
    trash::finish(&reg, false);
    let entries: Vec<WorktreeEntry> = reg
        .list(None, None)?
        .into_iter()
        .filter(|e| opts.project_ids.is_empty() || opts.project_ids.contains(&e.project_id))
        .collect();
    let judged = judge_all(&git, &reg, &entries);
    let mut out = candidates(&entries, judged, opts);
    if let Some(n) = opts.keep {
        keep_newest(&mut out, &entries, n);
    }
    let reclaimed = act(ctx, &mut out, opts.apply);
    Ok(GcReport {
        applied: opts.apply,
        candidates: out,
        reclaimed_bytes: reclaimed,
    })
}

/// The rows the selection names, each with why and (from its blockers) why it is kept.
fn candidates(
    entries: &[WorktreeEntry],
    judged: Vec<Result<super::inspect::Facts, LifecycleError>>,
    opts: &GcOptions,
) -> Vec<GcCandidate> {
    let (merged, released) = if opts.merged || opts.released {
        (opts.merged, opts.released)
    } else {
        (true, true)
    };
    let mut out = Vec::new();
    for (e, r) in entries.iter().zip(judged) {
        let row = row(e, r, false);
        let mut why = Vec::new();
        if !row.exists {
            why.push("gone".to_string());
        }
        if merged {
            if let Some(i) = row.integration.as_ref().filter(|i| i.integrated) {
                why.push(format!("merged ({} into {})", i.proof, i.base));
            }
        }
        if released && !e.is_active() {
            why.push("released".to_string());
        }
        if why.is_empty() {
            continue;
        }
        let age = parse_stamp(&e.created_at)
            .map(|t| chrono::Utc::now().signed_duration_since(t).num_seconds());
        if let Some(min) = opts.older_than_secs {
            match age {
                Some(a) if a >= 0 && a as u64 >= min => {
                    why.push(format!("older than {min}s"));
                }
                _ => continue,
            }
        }
        let mut kept_because: Vec<String> = row
            .blockers
            .iter()
            .map(|b| format!("{}: {}", b.reason.as_str(), b.detail))
            .collect();
        if let Some(err) = &row.error {
            kept_because.push(format!("cannot be judged: {err}"));
        }
        out.push(GcCandidate {
            task_key: e.task_key.clone(),
            path: e.worktree_path.clone(),
            branch: e.branch.clone(),
            action: String::new(),
            why,
            kept_because,
            blockers: row.blockers,
            disk_bytes: if row.exists {
                trash::disk_use(Path::new(&e.worktree_path))
            } else {
                0
            },
            removed: false,
            branch_deleted: false,
        });
    }
    out
}

/// `keep N`: the N newest removable candidates stay.
fn keep_newest(out: &mut [GcCandidate], entries: &[WorktreeEntry], n: usize) {
    let mut order: Vec<usize> = (0..out.len())
        .filter(|i| out[*i].kept_because.is_empty())
        .collect();
    let created = |i: &usize| {
        entries
            .iter()
            .find(|e| e.task_key == out[*i].task_key)
            .and_then(|e| parse_stamp(&e.created_at))
    };
    order.sort_by_key(|i| std::cmp::Reverse(created(i)));
    for i in order.into_iter().take(n) {
        out[i]
            .kept_because
            .push(format!("--keep {n}: among the newest"));
    }
}

/// Marks each candidate `remove` or `keep`, removing with `apply`; returns the bytes freed
/// (or that would be).
fn act(ctx: &Context, out: &mut [GcCandidate], apply: bool) -> u64 {
    let mut reclaimed = 0;
    for c in out.iter_mut() {
        if !c.kept_because.is_empty() {
            c.action = "keep".into();
            continue;
        }
        c.action = "remove".into();
        if !apply {
            reclaimed += c.disk_bytes;
            continue;
        }
        let Some(parts) = parts_of_key(&c.task_key) else {
            c.action = "keep".into();
            c.kept_because
                .push("the registry key is not one okstra writes".into());
            continue;
        };
        match remove(ctx, &parts, false) {
            Ok(r) => {
                c.removed = true;
                c.branch_deleted = r.branch_deleted;
                reclaimed += c.disk_bytes;
            }
            Err(e) => {
                c.action = "keep".into();
                c.kept_because.push(e.to_string());
            }
        }
    }
    reclaimed
}
