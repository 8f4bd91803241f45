//! `record_verified` and `record_pr`: the ledger rows of a handoff.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::HandoffError;
use crate::error::InvalidArg;
use crate::ledger::{self, Appended, Ledger};
use crate::report::{self, field};
use crate::task_type::TaskType;

/// A single-stage final verification to record.
#[derive(Debug, Clone)]
pub struct RecordVerifiedRequest {
    pub plan_run_root: PathBuf,
    pub impl_task_key: String,
    pub stage: u32,
    /// The final report (`….md`, whose `….data.json` sibling is read) or its data.json.
    pub report_path: PathBuf,
    /// The stage head commit that was verified; default the `head_commit` of the stage's
    /// last `done` row of this task.
    pub head_commit: Option<String>,
    /// Bound on the ledger lock wait (resolved at the boundary).
    pub lock_timeout: Duration,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(|s| s.trim().to_lowercase())
}

fn expect(reasons: &mut Vec<String>, name: &str, got: Option<String>, want: &str) {
    match got {
        Some(g) if g == want => {}
        Some(g) => reasons.push(format!("{name} is {g:?}, expected {want:?}")),
        None => reasons.push(format!("{name} is missing, expected {want:?}")),
    }
}

/// Records the verification of one stage after checking its final-report data: task type
/// `final-verification`, verification scope `single-stage`, verdict token (`verdictToken`
/// or `verdict.token`) `accepted`, each read at the top level or under `meta`; a `stage`
/// given there must be this stage. Anything missing or different refuses without writing
/// (`E_REPORT_REJECTED`). The row records the verified head (`head_commit`: the request's,
/// else the stage's last `done` head), so eligibility can tell when the stage changed
/// since. The same report recorded again is a no-op.
pub fn record_verified(req: &RecordVerifiedRequest) -> Result<Appended, HandoffError> {
    let path = report::data_path(&req.report_path);
    // Through crate::safe_open: a symlink, FIFO or device is E_UNSAFE_FILE, a file over
    // its bound E_FILE_TOO_LARGE, before anything is read.
    let raw =
        crate::safe_open::read_file(&path, crate::safe_open::REPORT_DATA)?.ok_or_else(|| {
            HandoffError::ReportRejected {
                reasons: vec![format!(
                    "cannot read the final-report data {} (it does not exist)",
                    path.display()
                )],
            }
        })?;
    let raw = String::from_utf8(raw).map_err(|e| HandoffError::ReportRejected {
        reasons: vec![format!(
            "cannot read the final-report data {} ({e})",
            path.display()
        )],
    })?;
    let data: Value = serde_json::from_str(&raw).map_err(|e| HandoffError::ReportRejected {
        reasons: vec![format!("{} is not valid JSON ({e})", path.display())],
    })?;
    let mut reasons = Vec::new();
    expect(
        &mut reasons,
        "taskType",
        text(field(&data, "taskType")),
        TaskType::FinalVerification.as_str(),
    );
    expect(
        &mut reasons,
        "verificationScope",
        text(field(&data, "verificationScope")),
        "single-stage",
    );
    let verdict = text(field(&data, "verdictToken"))
        .or_else(|| text(field(&data, "verdict").and_then(|v| v.get("token"))));
    expect(&mut reasons, "the verdict token", verdict, "accepted");
    if let Some(s) = field(&data, "stage").filter(|s| !s.is_null()) {
        if s.as_u64() != Some(u64::from(req.stage)) {
            reasons.push(format!(
                "the report is for stage {s}, not stage {}",
                req.stage
            ));
        }
    }
    if !reasons.is_empty() {
        reasons.push(format!("(read from {})", path.display()));
        return Err(HandoffError::ReportRejected { reasons });
    }
    let report = req.report_path.to_string_lossy();
    let ledger = Ledger::new(&req.plan_run_root, req.lock_timeout);
    // One id, one entry: the key slugged, or raw text the ledger's rows already use.
    let key = ledger.resolve_key(&req.impl_task_key)?;
    let head = match &req.head_commit {
        Some(h) => Some(h.trim().to_string()),
        None => done_head(&ledger, &key, req.stage)?,
    };
    let appended =
        ledger.append_verified_at(&key, req.stage, "accepted", &report, head.as_deref())?;
    Ok(Appended {
        appended,
        task_key: key,
    })
}

/// The `head_commit` of the task's last `done` row for `stage`, if any.
fn done_head(ledger: &Ledger, key: &str, stage: u32) -> Result<Option<String>, HandoffError> {
    let rows = ledger.read()?.rows;
    let mine: Vec<Value> = rows
        .into_iter()
        .filter(|r| r.get("impl_task_key").and_then(Value::as_str) == Some(key))
        .collect();
    Ok(ledger::latest_done_by_stage(&mine)
        .get(&stage)
        .and_then(|r| r.get("head_commit"))
        .and_then(Value::as_str)
        .filter(|h| matches!(h.len(), 40 | 64) && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string))
}

/// The PR a stage group was handed off in.
#[derive(Debug, Clone)]
pub struct RecordPrRequest {
    pub plan_run_root: PathBuf,
    pub impl_task_key: String,
    pub stages: Vec<u32>,
    /// The PR's head branch (the collector branch).
    pub branch: String,
    pub url: String,
    /// Bound on the ledger lock wait (resolved at the boundary).
    pub lock_timeout: Duration,
    /// Create a missing plan run root (default: refused with `E_INVALID_ARG`).
    pub create: bool,
}

/// Records the PR (idempotent per branch, so re-running after `gh pr create` reused a PR
/// converges on one row). Errors: `E_INVALID_ARG` (no stages, empty branch or url).
pub fn record_pr(req: &RecordPrRequest) -> Result<Appended, HandoffError> {
    if req.url.trim().is_empty() {
        return Err(InvalidArg("url must not be empty".into()).into());
    }
    let ledger = Ledger::new(&req.plan_run_root, req.lock_timeout).creating(req.create);
    let key = ledger.resolve_key(&req.impl_task_key)?;
    let appended = ledger.append_pr(&key, &req.stages, &req.branch, &req.url)?;
    Ok(Appended {
        appended,
        task_key: key,
    })
}
