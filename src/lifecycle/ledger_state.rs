//! The ledger state of a stage worktree in `status`: what the plan run's `consumers.jsonl`
//! records about the stage (its last `started`/`done` event, its last verification verdict,
//! the PR it was handed off in), read once with the ledger's own reader and last-wins
//! readers, matched to registry rows by the one-id key rule ([`TaskRows`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::LifecycleError;
use crate::context::Context;
use crate::ids::{self, KeyParts};
use crate::ledger::{self, Ledger, RowView, TaskRows};

/// What the ledger records about one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageLedger {
    /// `done` when the stage has a `done` row, else `started` when it has a `started` row
    /// ([`ledger::STAGE_STATUSES`]); `null` when it has neither (only a verdict or a PR).
    pub state: Option<String>,
    /// The verdict of the stage's last `verified` row, as recorded (`accepted`, …).
    pub verified: Option<String>,
    /// The URL of the last `pr` row listing the stage.
    pub pr: Option<String>,
}

/// The rows of every ledger under `roots`, in the order given and then file order. Each
/// root is read as `ledger read` reads it: a missing root is `E_INVALID_ARG`, a
/// `consumers.jsonl` that is a symlink, FIFO or device is `E_UNSAFE_FILE`; a missing file is
/// an empty ledger and a torn line is skipped.
pub(crate) fn read_rows(ctx: &Context, roots: &[String]) -> Result<Vec<Value>, LifecycleError> {
    let mut rows = Vec::new();
    for root in roots {
        ids::check_path("planRunRoot", root)?;
        rows.extend(Ledger::new(root, ctx.lock_timeout()).read()?.rows);
    }
    Ok(rows)
}

/// The ledger state of the registry row `task_key` when it names a stage (`…#stage-<N>`)
/// the ledger has rows for; `None` otherwise.
pub(crate) fn of_stage(tasks: &TaskRows<'_>, task_key: &str) -> Option<StageLedger> {
    let parts = KeyParts::parse(task_key)?;
    let n = parts.stage?;
    let rows = tasks.of(&parts.base().key());
    let mine: Vec<&Value> = rows
        .into_iter()
        .filter(|r| r.stage() == Some(n) || r.stages().contains(&n))
        .collect();
    if mine.is_empty() {
        return None;
    }
    let state = if ledger::latest_done_by_stage(&mine).contains_key(&n) {
        Some("done")
    } else if mine.iter().any(|r| r.status() == Some("started")) {
        Some("started")
    } else {
        None
    };
    let last = |status: &str| mine.iter().rev().find(|r| r.status() == Some(status));
    let verified = last("verified").map(|r| r.verdict().unwrap_or("").to_string());
    let pr = last("pr").map(|r| {
        r.get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    });
    if state.is_none() && verified.is_none() && pr.is_none() {
        return None;
    }
    Some(StageLedger {
        state: state.map(str::to_string),
        verified,
        pr,
    })
}

/// Every stage row's ledger state, by task key.
pub(crate) fn states<'k>(
    rows: &[Value],
    keys: impl Iterator<Item = &'k str>,
) -> BTreeMap<&'k str, StageLedger> {
    let tasks = TaskRows::new(rows);
    keys.filter_map(|k| of_stage(&tasks, k).map(|s| (k, s)))
        .collect()
}
