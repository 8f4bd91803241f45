//! `project.json`: `<root>/.okstra/project.json`, falling back to the legacy
//! `<root>/.project-docs/okstra/project.json`. Provisioning reads its sync fields;
//! [`upsert_project_json`] owns its identity fields.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::WorktreeError;
use crate::fsio::{self, io_err, FsError};
use crate::safe_open;

/// Current location, relative to the project root.
const CURRENT: [&str; 2] = [".okstra", "project.json"];
/// Legacy location, relative to the project root.
const LEGACY: [&str; 3] = [".project-docs", "okstra", "project.json"];

fn rel(parts: &[&str]) -> PathBuf {
    parts.iter().collect()
}

/// A project.json's location and its top-level object.
pub type Found = (PathBuf, Map<String, Value>);

/// The project.json in effect for `root` (the current location when it exists, else the
/// legacy one) as its path below `root` and its bytes; `None` when there is none. Read
/// through [`crate::safe_open`]: a symlink at `.okstra`, at the file or on the legacy path,
/// a FIFO or device there, or a file over 1 MiB is `E_UNSAFE_FILE` / `E_FILE_TOO_LARGE`.
fn find(root: &Path) -> Result<Option<(PathBuf, Vec<u8>)>, FsError> {
    for parts in [&CURRENT[..], &LEGACY[..]] {
        let at = rel(parts);
        if let Some(bytes) = safe_open::read_in(root, &at, safe_open::PROJECT_JSON)? {
            return Ok(Some((at, bytes)));
        }
    }
    Ok(None)
}

/// Reads the project.json in effect as a JSON object. `Ok(None)` when there is none.
pub fn read(root: &Path) -> Result<Option<Found>, WorktreeError> {
    Ok(read_rel(root)?.map(|(at, map)| (root.join(at), map)))
}

/// [`read`] with the path relative to `root`.
fn read_rel(root: &Path) -> Result<Option<Found>, WorktreeError> {
    let Some((at, bytes)) = find(root)? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some((at, map))),
        Ok(_) => Err(WorktreeError::ProjectJsonInvalid {
            path: root.join(at),
            detail: "the top level is not an object".into(),
        }),
        Err(e) => Err(WorktreeError::ProjectJsonInvalid {
            path: root.join(at),
            detail: e.to_string(),
        }),
    }
}

/// The `projectId` the project.json in effect for `root` registers; `Ok(None)` when there is
/// no project.json or its `projectId` is missing or blank. A project.json that cannot be
/// used (a symlink or FIFO on the way, over its bound, not a JSON object) is its error
/// (`E_UNSAFE_FILE`, `E_FILE_TOO_LARGE`, `E_PROJECT_JSON_INVALID`), never taken as absent.
pub fn project_id(root: &Path) -> Result<Option<String>, WorktreeError> {
    let Some((_, data)) = read(root)? else {
        return Ok(None);
    };
    let id = data
        .get("projectId")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    Ok((!id.is_empty()).then(|| id.to_string()))
}

/// Registers `project_id` for `project_root` in its project.json and returns the whole
/// object written. Owns only `projectId`, `projectRoot` (absolute), `createdAt` (kept once
/// set) and `updatedAt`; every other field is kept as it was. Writes where the file already
/// is (legacy location included), else creates `.okstra/project.json`; atomically.
///
/// Errors: `E_PROJECT_ID_MISMATCH` when the file registers another id,
/// `E_PROJECT_JSON_INVALID` when it is not a JSON object, `E_INVALID_ARG` for an empty id;
/// the file is left unchanged in every case. Concurrent upserts of one root are serialized by
/// a `flock` on the root directory, waited for at most `lock_timeout` (`E_LOCK_TIMEOUT`).
pub fn upsert_project_json(
    project_root: &Path,
    project_id: &str,
    lock_timeout: Duration,
) -> Result<Map<String, Value>, WorktreeError> {
    crate::ids::check_segment("projectId", project_id)?;
    crate::ids::check_dir("projectRoot", project_root)?;
    let abs_root = std::path::absolute(project_root).map_err(io_err("resolve", project_root))?;
    let when = crate::registry::now_stamp();
    // Two upserts at once must not lose each other's read-modify-write: they take a lock on
    // the project root directory itself (no lock file is left in the repository).
    std::fs::create_dir_all(project_root).map_err(io_err("create directory", project_root))?;
    let _guard = fsio::LockGuard::acquire_dir(project_root, lock_timeout)?;
    let (at, mut data) = match read_rel(project_root)? {
        Some(found) => found,
        None => (rel(&CURRENT), Map::new()),
    };
    let path = project_root.join(&at);
    if let Some(existing) = data.get("projectId").and_then(Value::as_str) {
        if !existing.is_empty() && existing != project_id {
            return Err(WorktreeError::ProjectIdMismatch {
                path,
                existing: existing.to_string(),
                requested: project_id.to_string(),
            });
        }
    }
    let created = data
        .get("createdAt")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| when.clone(), str::to_string);
    data.insert("projectId".into(), Value::String(project_id.into()));
    data.insert(
        "projectRoot".into(),
        Value::String(abs_root.to_string_lossy().into_owned()),
    );
    data.insert("createdAt".into(), Value::String(created));
    data.insert("updatedAt".into(), Value::String(when));
    let mut text =
        serde_json::to_string_pretty(&data).map_err(|e| WorktreeError::ProjectJsonInvalid {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    text.push('\n');
    // The directory is reached without following a symlink (a committed `.okstra ->
    // ../outside` is refused); the atomic write then never follows one at the file.
    safe_open::dir_in(project_root, at.parent().unwrap_or(Path::new("")))?;
    fsio::atomic_write(&path, text.as_bytes())?;
    Ok(data)
}
