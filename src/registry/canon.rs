//! A registry file in the writers' exact layout, read and edited in place: its bytes and
//! their [`Layout`]. A lookup decodes one row; a reservation splices the changed row and
//! branch index entry into the old bytes, which gives exactly the bytes of re-serializing
//! the whole changed document (what Python's `json.dumps(indent=2, ensure_ascii=False)`
//! writes) at the cost of one copy instead of a parse and a serialization of every row.

use std::ops::Range;
use std::path::Path;

use serde_json::Value;

use super::entry::WorktreeEntry;
use super::layout::{decode_key, token, Layout, Member, Section};
use super::store::Doc;
use super::RegistryError;

/// What a registry with no file is written as (the sections a first write creates).
const EMPTY: &[u8] = b"{\n  \"tasks\": {},\n  \"branches\": {}\n}\n";

/// Registry bytes in the writers' layout and where their rows are. Every row is valid.
#[derive(Debug, Clone)]
pub struct Canon {
    pub bytes: Vec<u8>,
    pub layout: Layout,
}

/// Which section an edit goes to.
#[derive(Clone, Copy)]
enum Which {
    Tasks,
    Branches,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

impl Canon {
    /// The registry read from `path` as `bytes` (`None`: no file, an empty registry). Bytes
    /// in the writers' layout are taken as they are (one scan); anything else is parsed and
    /// validated in full (a corrupt file is refused with its reason, as every read does) and
    /// re-serialized, which is what any write would store.
    pub fn of(path: &Path, bytes: Option<Vec<u8>>) -> Result<Canon, RegistryError> {
        #[cfg(test)]
        reads::count(path);
        let bytes = bytes.unwrap_or_else(|| EMPTY.to_vec());
        if let Some(layout) = Layout::scan(&bytes) {
            return Ok(Canon { bytes, layout });
        }
        let (doc, _) = Doc::from_bytes(path, &bytes)?;
        let bytes = doc.to_bytes();
        let layout = Layout::scan(&bytes).ok_or_else(|| {
            corrupt(
                path,
                "it parses but its re-serialization does not (please report this)",
            )
        })?;
        Ok(Canon { bytes, layout })
    }

    /// The stored row of `key`, decoded.
    pub fn row(&self, key: &str) -> Option<Value> {
        let m = self.layout.tasks.get(&self.bytes, &token(key))?;
        serde_json::from_slice(&self.bytes[m.value.clone()]).ok()
    }

    /// The typed row of `key` (the scan validated it).
    pub fn entry(&self, key: &str) -> Option<WorktreeEntry> {
        WorktreeEntry::from_row(key, &self.row(key)?).ok()
    }

    /// The active owner of `branch` other than `key`, if any: the indexed key when it is an
    /// active row on that branch, else the first active row on that branch in file order (an
    /// index entry to a missing or released key, or to a row now on another branch, owns
    /// nothing). Decodes at most one key.
    pub fn active_owner(&self, branch: &str, key: &str) -> Option<String> {
        let branch_token = token(branch);
        let key_token = token(key);
        let tasks = &self.layout.tasks;
        let on = |i: usize| {
            let r = &self.layout.rows[i];
            r.active
                && self.bytes[r.branch.clone()] == branch_token[..]
                && self.bytes[tasks.members[i].key.clone()] != key_token[..]
        };
        // An index value is a string token in the layout's one spelling, so it is the
        // owner's key token as it stands.
        let indexed = self
            .layout
            .branches
            .get(&self.bytes, &branch_token)
            .and_then(|m| tasks.find(&self.bytes, &self.bytes[m.value.clone()]))
            .filter(|&i| on(i));
        let i = indexed.or_else(|| (0..tasks.members.len()).find(|&i| on(i)))?;
        decode_key(&self.bytes[tasks.members[i].key.clone()])
    }

    /// Sets the row of `key` (replacing its value in place, or appending a member).
    pub fn set_row(&mut self, key: &str, row: &Value) -> Result<(), String> {
        let text = pretty_at(row, 2)?;
        let mut facts = Vec::new();
        if !super::layout::row_facts(&text, &mut facts) {
            return Err(format!("row {key:?} is not a valid row"));
        }
        let mut fact = facts.pop().ok_or("no row")?;
        let (at, i) = self.set(Which::Tasks, key, &text);
        fact.branch = fact.branch.start + at..fact.branch.end + at;
        match self.layout.rows.get_mut(i) {
            Some(row) => *row = fact,
            None => self.layout.rows.push(fact),
        }
        Ok(())
    }

    /// Points the branch index entry of `branch` at `key`.
    pub fn set_branch(&mut self, branch: &str, key: &str) -> Result<(), String> {
        let text = serde_json::to_vec(key).map_err(|e| e.to_string())?;
        self.set(Which::Branches, branch, &text);
        Ok(())
    }

    /// Removes the branch index entry of `branch` when it names `key` (an entry naming
    /// another key is that key's).
    pub fn free_branch(&mut self, branch: &str, key: &str) {
        let sec = &self.layout.branches;
        let Some(i) = sec.find(&self.bytes, &token(branch)) else {
            return;
        };
        if self.bytes[sec.members[i].value.clone()] != token(key)[..] {
            return;
        }
        let m = &sec.members[i];
        // The member and the separator before it; the first member takes the one after it,
        // and the last one left takes the whole body (`{\n    "b": "k"\n  }` becomes `{}`).
        let range = match (i, sec.members.len()) {
            (_, 1) => sec.open + 1..sec.close,
            (0, _) => m.key.start..sec.members[1].key.start,
            _ => sec.members[i - 1].value.end..m.value.end,
        };
        self.layout.branches.remove(&self.bytes, i);
        self.splice(range, b"", false);
    }

    /// Writes `value` (already in the layout of a depth-2 value) as the member `key` of a
    /// section; returns the offset the value now starts at and the member's index.
    fn set(&mut self, which: Which, key: &str, value: &[u8]) -> (usize, usize) {
        let quoted = token(key);
        let sec = section(&mut self.layout, which);
        if let Some(i) = sec.find(&self.bytes, &quoted) {
            let range = sec.members[i].value.clone();
            self.splice(range.clone(), value, false);
            return (range.start, i);
        }
        let mut text = Vec::with_capacity(quoted.len() + value.len() + 16);
        let (range, lead) = match sec.members.last() {
            // `{}` becomes `{\n    "key": value\n  }`.
            None => (sec.open..sec.close + 1, &b"{\n    "[..]),
            Some(last) => (last.value.end..last.value.end, &b",\n    "[..]),
        };
        let empty = sec.members.is_empty();
        text.extend_from_slice(lead);
        let key_at = range.start + text.len();
        text.extend_from_slice(&quoted);
        text.extend_from_slice(b": ");
        let start = range.start + text.len();
        text.extend_from_slice(value);
        if empty {
            text.extend_from_slice(b"\n  }");
        }
        self.splice(range.clone(), &text, !empty);
        let member = Member {
            key: key_at..key_at + quoted.len(),
            value: start..start + value.len(),
        };
        let sec = section(&mut self.layout, which);
        if empty {
            sec.close = range.start + text.len() - 1;
        }
        sec.push(&self.bytes, member);
        (start, sec.members.len() - 1)
    }

    /// Replaces `range` with `text` and moves every offset after it. An insertion (`range`
    /// empty, `insert`) leaves an offset equal to its position where it is (the end of the
    /// value before it); a replacement moves the end of the replaced value with the rest.
    fn splice(&mut self, range: Range<usize>, text: &[u8], insert: bool) {
        let delta = text.len() as isize - range.len() as isize;
        // In place: the buffer is kept between changes (see `cache::put_canon`), so its
        // pages are already there; only the tail moves.
        self.bytes.splice(range.clone(), text.iter().copied());
        self.layout
            .shift(if insert { range.end + 1 } else { range.end }, delta);
    }
}

fn section(layout: &mut Layout, which: Which) -> &mut Section {
    match which {
        Which::Tasks => &mut layout.tasks,
        Which::Branches => &mut layout.branches,
    }
}

/// `v` pretty-printed as a value at nesting `depth` (its inner lines indented to match).
fn pretty_at(v: &Value, depth: usize) -> Result<Vec<u8>, String> {
    let flat = serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?;
    let pad = 2 * depth;
    let lines = flat.iter().filter(|&&c| c == b'\n').count();
    let mut out = Vec::with_capacity(flat.len() + lines * pad);
    for &c in &flat {
        out.push(c);
        if c == b'\n' {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

/// How many times each file was read into a new [`Canon`] in this (test) process: a change
/// or lookup served from the kept copy reads nothing.
#[cfg(test)]
pub(crate) mod reads {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static READS: Mutex<Option<HashMap<PathBuf, usize>>> = Mutex::new(None);

    pub(crate) fn count(path: &Path) {
        let mut r = READS.lock().unwrap_or_else(|e| e.into_inner());
        *r.get_or_insert_with(HashMap::new)
            .entry(path.to_path_buf())
            .or_default() += 1;
    }

    pub(crate) fn of(path: &Path) -> usize {
        let r = READS.lock().unwrap_or_else(|e| e.into_inner());
        r.as_ref().and_then(|m| m.get(path)).copied().unwrap_or(0)
    }
}
