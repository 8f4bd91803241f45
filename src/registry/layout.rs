//! One pass over `registry.json` bytes that are exactly in the layout every writer produces
//! (Python's `json.dumps(data, indent=2, ensure_ascii=False) + "\n"`, which
//! [`super::store::Doc::to_bytes`] reproduces): it validates every row without building it
//! and records where each row and branch index entry sits, so a lookup decodes one row and a
//! reservation rewrites the file by splicing the changed bytes into the old ones.
//!
//! The scan answers `None` for anything else — another layout (a hand edit, another tool),
//! duplicate keys, floats or very long integers (whose re-serialization could differ), a
//! missing section, or a row that fails validation — and the caller then takes the full
//! path (parse everything, refuse a corrupt file with its precise reason, re-serialize the
//! whole document). So a layout accepted here re-serializes to exactly these bytes: a splice
//! that writes changed members in the same layout keeps the file equal to the full
//! re-serialization of the changed document.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::bytescan::plain_run;

/// One member of the `tasks` or `branches` object.
#[derive(Debug, Clone)]
pub struct Member {
    /// Byte range of the key's string token (quotes included).
    pub key: Range<usize>,
    /// Byte range of the value.
    pub value: Range<usize>,
}

/// The `tasks` or `branches` object: where it opens and closes, and its members in order.
///
/// Members are found by their key's string token as it stands in the file: the layout
/// allows one spelling per string (see [`Scanner::string`]), the one `serde_json` writes
/// ([`token`]), so equal keys have equal tokens and no key is decoded to be indexed.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Offset of `{`.
    pub open: usize,
    /// Offset of the matching `}`.
    pub close: usize,
    pub members: Vec<Member>,
    /// (hash of the key token, index in `members`).
    index: HashTable<(u64, usize)>,
}

/// The string token `serde_json` (and the Python helper) writes for `s`: the form a key
/// has in a file in the layout.
pub fn token(s: &str) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

fn hash(token: &[u8]) -> u64 {
    FxBuildHasher.hash_one(token)
}

impl Section {
    /// The index in `members` of the member whose key token (in `bytes`) is `token`.
    pub fn find(&self, bytes: &[u8], token: &[u8]) -> Option<usize> {
        let at = |i: usize| bytes.get(self.members[i].key.clone());
        self.index
            .find(hash(token), |&(_, i)| at(i) == Some(token))
            .map(|&(_, i)| i)
    }

    /// The member whose key token (in `bytes`) is `token`, if present.
    pub fn get(&self, bytes: &[u8], token: &[u8]) -> Option<&Member> {
        self.find(bytes, token).map(|i| &self.members[i])
    }

    /// Appends `member` (its key token in `bytes`); `false`, and nothing added, when a
    /// member with that key exists.
    pub fn push(&mut self, bytes: &[u8], member: Member) -> bool {
        let token = &bytes[member.key.clone()];
        let h = hash(token);
        let members = &self.members;
        let same = |&(_, i): &(u64, usize)| bytes.get(members[i].key.clone()) == Some(token);
        if self.index.find(h, same).is_some() {
            return false;
        }
        self.index
            .insert_unique(h, (h, self.members.len()), |&(h, _)| h);
        self.members.push(member);
        true
    }

    /// Removes member `i` (whose key token is in `bytes`); later members move up one.
    pub fn remove(&mut self, bytes: &[u8], i: usize) {
        let token = &bytes[self.members[i].key.clone()];
        if let Ok(entry) = self.index.find_entry(hash(token), |&(_, j)| j == i) {
            entry.remove();
        }
        for (_, j) in self.index.iter_mut() {
            if *j > i {
                *j -= 1;
            }
        }
        self.members.remove(i);
    }

    fn shift(&mut self, at: usize, delta: isize) {
        let mv = |p: &mut usize| {
            if *p >= at {
                *p = p.wrapping_add_signed(delta);
            }
        };
        mv(&mut self.open);
        mv(&mut self.close);
        for m in &mut self.members {
            mv(&mut m.key.start);
            mv(&mut m.key.end);
            mv(&mut m.value.start);
            mv(&mut m.value.end);
        }
    }
}

/// What validation learned about one row, enough to decide branch ownership without
/// decoding it.
#[derive(Debug, Clone)]
pub struct RowFacts {
    /// The row's status is `active` (or absent, which means active).
    pub active: bool,
    /// Byte range of the `branch` string token, quotes included.
    pub branch: Range<usize>,
}

/// Where things are in a registry file in the writers' layout; every row valid.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub tasks: Section,
    pub branches: Section,
    /// Per member of `tasks`, in the same order.
    pub rows: Vec<RowFacts>,
}

impl Layout {
    /// Scans `bytes`; `None` when they are not a valid registry in the writers' layout.
    pub fn scan(bytes: &[u8]) -> Option<Layout> {
        std::str::from_utf8(bytes).ok()?;
        let mut s = Scanner { b: bytes, i: 0 };
        let layout = s.top()?;
        (s.i == bytes.len()).then_some(layout)
    }

    /// Moves every recorded offset at or after `at` by `delta` (after bytes were inserted or
    /// removed there).
    pub fn shift(&mut self, at: usize, delta: isize) {
        self.tasks.shift(at, delta);
        self.branches.shift(at, delta);
        for r in &mut self.rows {
            if r.branch.start >= at {
                r.branch.start = r.branch.start.wrapping_add_signed(delta);
                r.branch.end = r.branch.end.wrapping_add_signed(delta);
            }
        }
    }
}

/// Scans `text`, one row in the layout of a value at depth 2, and pushes its facts (offsets
/// relative to `text`); `false` when it is not a valid row in that layout.
pub fn row_facts(text: &[u8], facts: &mut Vec<RowFacts>) -> bool {
    let mut s = Scanner { b: text, i: 0 };
    std::str::from_utf8(text).is_ok() && s.row(facts).is_some() && s.i == text.len()
}

/// Which fields of a row must be which JSON kind (the rules of `WorktreeEntry::from_row`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Required,
    Optional,
    Status,
    Stage,
    Stages,
    Unknown,
}

/// The rule for a row field and its bit among the known fields (`0` for an unknown one).
fn field_of(raw_key: &[u8]) -> (Field, u16) {
    match raw_key {
        b"\"project_id\"" => (Field::Required, 1),
        b"\"task_group\"" => (Field::Required, 1 << 1),
        b"\"task_id\"" => (Field::Required, 1 << 2),
        b"\"worktree_path\"" => (Field::Required, 1 << 3),
        b"\"branch\"" => (Field::Required, 1 << 4),
        b"\"base_ref\"" => (Field::Optional, 1 << 5),
        b"\"created_at\"" => (Field::Optional, 1 << 6),
        b"\"last_phase\"" => (Field::Optional, 1 << 7),
        b"\"implementation_base_commit\"" => (Field::Optional, 1 << 8),
        b"\"status\"" => (Field::Status, 1 << 9),
        b"\"stage\"" => (Field::Stage, 1 << 10),
        b"\"stages\"" => (Field::Stages, 1 << 11),
        _ => (Field::Unknown, 0),
    }
}

/// The bits of the five required fields.
const REQUIRED: u16 = 0b1_1111;

/// The bit of `branch`.
const BRANCH: u16 = 1 << 4;

/// Keys seen in one object, to refuse duplicates (whose re-serialization differs).
#[derive(Default)]
struct Keys<'a> {
    few: Vec<&'a [u8]>,
    many: Option<HashSet<&'a [u8]>>,
}

impl<'a> Keys<'a> {
    /// `false` when `k` was seen already.
    fn add(&mut self, k: &'a [u8]) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(k);
        }
        if self.few.contains(&k) {
            return false;
        }
        self.few.push(k);
        if self.few.len() > 16 {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, lit: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + lit.len())? == lit {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// `\n` and the indentation of `depth` levels.
    fn newline(&mut self, depth: usize) -> Option<()> {
        self.eat(b"\n")?;
        let end = self.i + 2 * depth;
        if self.b.get(self.i..end)?.iter().all(|&c| c == b' ') {
            self.i = end;
            Some(())
        } else {
            None
        }
    }

    /// A string token in the writers' form: the only escapes are `\"`, `\\`, the short
    /// control escapes and `\u00xx` (lowercase) for the other control characters.
    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        self.eat(b"\"")?;
        loop {
            self.i += plain_run(self.b.get(self.i..)?)?;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(start..self.i);
                }
                b'\\' => self.escape()?,
                _ => return None,
            }
        }
    }

    fn escape(&mut self) -> Option<()> {
        match *self.b.get(self.i + 1)? {
            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.i += 2;
                Some(())
            }
            b'u' => {
                let hex = self.b.get(self.i + 2..self.i + 6)?;
                let lower = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                if &hex[..2] != b"00" || !hex.iter().all(lower) {
                    return None;
                }
                let v = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
                if v >= 0x20 || matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return None;
                }
                self.i += 6;
                Some(())
            }
            _ => None,
        }
    }

    /// A number that re-serializes as written: a short integer (the common case, checked
    /// here), else one whose decoded value serializes back to the same text.
    fn number(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        self.i += len;
        let t = &self.b[start..self.i];
        let digits = t.strip_prefix(b"-").unwrap_or(t);
        let short = matches!(digits.len(), 1..=18)
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || t == b"0");
        if short {
            return Some(start..self.i);
        }
        let v: serde_json::Value = serde_json::from_slice(t).ok()?;
        (v.is_number() && serde_json::to_vec(&v).ok()? == t).then_some(start..self.i)
    }

    /// Any value at nesting `depth` (the top object is 0).
    fn value(&mut self, depth: usize) -> Option<Range<usize>> {
        let start = self.i;
        match self.peek()? {
            b'{' => self.object(depth, true, |s, _| s.value(depth + 1).map(drop))?,
            b'[' => self.array(depth, |s| s.value(depth + 1).map(drop))?,
            b'"' => return self.string(),
            b't' => self.eat(b"true")?,
            b'f' => self.eat(b"false")?,
            b'n' => self.eat(b"null")?,
            _ => return self.number(),
        }
        Some(start..self.i)
    }

    /// An object at `depth`; `member` reads each value (the key's raw token given). With
    /// `dedupe`, a repeated key fails the scan (callers that index the keys check that
    /// themselves).
    fn object(
        &mut self,
        depth: usize,
        dedupe: bool,
        mut member: impl FnMut(&mut Self, Range<usize>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b"{")?;
        if self.eat(b"}").is_some() {
            return Some(());
        }
        let mut keys = Keys::default();
        loop {
            self.newline(depth + 1)?;
            let k = self.string()?;
            if dedupe && !keys.add(&self.b[k.clone()]) {
                return None;
            }
            self.eat(b": ")?;
            member(self, k)?;
            if self.eat(b",").is_none() {
                break;
            }
        }
        self.newline(depth)?;
        self.eat(b"}")
    }

    fn array(&mut self, depth: usize, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b"[")?;
        if self.eat(b"]").is_some() {
            return Some(());
        }
        loop {
            self.newline(depth + 1)?;
            item(self)?;
            if self.eat(b",").is_none() {
                break;
            }
        }
        self.newline(depth)?;
        self.eat(b"]")
    }

    fn top(&mut self) -> Option<Layout> {
        let mut tasks = None;
        let mut branches = None;
        let mut rows = Vec::new();
        self.object(0, true, |s, k| {
            match &s.b[k] {
                b"\"tasks\"" => tasks = Some(s.section(|s| s.row(&mut rows))?),
                b"\"branches\"" => branches = Some(s.section(|s| s.string().map(drop))?),
                _ => {
                    s.value(1)?;
                }
            }
            Some(())
        })?;
        self.eat(b"\n")?;
        Some(Layout {
            tasks: tasks?,
            branches: branches?,
            rows,
        })
    }

    /// The `tasks` or `branches` object (depth 1); `member` reads and checks each value.
    fn section(&mut self, mut member: impl FnMut(&mut Self) -> Option<()>) -> Option<Section> {
        let mut sec = Section {
            open: self.i,
            ..Section::default()
        };
        self.object(1, false, |s, k| {
            let start = s.i;
            member(s)?;
            let m = Member {
                key: k,
                value: start..s.i,
            };
            sec.push(s.b, m).then_some(())
        })?;
        sec.close = self.i - 1;
        Some(sec)
    }

    /// One row (depth 2), checked field by field against the rules of a typed row.
    fn row(&mut self, rows: &mut Vec<RowFacts>) -> Option<()> {
        let mut seen = 0u16;
        let mut unknown = Keys::default();
        let mut active = true;
        let mut branch = 0..0;
        self.object(2, false, |s, k| {
            let (kind, bit) = field_of(&s.b[k.clone()]);
            if seen & bit != 0 || (bit == 0 && !unknown.add(&s.b[k])) {
                return None;
            }
            seen |= bit;
            let v = s.value(3)?;
            let val = &s.b[v.clone()];
            let is_string = val[0] == b'"';
            let is_null = val == b"null";
            let ok = match kind {
                Field::Required => {
                    if bit == BRANCH {
                        branch = v.clone();
                    }
                    is_string
                }
                Field::Optional => is_string || is_null,
                Field::Status => {
                    active = val == b"\"active\"";
                    active || val == b"\"released\""
                }
                Field::Stage => is_null || is_stage(val),
                Field::Stages => is_null || is_stage_list(val),
                Field::Unknown => true,
            };
            ok.then_some(())
        })?;
        (seen & REQUIRED == REQUIRED).then(|| rows.push(RowFacts { active, branch }))
    }
}

/// A stage number: a non-negative integer that fits `u32`.
fn is_stage(val: &[u8]) -> bool {
    val[0].is_ascii_digit()
        && std::str::from_utf8(val)
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
            .is_some()
}

/// `[]` or a list of stage numbers in the writers' layout (already checked by the scan).
fn is_stage_list(val: &[u8]) -> bool {
    if val[0] != b'[' {
        return false;
    }
    val[1..val.len() - 1]
        .split(|&c| c == b',')
        .map(|t| t.trim_ascii())
        .all(|t| t.is_empty() || is_stage(t))
}

/// The key of a string token (escapes decoded).
pub fn decode_key(raw: &[u8]) -> Option<String> {
    let inner = &raw[1..raw.len() - 1];
    if inner.contains(&b'\\') {
        serde_json::from_slice(raw).ok()
    } else {
        std::str::from_utf8(inner).ok().map(str::to_owned)
    }
}
