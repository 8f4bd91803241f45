//! The on-disk registry document: load (refusing anything invalid), save (atomic, in the
//! Python helper's exact layout) and salvage of a corrupt file.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::entry::WorktreeEntry;
use super::{cache, RegistryError};
use crate::fsio;

/// The whole `registry.json`: `tasks`, `branches` and any top-level keys we do not know.
#[derive(Debug, Default)]
pub struct Doc {
    top: Map<String, Value>,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

impl Doc {
    /// Reads the registry. A missing file is an empty registry; an unreadable one, invalid
    /// JSON, or a row of the wrong shape is [`RegistryError::Corrupt`] and the file is left
    /// as it is.
    pub fn load(path: &Path) -> Result<Doc, RegistryError> {
        Doc::from_bytes(path, Doc::read(path)?.as_deref())
    }

    /// The file's bytes, `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Vec<u8>>, RegistryError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(corrupt(path, format!("cannot be read: {e}"))),
        }
    }

    /// [`Doc::load`] of bytes already read (`None`: no file, an empty registry).
    pub fn from_bytes(path: &Path, bytes: Option<&[u8]>) -> Result<Doc, RegistryError> {
        let Some(bytes) = bytes else {
            return Ok(Doc::default());
        };
        let doc = Doc::parse(bytes).map_err(|d| corrupt(path, d))?;
        doc.entries().map_err(|d| corrupt(path, d))?;
        Ok(doc)
    }

    /// Reads only the row for `key`: the whole file is still checked to be valid JSON with
    /// a `tasks` object, but only that row is decoded. The rows are kept undecoded in this
    /// process and reused while the file is unchanged (see [`super::cache`]), so a repeated
    /// lookup costs one `stat` and one row. A missing file or key is `None`.
    pub fn load_row(path: &Path, key: &str) -> Result<Option<WorktreeEntry>, RegistryError> {
        let rows = match std::fs::metadata(path) {
            Ok(m) => {
                let stamp = cache::Stamp::of(&m);
                match cache::get(path, &stamp) {
                    Some(rows) => rows,
                    None => Doc::read_rows(path, stamp)?,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(corrupt(path, format!("cannot be read: {e}"))),
        };
        let Some(raw) = rows.get(key) else {
            return Ok(None);
        };
        let row: Value = serde_json::from_str(raw.get())
            .map_err(|e| corrupt(path, format!("row {key:?}: {e}")))?;
        WorktreeEntry::from_row(key, &row)
            .map(Some)
            .map_err(|d| corrupt(path, d))
    }

    /// Reads the rows of `path` undecoded and offers them to the cache under the stamp seen
    /// before the read (the file is replaced whole by rename, so what was read is either that
    /// version or a newer one; a newer one has a fresh mtime and is not kept).
    fn read_rows(path: &Path, stamp: cache::Stamp) -> Result<Arc<cache::Rows>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Skim {
            #[serde(default)]
            tasks: Option<cache::Rows>,
        }
        let read_at = SystemTime::now();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(corrupt(path, format!("cannot be read: {e}"))),
        };
        if bytes.is_empty() && !path.exists() {
            return Ok(Arc::default());
        }
        let skim: Skim = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(path, format!("invalid JSON or shape: {e}")))?;
        let rows = Arc::new(skim.tasks.unwrap_or_default());
        if bytes.len() as u64 == stamp.size() {
            cache::put(path, stamp, read_at, rows.clone());
        }
        Ok(rows)
    }

    fn parse(bytes: &[u8]) -> Result<Doc, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
        let Value::Object(mut top) = value else {
            return Err("the top level is not a JSON object".into());
        };
        for section in ["tasks", "branches"] {
            match top.get(section) {
                None => {
                    top.insert(section.into(), Value::Object(Map::new()));
                }
                Some(Value::Object(_)) => {}
                Some(_) => return Err(format!("{section:?} is not an object")),
            }
        }
        if let Some((b, _)) = top["branches"]
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| !v.is_string()))
        {
            return Err(format!("branch index entry {b:?} is not a string"));
        }
        Ok(Doc { top })
    }

    fn section(&self, name: &str) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.top
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    fn section_mut(&mut self, name: &str) -> &mut Map<String, Value> {
        let v = self
            .top
            .entry(name)
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut().expect("just made an object")
    }

    /// Raw rows by task key.
    pub fn tasks(&self) -> &Map<String, Value> {
        self.section("tasks")
    }

    /// Raw rows by task key, for in-place edits that keep unknown fields.
    pub fn tasks_mut(&mut self) -> &mut Map<String, Value> {
        self.section_mut("tasks")
    }

    /// The branch index: branch → owning task key.
    pub fn branches(&self) -> &Map<String, Value> {
        self.section("branches")
    }

    /// The branch index, mutable.
    pub fn branches_mut(&mut self) -> &mut Map<String, Value> {
        self.section_mut("branches")
    }

    /// The typed row for `key`, if present.
    pub fn entry(&self, key: &str) -> Result<Option<WorktreeEntry>, String> {
        self.tasks()
            .get(key)
            .map(|row| WorktreeEntry::from_row(key, row))
            .transpose()
    }

    /// Every row, typed, in file order.
    pub fn entries(&self) -> Result<Vec<WorktreeEntry>, String> {
        self.tasks()
            .iter()
            .map(|(k, row)| WorktreeEntry::from_row(k, row))
            .collect()
    }

    /// The bytes Python's `json.dumps(data, indent=2, ensure_ascii=False) + "\n"` writes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(&self.top).expect("a JSON map always serializes");
        out.push(b'\n');
        out
    }

    /// Atomically replaces the file at `path` with this document.
    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        Ok(fsio::atomic_write(path, &self.to_bytes())?)
    }

    /// Rebuilds a document from the valid rows of a corrupt file. Returns the document and
    /// how many row-like objects had to be dropped.
    pub fn salvage(bytes: &[u8]) -> (Doc, usize) {
        if let Ok(mut doc) = Doc::parse(bytes) {
            let mut dropped = 0;
            doc.tasks_mut().retain(|k, row| {
                let ok = WorktreeEntry::from_row(k, row).is_ok();
                dropped += usize::from(!ok);
                ok
            });
            doc.reindex_branches();
            return (doc, dropped);
        }
        let text = String::from_utf8_lossy(bytes);
        let mut doc = Doc::default();
        let mut dropped = 0;
        for (key, row) in row_candidates(&text) {
            match row {
                Some(row) if WorktreeEntry::from_row(&key, &row).is_ok() => {
                    doc.tasks_mut().insert(key, row);
                }
                _ => dropped += 1,
            }
        }
        doc.reindex_branches();
        (doc, dropped)
    }

    /// Makes the branch index agree with the active rows: keeps only entries that point at
    /// an active row owning that branch, and adds the missing ones.
    fn reindex_branches(&mut self) {
        let owners: Vec<(String, String)> = self
            .entries()
            .unwrap_or_default()
            .into_iter()
            .filter(WorktreeEntry::is_active)
            .map(|e| (e.branch, e.task_key))
            .collect();
        let branches = self.branches_mut();
        branches.retain(|b, k| {
            owners
                .iter()
                .any(|(ob, ok)| ob == b && Some(ok.as_str()) == k.as_str())
        });
        for (b, k) in owners {
            branches.entry(b).or_insert(Value::String(k));
        }
    }
}

/// Every `"<task key>": {` in a damaged text, with the object parsed from there if it
/// parses. A task key always holds `/`, which tells rows apart from the `tasks` section.
fn row_candidates(text: &str) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('{') {
        let Some(key) = key_before(&text[..i]) else {
            continue;
        };
        if !key.contains('/') {
            continue;
        }
        let row = serde_json::Deserializer::from_str(&text[i..])
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
            .filter(Value::is_object);
        out.push((key, row));
    }
    out
}

/// The JSON string key standing right before `: ` at the end of `prefix`, if any.
fn key_before(prefix: &str) -> Option<String> {
    let rest = prefix.trim_end().strip_suffix(':')?.trim_end();
    let body = rest.strip_suffix('"')?;
    let bytes = body.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        if bytes[i] == b'"' {
            let backslashes = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
            if backslashes % 2 == 0 {
                return serde_json::from_str(&rest[i..]).ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"project_id": "p", "task_group": "g", "task_id": "t", "worktree_path": "/w", "branch": "b", "base_ref": "", "created_at": "", "last_phase": "", "status": "active"}"#;

    #[test]
    fn salvages_rows_from_a_truncated_file() {
        let full = format!(
            "{{\n  \"tasks\": {{\n    \"p/g/t\": {ROW},\n    \"p/g/u\": {}\n",
            &ROW.replace("\"b\"", "\"c\"")[..40]
        );
        let (doc, dropped) = Doc::salvage(full.as_bytes());
        assert_eq!(doc.tasks().len(), 1);
        assert_eq!(dropped, 1);
        assert_eq!(doc.branches()["b"], "p/g/t");
    }

    #[test]
    fn salvage_drops_bad_rows_of_valid_json() {
        let text = format!(
            r#"{{"tasks": {{"p/g/t": {ROW}, "p/g/x": {{"branch": 3}}}}, "branches": {{"zz": "p/g/x"}}, "extra": 1}}"#
        );
        let (doc, dropped) = Doc::salvage(text.as_bytes());
        assert_eq!(dropped, 1);
        assert_eq!(doc.tasks().len(), 1);
        assert!(doc.branches().get("zz").is_none());
        assert_eq!(doc.top["extra"], 1);
    }

    #[test]
    fn key_before_handles_escapes() {
        assert_eq!(key_before(r#"  "a\"b/c": "#).as_deref(), Some("a\"b/c"));
        assert_eq!(key_before(r#"[1, "#), None);
    }
}
