//! `status`: one row per worktree the home knows, judged in parallel (a bounded pool of
//! threads, each running git for one worktree at a time).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use super::git::Git;
use super::inspect::{self, Blocker, Dirty, Facts, Integration, RepoFacts};
use super::ledger_state::{self, StageLedger};
use super::{kind_of, trash, LifecycleError};
use crate::context::Context;
use crate::registry::{parse_stamp, EntryStatus, Registry, WorktreeEntry};

/// One worktree as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRow {
    pub task_key: String,
    /// `task`, `stage` or `group`.
    pub kind: String,
    pub project_id: String,
    pub path: String,
    /// The registry row's branch.
    pub branch: String,
    /// The registry row's status (`active`, `released`).
    pub status: EntryStatus,
    /// The directory exists.
    pub exists: bool,
    /// The commit checked out (`null` when gone or unborn).
    pub head: Option<String>,
    /// The branch checked out, when it is not the row's (`null` when it is, or detached).
    pub checked_out: Option<String>,
    pub dirty: Dirty,
    pub stashes: u32,
    /// Commits on the worktree's HEAD not in the base, and in the base not on HEAD.
    pub ahead: Option<u32>,
    pub behind: Option<u32>,
    /// Whether its work is in the base and by which proof (`null` without a base).
    pub integration: Option<Integration>,
    /// HEAD is on some remote-tracking branch.
    pub pushed: bool,
    /// Processes working inside.
    pub processes: Vec<u32>,
    /// Bytes on disk (`null` unless asked for: it walks the whole tree).
    pub disk_bytes: Option<u64>,
    pub last_phase: String,
    pub created_at: String,
    /// Seconds since `createdAt` (`null` when it cannot be read).
    pub age_seconds: Option<i64>,
    /// `remove` without force would remove it (no blockers).
    pub removable: bool,
    /// Why `remove` would refuse, one entry per reason.
    pub blockers: Vec<Blocker>,
    /// What the plan run's ledger records about a stage worktree (`null` for task and
    /// group rows, for a stage without ledger rows, and when no plan run root was given).
    pub ledger: Option<StageLedger>,
    /// What failed while judging it (git refused, …); the other fields are partial.
    pub error: Option<String>,
}

/// What `status` looks at.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// Only these projects (all when empty).
    pub project_ids: Vec<String>,
    /// Also measure each worktree's disk use.
    pub disk: bool,
    /// Plan run roots whose `consumers.jsonl` gives the stage rows their `ledger` state
    /// (none: every `ledger` is `None`).
    pub plan_run_roots: Vec<String>,
}

/// Per-repository facts shared by the threads.
pub(crate) struct RepoCache<'a> {
    git: &'a Git,
    facts: Mutex<HashMap<PathBuf, RepoFacts>>,
}

impl<'a> RepoCache<'a> {
    pub(crate) fn new(git: &'a Git) -> RepoCache<'a> {
        RepoCache {
            git,
            facts: Mutex::new(HashMap::new()),
        }
    }

    /// The facts of the repository `common` (computed once, from `dir`).
    pub(crate) fn get(&self, common: &Path, dir: &Path) -> Result<RepoFacts, LifecycleError> {
        if let Some(f) = self.lock().get(common) {
            return Ok(f.clone());
        }
        let f = inspect::repo_facts(self.git, common, dir)?;
        self.lock().insert(common.to_path_buf(), f.clone());
        Ok(f)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, RepoFacts>> {
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Judges every entry in parallel; results in the entries' order.
pub(crate) fn judge_all(
    git: &Git,
    reg: &Registry,
    entries: &[WorktreeEntry],
) -> Vec<Result<Facts, LifecycleError>> {
    let cache = RepoCache::new(git);
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<Facts, LifecycleError>>>> =
        Mutex::new((0..entries.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 16)
        .min(entries.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = entries.get(i) else { break };
                let r = inspect::inspect(
                    git,
                    Path::new(&e.worktree_path),
                    reg.root(),
                    &e.branch,
                    &|common, dir| cache.get(common, dir),
                    true,
                );
                out.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Ok(Facts::default())))
        .collect()
}

/// One row of a judged entry.
pub(crate) fn row(e: &WorktreeEntry, r: Result<Facts, LifecycleError>, disk: bool) -> StatusRow {
    let (f, error) = match r {
        Ok(f) => (f, None),
        Err(err) => (Facts::default(), Some(err.to_string())),
    };
    let age_seconds = parse_stamp(&e.created_at)
        .map(|t| chrono::Utc::now().signed_duration_since(t).num_seconds());
    let disk_bytes = (disk && f.exists).then(|| trash::disk_use(Path::new(&e.worktree_path)));
    StatusRow {
        task_key: e.task_key.clone(),
        kind: kind_of(&e.task_key).to_string(),
        project_id: e.project_id.clone(),
        path: e.worktree_path.clone(),
        branch: e.branch.clone(),
        status: e.status,
        exists: f.exists,
        head: f.head,
        checked_out: f.branch.filter(|b| *b != e.branch),
        dirty: f.dirty,
        stashes: f.stashes,
        ahead: f.ahead,
        behind: f.behind,
        integration: f.integration,
        pushed: f.pushed,
        processes: f.holders,
        disk_bytes,
        last_phase: e.last_phase.clone(),
        created_at: e.created_at.clone(),
        age_seconds,
        removable: error.is_none() && f.blockers.is_empty(),
        blockers: f.blockers,
        ledger: None,
        error,
    }
}

/// Every worktree the home's registry knows (filtered by project), judged; stage rows
/// carry their ledger state when `plan_run_roots` are given (each read once, before any
/// git runs, so an unusable root fails the call at once). Finishes any removal a crash
/// interrupted first. Changes nothing else.
pub fn status(ctx: &Context, opts: &StatusOptions) -> Result<Vec<StatusRow>, LifecycleError> {
    let ledger_rows = ledger_state::read_rows(ctx, &opts.plan_run_roots)?;
    let reg = Registry::open(ctx);
    let git = Git::locate()?;
    super::remove::recover_all(ctx)?;
    let entries: Vec<WorktreeEntry> = reg
        .list(None, None)?
        .into_iter()
        .filter(|e| opts.project_ids.is_empty() || opts.project_ids.contains(&e.project_id))
        .collect();
    let judged = judge_all(&git, &reg, &entries);
    let states = ledger_state::states(&ledger_rows, entries.iter().map(|e| &*e.task_key));
    Ok(entries
        .iter()
        .zip(judged)
        .map(|(e, r)| StatusRow {
            ledger: states.get(&*e.task_key).cloned(),
            ..row(e, r, opts.disk)
        })
        .collect())
}

/// The compact table `okstra worktree status` prints on a terminal; `color` adds ANSI
/// colours (never with `NO_COLOR`, never off a terminal). A `LEDGER` column is added when
/// any row has a ledger state.
pub fn table(rows: &[StatusRow], color: bool) -> String {
    let paint = |code: &str, text: String| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    let with_ledger = rows.iter().any(|r| r.ledger.is_some());
    let mut header = vec![
        "KEY".to_string(),
        "KIND".into(),
        "BRANCH".into(),
        "STATE".into(),
        "DIRTY".into(),
        "+/-".into(),
        "INTEGRATED".into(),
        "AGE".into(),
    ];
    if with_ledger {
        header.push("LEDGER".into());
    }
    let mut lines = vec![header];
    lines.extend(rows.iter().map(|r| {
        let mut c = cells(r).to_vec();
        if with_ledger {
            c.push(r.ledger.as_ref().map_or("-".into(), ledger_cell));
        }
        c
    }));
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let padded = format!("{v:<w$}", w = widths[c]);
                match (n, c) {
                    (0, _) => paint("1", padded),
                    (_, 3) if v == "removable" => paint("32", padded),
                    (_, 3) if v == "gone" => paint("2", padded),
                    (_, 3) => paint("33", padded),
                    _ => padded,
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A stage's ledger state in one cell: `done`, `done verified:accepted pr`, …
fn ledger_cell(l: &StageLedger) -> String {
    let mut parts = vec![l.state.clone().unwrap_or_else(|| "-".into())];
    if let Some(v) = &l.verified {
        parts.push(format!("verified:{v}"));
    }
    if l.pr.is_some() {
        parts.push("pr".into());
    }
    parts.join(" ")
}

/// One row's table cells.
fn cells(r: &StatusRow) -> [String; 8] {
    let state = if !r.exists {
        "gone".to_string()
    } else if r.removable {
        "removable".to_string()
    } else {
        r.blockers
            .iter()
            .map(|b| b.reason.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let d = r.dirty;
    let dirty = if d.staged + d.modified + d.untracked + d.conflicted == 0 {
        "-".to_string()
    } else {
        format!("S{} M{} U{}", d.staged, d.modified, d.untracked)
    };
    let ab = match (r.ahead, r.behind) {
        (Some(a), Some(b)) => format!("+{a}/-{b}"),
        _ => "-".into(),
    };
    let integ = r
        .integration
        .as_ref()
        .map_or("-".to_string(), |i| i.proof.clone());
    let age = r.age_seconds.map_or("-".to_string(), |s| {
        if s >= 86_400 {
            format!("{}d", s / 86_400)
        } else if s >= 3600 {
            format!("{}h", s / 3600)
        } else {
            format!("{}m", s / 60)
        }
    });
    [
        r.task_key.clone(),
        r.kind.clone(),
        r.branch.clone(),
        state,
        dirty,
        ab,
        integ,
        age,
    ]
}
