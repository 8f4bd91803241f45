//! The on-disk registry document: load (refusing anything invalid), save (atomic, in the
//! Python helper's exact layout) and salvage of a corrupt file.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::cache::Stamp;
use super::entry::{EntryStatus, WorktreeEntry};
use super::RegistryError;
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
    /// Reads the registry bytes: `None` for a missing file. A file that cannot be read
    /// (permissions, a directory, …) is `E_IO` naming the path and the OS reason — it is not
    /// corrupt, and repair could not help.
    pub fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, RegistryError> {
        Ok(Doc::read_stamped(path)?.map(|(_, bytes)| bytes))
    }

    /// Reads the registry bytes with the stamp of the very file they were read from (one
    /// descriptor: `stat` then `read` by path could describe two versions); `None` for a
    /// missing file; errors as [`Doc::read_bytes`], which is this without the stamp.
    pub fn read_stamped(path: &Path) -> Result<Option<(Stamp, Vec<u8>)>, RegistryError> {
        use std::io::Read;
        let io = |e| fsio::io_err("read registry", path)(e).into();
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let stamp = Stamp::of(&file.metadata().map_err(io)?);
        let mut bytes = Vec::with_capacity(usize::try_from(stamp.size()).unwrap_or(0) + 1);
        file.read_to_end(&mut bytes).map_err(io)?;
        Ok(Some((stamp, bytes)))
    }

    /// Reads the registry: the one validating read every call uses (writes read the bytes
    /// and call [`Doc::from_bytes`]). A missing file is an empty registry; an unreadable one
    /// is `E_IO`; invalid JSON or a row of the wrong shape is [`RegistryError::Corrupt`] and
    /// the file is left as it is. Also returns the typed rows its validation decoded (in
    /// file order), so callers that need them do not decode every row twice.
    pub fn load_typed(path: &Path) -> Result<(Doc, Vec<WorktreeEntry>), RegistryError> {
        let Some(bytes) = Doc::read_bytes(path)? else {
            return Ok((Doc::default(), Vec::new()));
        };
        Doc::from_bytes(path, &bytes)
    }

    /// Validates and parses registry bytes read from `path` (named in errors); returns the
    /// document and its typed rows.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
    ) -> Result<(Doc, Vec<WorktreeEntry>), RegistryError> {
        let doc = Doc::parse(bytes).map_err(|d| corrupt(path, d))?;
        let entries = doc.entries().map_err(|d| corrupt(path, d))?;
        Ok((doc, entries))
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
    /// how many row-like objects had to be dropped. The branch index is left as found: the
    /// caller restores the invariants ([`Doc::restore_invariants`]).
    pub fn salvage(bytes: &[u8]) -> (Doc, usize) {
        if let Ok(mut doc) = Doc::parse(bytes) {
            let mut dropped = 0;
            doc.tasks_mut().retain(|k, row| {
                let ok = WorktreeEntry::from_row(k, row).is_ok();
                dropped += usize::from(!ok);
                ok
            });
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
        (doc, dropped)
    }

    /// Restores the registry's invariants: one active row per branch (the newest is kept;
    /// the others are marked released) and a branch index that maps exactly each active
    /// row's branch to it (entries to missing, released or moved keys dropped, missing ones
    /// added). Linear in the rows. Rows that do not parse are left to the caller.
    pub fn restore_invariants(&mut self) -> Restored {
        let entries = self.entries_lenient();
        let owners = BranchOwners::of(&entries);
        let mut released = Vec::new();
        for (_, others) in owners.by_branch.values() {
            for &i in others {
                let key = &entries[i].task_key;
                if let Some(row) = self.tasks_mut().get_mut(key).and_then(Value::as_object_mut) {
                    row.insert("status".into(), EntryStatus::Released.as_str().into());
                }
                released.push(key.clone());
            }
        }
        released.sort();
        let wanted: HashMap<&str, &str> = owners
            .by_branch
            .iter()
            .map(|(b, (kept, _))| (*b, entries[*kept].task_key.as_str()))
            .collect();
        let mut index_fixed = 0u32;
        let branches = self.branches_mut();
        branches.retain(|b, k| {
            let ok = wanted.get(b.as_str()).copied() == k.as_str();
            index_fixed += u32::from(!ok);
            ok
        });
        for (b, k) in &wanted {
            if !branches.contains_key(*b) {
                branches.insert((*b).to_string(), Value::String((*k).to_string()));
                index_fixed += 1;
            }
        }
        Restored {
            released,
            index_fixed,
        }
    }

    /// Every row that parses, typed, in file order (rows that do not are skipped).
    pub fn entries_lenient(&self) -> Vec<WorktreeEntry> {
        self.tasks()
            .iter()
            .filter_map(|(k, row)| WorktreeEntry::from_row(k, row).ok())
            .collect()
    }
}

/// What [`Doc::restore_invariants`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Keys that were a second active row on a branch, now released.
    pub released: Vec<String>,
    /// Branch index entries dropped, changed or added.
    pub index_fixed: u32,
}

/// The active rows of each branch: which one owns it and which others claim it too.
pub struct BranchOwners<'a> {
    /// branch → (index of the owner in the entries, indexes of the other active rows).
    pub by_branch: HashMap<&'a str, (usize, Vec<usize>)>,
}

impl<'a> BranchOwners<'a> {
    /// Groups the active entries by branch; the owner is the newest row (latest
    /// `created_at`, the later row in the file on a tie or an unreadable time).
    pub fn of(entries: &'a [WorktreeEntry]) -> BranchOwners<'a> {
        let mut by_branch: HashMap<&'a str, (usize, Vec<usize>)> = HashMap::new();
        for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.is_active()) {
            match by_branch.get_mut(e.branch.as_str()) {
                None => {
                    by_branch.insert(&e.branch, (i, Vec::new()));
                }
                Some((kept, others)) => {
                    if created(&entries[*kept]) <= created(e) {
                        others.push(*kept);
                        *kept = i;
                    } else {
                        others.push(i);
                    }
                }
            }
        }
        BranchOwners { by_branch }
    }
}

/// A row's creation time for ordering; rows without a readable one sort first.
fn created(e: &WorktreeEntry) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    super::entry::parse_stamp(&e.created_at)
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
        let (mut doc, dropped) = Doc::salvage(full.as_bytes());
        doc.restore_invariants();
        assert_eq!(doc.tasks().len(), 1);
        assert_eq!(dropped, 1);
        assert_eq!(doc.branches()["b"], "p/g/t");
    }

    #[test]
    fn salvage_drops_bad_rows_of_valid_json() {
        let text = format!(
            r#"{{"tasks": {{"p/g/t": {ROW}, "p/g/x": {{"branch": 3}}}}, "branches": {{"zz": "p/g/x"}}, "extra": 1}}"#
        );
        let (mut doc, dropped) = Doc::salvage(text.as_bytes());
        doc.restore_invariants();
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
