//! One registry row: the typed view callers get, read from (and written back into) the
//! free-form JSON object the Python helper stored, so unknown fields survive.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::InvalidArg;

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
    pub status: EntryStatus,
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

/// A row's `status`: whether the entry owns its worktree and branch. Stored (and shown) as
/// `"active"` / `"released"`; a row without one is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    /// Reserved: the entry owns its worktree and its branch.
    Active,
    /// After `release`: the row, directory and branch are kept; the branch slot is free.
    Released,
}

impl EntryStatus {
    /// The stored string.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Released => "released",
        }
    }

    /// The status a caller named (a filter): `E_INVALID_ARG` for anything else.
    pub fn parse(s: &str) -> Result<EntryStatus, InvalidArg> {
        match s {
            "active" => Ok(EntryStatus::Active),
            "released" => Ok(EntryStatus::Released),
            _ => Err(InvalidArg(format!(
                "status {s:?} is not a registry status; use \"active\" or \"released\""
            ))),
        }
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
            None => EntryStatus::Active,
            Some(Value::String(s)) if s == "active" => EntryStatus::Active,
            Some(Value::String(s)) if s == "released" => EntryStatus::Released,
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
        self.status == EntryStatus::Active
    }
}
