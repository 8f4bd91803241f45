//! One registry row: the typed view callers get, read from (and written back into) the
//! free-form JSON object the Python helper stored, so unknown fields survive.

use serde::Serialize;
use serde_json::{Map, Value};

/// A registered worktree. Serializes camelCase, as the JS API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreeEntry {
    pub task_key: String,
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    pub worktree_path: String,
    pub branch: String,
    pub base_ref: String,
    pub created_at: String,
    pub last_phase: String,
    /// `active` or `released`.
    pub status: String,
    pub stage: Option<u32>,
    pub implementation_base_commit: String,
    pub stages: Option<Vec<u32>>,
}

/// The time format of `created_at` (and of project.json's `createdAt` / `updatedAt`): local
/// time with its UTC offset, `2026-11-20T10:00:00+0900`, as the Python helper wrote it.
pub const STAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%z";

/// The current local time in [`STAMP_FORMAT`].
pub fn now_stamp() -> String {
    chrono::Local::now().format(STAMP_FORMAT).to_string()
}

/// A time written in [`STAMP_FORMAT`]; `None` when it is not one.
pub fn parse_stamp(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_str(s, STAMP_FORMAT).ok()
}

/// Row status of a reserved entry.
pub const ACTIVE: &str = "active";
/// Row status after `release`.
pub const RELEASED: &str = "released";

fn text(row: &Map<String, Value>, field: &str, required: bool) -> Result<String, String> {
    match row.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None => Err(format!("field {field:?} is missing")),
        Some(other) => Err(format!("field {field:?} is not a string: {other}")),
    }
}

fn number(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

impl WorktreeEntry {
    /// Reads a stored row. Fields the Python dataclass required must be strings; the ones it
    /// defaulted may be missing. Anything of the wrong type is an error (the caller reports
    /// the registry as corrupt rather than guessing).
    pub fn from_row(key: &str, row: &Value) -> Result<WorktreeEntry, String> {
        let row = row
            .as_object()
            .ok_or_else(|| format!("row {key:?} is not an object"))?;
        let status = match row.get("status") {
            None => ACTIVE.to_string(),
            Some(Value::String(s)) if s == ACTIVE || s == RELEASED => s.clone(),
            Some(other) => return Err(format!("row {key:?} has status {other}")),
        };
        let stage = match row.get("stage") {
            None | Some(Value::Null) => None,
            Some(v) => Some(number(v).ok_or_else(|| format!("row {key:?} has stage {v}"))?),
        };
        let stages = match row.get("stages") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| number(v).ok_or_else(|| format!("row {key:?} has stages entry {v}")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(v) => return Err(format!("row {key:?} has stages {v}")),
        };
        let field = |f: &str, required: bool| {
            text(row, f, required).map_err(|e| format!("row {key:?}: {e}"))
        };
        Ok(WorktreeEntry {
            task_key: key.to_string(),
            project_id: field("project_id", true)?,
            task_group: field("task_group", true)?,
            task_id: field("task_id", true)?,
            worktree_path: field("worktree_path", true)?,
            branch: field("branch", true)?,
            base_ref: field("base_ref", false)?,
            created_at: field("created_at", false)?,
            last_phase: field("last_phase", false)?,
            status,
            stage,
            implementation_base_commit: field("implementation_base_commit", false)?,
            stages,
        })
    }

    /// Whether the entry currently owns its worktree and branch.
    pub fn is_active(&self) -> bool {
        self.status == ACTIVE
    }
}
