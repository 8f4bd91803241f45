//! The per-plan-run ledger `consumers.jsonl`: an append-only log of stage
//! events (`started`, `done`, `verified`, `pr`), one JSON object per line.
//!
//! Compatibility with the Python helper (`consumers.py`), which may run side by side:
//! - appends hold an exclusive `flock` on `<planRunRoot>/consumers.lock`, the lock Python
//!   takes, and write each row with Python's `json.dumps(row, ensure_ascii=False)`
//!   spacing (`", "` and `": "`, non-ASCII as is), so a file reads the same whichever
//!   runtime wrote a line;
//! - each append is one `write` of a whole line followed by `fsync`;
//! - a line that is not a JSON object (a crash mid-append leaves a torn last line) is
//!   skipped and reported by [`Ledger::read`], and the next append first ends that line, so
//!   the new row starts on a fresh one.
//!
//! Stage numbers are JSON integers; a row whose `stage` is anything else never matches a
//! stage (as in Python's `isinstance(stage, int)` checks).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Code, Coded, InvalidArg};
use crate::fsio::{self, io_err, FsError, LockGuard};
use crate::safe_open::{self, Access};
use index::{Identity, Index};

mod index;
mod key;
mod pretty;

pub use key::TaskRows;

/// The ledger file name inside a plan run root.
pub const LEDGER_FILE: &str = "consumers.jsonl";
/// The lock file name inside a plan run root (shared with the Python helper).
pub const LOCK_FILE: &str = "consumers.lock";
/// The idempotency index beside the ledger (a cache; see the `ledger::index` module).
pub const INDEX_FILE: &str = "consumers.idx";

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A caller passed a value the ledger cannot record.
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    /// The plan run root does not exist (a typo must not create a new ledger).
    #[error(
        "the plan run root {0} does not exist; check the path (an append creates it only when \
         asked: `create: true` / `--create`)"
    )]
    NoRoot(PathBuf),
    /// Locking, reading or writing the files failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Coded for LedgerError {
    fn code(&self) -> Code {
        match self {
            LedgerError::InvalidArg(e) => e.code(),
            LedgerError::NoRoot(_) => Code::InvalidArg,
            LedgerError::Fs(e) => e.code(),
        }
    }
}

/// A line that was not read as a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// 1-based line number in `consumers.jsonl`.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// Every row in file order, plus the lines that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReadResult {
    pub rows: Vec<Value>,
    pub skipped: Vec<Skipped>,
}

/// The statuses [`Ledger::append`] records (`verified` and `pr` have their own appends).
pub const STAGE_STATUSES: [&str; 2] = ["started", "done"];

/// What an append did: whether it wrote a row (`false`: an equal row was already there)
/// and the `impl_task_key` the row is recorded under — the text the caller gave, slugged
/// unless the ledger's rows use it raw ([`Ledger::resolve_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Appended {
    pub appended: bool,
    pub task_key: String,
}

/// The ledger of one plan run.
#[derive(Debug, Clone)]
pub struct Ledger {
    root: PathBuf,
    lock_timeout: Duration,
    create: bool,
}

impl Ledger {
    /// The ledger under `plan_run_root`, waiting at most `lock_timeout` for its lock (the
    /// caller resolved it once, see [`fsio::lock_timeout`]).
    pub fn new(plan_run_root: impl Into<PathBuf>, lock_timeout: Duration) -> Ledger {
        Ledger {
            root: plan_run_root.into(),
            lock_timeout,
            create: false,
        }
    }

    /// Whether an append may create a missing plan run root (default: no — every call on a
    /// missing root is refused with `E_INVALID_ARG`, so a mistyped path changes nothing).
    pub fn creating(mut self, create: bool) -> Ledger {
        self.create = create;
        self
    }

    /// Refuses a missing root, or creates it for an append that was told to.
    fn check_root(&self, append: bool) -> Result<(), LedgerError> {
        if self.root.is_dir() {
            return Ok(());
        }
        if append && self.create && self.root.symlink_metadata().is_err() {
            std::fs::create_dir_all(&self.root).map_err(io_err("create directory", &self.root))?;
            return Ok(());
        }
        Err(LedgerError::NoRoot(self.root.clone()))
    }

    /// Path of `consumers.jsonl`.
    pub fn path(&self) -> PathBuf {
        self.root.join(LEDGER_FILE)
    }

    /// Reads every row. A missing file is an empty ledger; a missing plan run root is
    /// `E_INVALID_ARG`. Needs no lock: appends are whole-line writes, so a reader sees whole
    /// rows plus at most one torn last line.
    pub fn read(&self) -> Result<ReadResult, LedgerError> {
        self.check_root(false)?;
        Ok(parse(&read_bytes(&self.path())?))
    }

    /// The ledger's bytes, to print [`Ledger::read`]'s result from them without decoding the
    /// rows ([`Printable::write_to`]). Same refusals as [`Ledger::read`].
    pub fn read_printable(&self) -> Result<Printable, LedgerError> {
        self.check_root(false)?;
        Ok(Printable(read_bytes(&self.path())?))
    }

    /// [`Ledger::read`] as one JSON array text of the valid rows (validated, not decoded).
    pub fn read_text(&self) -> Result<ReadText, LedgerError> {
        self.check_root(false)?;
        Ok(parse_text(&read_bytes(&self.path())?))
    }

    /// Every row as one JSON array text, like [`Ledger::read_text`], when every non-blank
    /// line is UTF-8 shaped like one JSON object (`bytescan::one_object`); the
    /// tokens are not checked, so the caller must hand the text to a full JSON parser and
    /// take [`Ledger::read_text`] if that refuses it. `None` (take `read_text`) when a line
    /// is not so shaped: a torn line, which `read_text` lists as skipped. What a parser
    /// accepts here has one element per line, each the line's own object, so both paths
    /// give the same rows; this one skips a second validating pass over the file.
    pub fn read_unchecked(&self) -> Result<Option<String>, LedgerError> {
        self.check_root(false)?;
        let bytes = read_bytes(&self.path())?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Ok(None);
        };
        let mut out = String::with_capacity(text.len() + 2);
        out.push('[');
        // JSON's whitespace only: `read_text` refuses a line with any other around it.
        let json_space = |c: char| matches!(c, ' ' | '\t' | '\r');
        for line in text.split('\n').map(|l| l.trim_matches(json_space)) {
            if line.is_empty() {
                continue;
            }
            if !crate::bytescan::one_object(line.as_bytes()) {
                return Ok(None);
            }
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(line);
        }
        out.push(']');
        Ok(Some(out))
    }

    /// Records a `started` or `done` event unless the same `(impl_task_key, stage,
    /// status)` is already there. With `force_reappend`, a row is appended anyway unless
    /// one with the same `head_commit` exists (a reconciled `done` after a rebase).
    /// `fields` are extra columns (`head_commit`, `report_path`, `branch`, …). Returns
    /// whether a row was written.
    pub fn append(
        &self,
        impl_task_key: &str,
        stage: u32,
        status: &str,
        force_reappend: bool,
        fields: Map<String, Value>,
    ) -> Result<bool, LedgerError> {
        if !STAGE_STATUSES.contains(&status) {
            return Err(InvalidArg(format!(
                "status must be 'started' or 'done', got: '{status}'; `verified` and `pr` \
                 rows have their own appends"
            ))
            .into());
        }
        require("impl_task_key", impl_task_key)?;
        if let Some(k) = ["impl_task_key", "stage", "status"]
            .iter()
            .find(|k| fields.contains_key(**k))
        {
            return Err(InvalidArg(format!(
                "fields may not set `{k}`; it is given by its own argument"
            ))
            .into());
        }
        // As in Python, a missing and a null head_commit are equal.
        let head = fields.get("head_commit").filter(|v| !v.is_null()).cloned();
        let mut row = Map::new();
        row.insert("impl_task_key".into(), impl_task_key.into());
        row.insert("stage".into(), stage.into());
        row.insert("status".into(), status.into());
        row.extend(fields);
        let id = if force_reappend {
            Identity::EventHead(impl_task_key, stage.into(), status, head.as_ref())
        } else {
            Identity::Event(impl_task_key, stage.into(), status)
        };
        self.append_unless(row, id, |r| {
            r.is(impl_task_key, stage, status) && (!force_reappend || r.head_commit == head)
        })
    }

    /// Records a single-stage final-verification result. The same `report_path` again is
    /// a no-op; a different one is a re-verification and is appended (readers take the
    /// last verdict).
    pub fn append_verified(
        &self,
        impl_task_key: &str,
        stage: u32,
        verdict: &str,
        report_path: &str,
    ) -> Result<bool, LedgerError> {
        self.append_verified_at(impl_task_key, stage, verdict, report_path, None)
    }

    /// [`Ledger::append_verified`] recording the stage head commit that was verified
    /// (`head_commit`, after `report_path`; a full hexadecimal commit id, else
    /// `E_INVALID_ARG`). The identity is unchanged: the same `report_path` again is a no-op.
    pub fn append_verified_at(
        &self,
        impl_task_key: &str,
        stage: u32,
        verdict: &str,
        report_path: &str,
        head_commit: Option<&str>,
    ) -> Result<bool, LedgerError> {
        require("impl_task_key", impl_task_key)?;
        require("report_path", report_path)?;
        if let Some(h) = head_commit {
            if !(matches!(h.len(), 40 | 64) && h.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(InvalidArg(format!(
                    "head_commit must be a full hexadecimal commit id, got: {h:?}"
                ))
                .into());
            }
        }
        let mut row = Map::new();
        row.insert("impl_task_key".into(), impl_task_key.into());
        row.insert("stage".into(), stage.into());
        row.insert("status".into(), "verified".into());
        row.insert("verdict".into(), verdict.into());
        row.insert("report_path".into(), report_path.into());
        if let Some(h) = head_commit {
            row.insert("head_commit".into(), h.to_ascii_lowercase().into());
        }
        let id = Identity::Report(impl_task_key, stage.into(), report_path);
        self.append_unless(row, id, |r| {
            r.is(impl_task_key, stage, "verified")
                && Probe::str(&r.report_path) == Some(report_path)
        })
    }

    /// Records the PR a stage group was handed off in. A `pr` row for the same branch
    /// already there makes this a no-op. `stages` are stored sorted and deduplicated.
    pub fn append_pr(
        &self,
        impl_task_key: &str,
        stages: &[u32],
        branch: &str,
        url: &str,
    ) -> Result<bool, LedgerError> {
        require("impl_task_key", impl_task_key)?;
        require("branch", branch)?;
        if stages.is_empty() {
            return Err(InvalidArg("a pr row needs at least one stage".into()).into());
        }
        let sorted: BTreeSet<u32> = stages.iter().copied().collect();
        let mut row = Map::new();
        row.insert("impl_task_key".into(), impl_task_key.into());
        row.insert(
            "stages".into(),
            sorted.into_iter().collect::<Vec<_>>().into(),
        );
        row.insert("status".into(), "pr".into());
        row.insert("branch".into(), branch.into());
        row.insert("url".into(), url.into());
        self.append_unless(row, Identity::PrBranch(branch), |r| {
            Probe::str(&r.status) == Some("pr") && Probe::str(&r.branch) == Some(branch)
        })
    }

    /// Under the lock: appends `row` unless an existing row matches `exists`. The rows that
    /// may match are found through `consumers.idx` (filed under `id`) and confirmed one by
    /// one; when the table cannot be used, every line is scanned instead.
    fn append_unless(
        &self,
        row: Map<String, Value>,
        id: Identity,
        exists: impl Fn(&Probe) -> bool,
    ) -> Result<bool, LedgerError> {
        self.check_root(true)?;
        let _lock = LockGuard::acquire(&self.root.join(LOCK_FILE), self.lock_timeout)?;
        let path = self.path();
        let existed = path.symlink_metadata().is_ok();
        // Neither the ledger nor its table is ever reached through a symlink, nor is a FIFO
        // or device opened (`E_UNSAFE_FILE`); a ledger over its bound is refused whole.
        let mut f = safe_open::open_in(&self.root, Path::new(LEDGER_FILE), Access::AppendCreate)?
            .ok_or_else(|| io_err("open", &path)(io::ErrorKind::NotFound.into()))?;
        let size = f.metadata().map_err(io_err("stat", &path))?.len();
        if size > safe_open::LEDGER.bytes {
            return Err(FsError::TooLarge {
                path,
                bound: safe_open::LEDGER.bytes,
                purpose: safe_open::LEDGER.purpose,
            }
            .into());
        }
        let idx = safe_open::open_in(&self.root, Path::new(INDEX_FILE), Access::ReadWriteCreate)?;
        let mut table = match idx
            .ok_or_else(|| io::ErrorKind::NotFound.into())
            .and_then(|t| Self::check_indexed(t, &f, &id, &exists))
        {
            Ok((true, _)) => return Ok(false),
            Ok((false, table)) => Some(table),
            // The table is only a cache: without it, scan the file as the Python helper does.
            Err(_) => {
                if scan(&f, &path, &exists)? {
                    return Ok(false);
                }
                None
            }
        };
        let mut line = Vec::with_capacity(256);
        let mut last = [0u8; 1];
        if size > 0 && f.read_exact_at(&mut last, size - 1).is_ok() && last[0] != b'\n' {
            // The last line was torn by a crash: end it, so this row stands on its own.
            line.push(b'\n');
        }
        let start = line.len();
        write_python_json(&mut line, &Value::Object(row))
            .map_err(|e| InvalidArg(format!("cannot encode the row: {e}")))?;
        line.push(b'\n');
        append_whole(&mut f, &path, &line)?;
        if !existed {
            fsio::fsync_dir(&self.root)?;
        }
        if let (Some(t), Ok(p)) = (&mut table, serde_json::from_slice::<Probe>(&line[start..])) {
            let offset = size + start as u64;
            // A table that cannot be updated is rebuilt by the next append.
            let _ = t.add(&f, &p, offset, size + line.len() as u64);
        }
        Ok(true)
    }

    /// Whether a row filed under `id` in `consumers.idx` matches `exists`, with the table.
    fn check_indexed(
        table: std::fs::File,
        f: &std::fs::File,
        id: &Identity,
        exists: &impl Fn(&Probe) -> bool,
    ) -> std::io::Result<(bool, Index)> {
        let table = Index::open(table, f)?;
        for offset in table.candidates(id)? {
            if index::probe_at(f, offset)?.is_some_and(|p| exists(&p)) {
                return Ok((true, table));
            }
        }
        Ok((false, table))
    }
}

/// Whether any line of the ledger matches `exists`. Only the identity columns are decoded:
/// every other field is skipped unparsed. Lines that are not objects with these columns
/// well-typed never match, as with the full reader.
fn scan(
    f: &std::fs::File,
    path: &Path,
    exists: &impl Fn(&Probe) -> bool,
) -> Result<bool, LedgerError> {
    let mut bytes = Vec::new();
    (&*f)
        .read_to_end(&mut bytes)
        .map_err(io_err("read", path))?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Probe>(line).ok())
        .any(|p| exists(&p)))
}

/// Appends `line` and fsyncs it; on any failure (a full disk above all) the file is cut back
/// to its previous length, so no partial row is left to be read later as a crash's torn line.
fn append_whole(f: &mut std::fs::File, path: &Path, line: &[u8]) -> Result<(), LedgerError> {
    let before = f.metadata().map_err(io_err("stat", path))?.len();
    let Err((op, e)) = f
        .write_all(line)
        .map_err(|e| ("append to", e))
        .and_then(|()| f.sync_data().map_err(|e| ("fsync", e)))
    else {
        return Ok(());
    };
    let _ = f.set_len(before).and_then(|()| f.sync_data());
    let op = if e.raw_os_error() == Some(libc::ENOSPC) {
        "the disk is full; nothing was appended (the ledger is unchanged). Free space and retry:"
    } else {
        op
    };
    Err(io_err(op, path)(e).into())
}

fn require(name: &str, value: &str) -> Result<(), LedgerError> {
    if value.trim().is_empty() {
        Err(InvalidArg(format!("{name} must not be empty")).into())
    } else {
        Ok(())
    }
}

/// The ledger's bytes (empty when missing), read through [`safe_open`]: never through a
/// symlink, never a FIFO or device, at most [`safe_open::LEDGER`] bytes.
fn read_bytes(path: &Path) -> Result<Vec<u8>, LedgerError> {
    Ok(safe_open::read_file(path, safe_open::LEDGER)?.unwrap_or_default())
}

/// Every row as one JSON array text (the rows' own bytes, unchanged, between `[`, `,` and
/// `]`), plus the lines that were skipped. For callers that parse JSON faster than they can
/// take a decoded value, e.g. V8's `JSON.parse`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadText {
    pub rows_json: String,
    pub skipped: Vec<Skipped>,
}

/// A ledger's bytes as read, printed by [`Printable::write_to`].
#[derive(Debug, Clone)]
pub struct Printable(Vec<u8>);

impl Printable {
    /// Writes [`ReadResult`] as `serde_json::to_string_pretty` lays it out (no final newline),
    /// byte for byte, transcoding each row from its line instead of decoding it, in chunks
    /// (see the `ledger::pretty` module).
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        pretty::write_read_result(&self.0, w)
    }
}

/// Splits the file into rows and skipped lines; blank lines are ignored.
fn parse(bytes: &[u8]) -> ReadResult {
    let mut out = ReadResult::default();
    for (line, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match row_value(raw) {
            Ok(v) => out.rows.push(v),
            Err(reason) => out.skipped.push(Skipped {
                line: line + 1,
                reason,
            }),
        }
    }
    out
}

/// One non-blank line decoded as a row, or why it is skipped.
fn row_value(raw: &[u8]) -> Result<Value, String> {
    object_text(raw).and_then(|text| {
        serde_json::from_str::<Value>(text)
            .map_err(|e| format!("not valid JSON, probably cut short by a crash mid-append ({e})"))
    })
}

/// [`parse`] without building values: the valid rows' text joined into one JSON array.
fn parse_text(bytes: &[u8]) -> ReadText {
    let mut out = ReadText {
        rows_json: String::with_capacity(bytes.len() + 2),
        skipped: Vec::new(),
    };
    out.rows_json.push('[');
    for (line, row) in lines(bytes) {
        match row {
            Ok(text) => {
                if out.rows_json.len() > 1 {
                    out.rows_json.push(',');
                }
                out.rows_json.push_str(text.trim());
            }
            Err(reason) => out.skipped.push(Skipped { line, reason }),
        }
    }
    out.rows_json.push(']');
    out
}

/// The non-blank lines with their 1-based numbers: the text of each that is a JSON object,
/// or why it is not one. Validation decodes nothing (`IgnoredAny`).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, Result<&str, String>)> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, raw)| !raw.iter().all(u8::is_ascii_whitespace))
        .map(|(i, raw)| (i + 1, object_text(raw)))
}

fn object_text(raw: &[u8]) -> Result<&str, String> {
    let torn = |e: &dyn std::fmt::Display| {
        format!("not valid JSON, probably cut short by a crash mid-append ({e})")
    };
    let text = std::str::from_utf8(raw).map_err(|e| torn(&e))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| torn(&e))?;
    // Valid JSON whose first byte is `{` is an object.
    if text.trim_start().starts_with('{') {
        Ok(text)
    } else {
        Err("not a JSON object".to_string())
    }
}

/// Writes `v` the way Python's `json.dumps(v, ensure_ascii=False)` does: `", "` between
/// items, `": "` after keys, non-ASCII unescaped.
fn write_python_json(out: &mut Vec<u8>, v: &Value) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, PythonFormatter);
    v.serialize(&mut ser)
}

/// serde_json's compact output with Python's default separators.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// The row's `stage` when it is a JSON integer that fits a stage number.
pub fn stage_of(r: &Map<String, Value>) -> Option<u32> {
    r.get("stage")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// The columns an append's idempotency check compares (a null counts as missing).
#[derive(Debug, Deserialize)]
struct Probe {
    impl_task_key: Option<Value>,
    stage: Option<Value>,
    status: Option<Value>,
    head_commit: Option<Value>,
    report_path: Option<Value>,
    branch: Option<Value>,
}

impl Probe {
    fn str(v: &Option<Value>) -> Option<&str> {
        v.as_ref().and_then(Value::as_str)
    }

    fn is(&self, key: &str, stage: u32, status: &str) -> bool {
        Probe::str(&self.impl_task_key) == Some(key)
            && self.stage.as_ref().and_then(Value::as_u64) == Some(u64::from(stage))
            && Probe::str(&self.status) == Some(status)
    }
}

/// The columns the last-wins readers look at, so they run on stored rows and, in the
/// binding, on JS objects without converting whole rows.
pub trait RowView {
    fn status(&self) -> Option<&str>;
    /// `stage` when it is an integer that fits a stage number.
    fn stage(&self) -> Option<u32>;
    fn verdict(&self) -> Option<&str>;
    /// The integer entries of `stages`.
    fn stages(&self) -> Vec<u32>;
}

impl<T: RowView> RowView for &T {
    fn status(&self) -> Option<&str> {
        (**self).status()
    }

    fn stage(&self) -> Option<u32> {
        (**self).stage()
    }

    fn verdict(&self) -> Option<&str> {
        (**self).verdict()
    }

    fn stages(&self) -> Vec<u32> {
        (**self).stages()
    }
}

impl RowView for Value {
    fn status(&self) -> Option<&str> {
        self.get("status").and_then(Value::as_str)
    }

    fn stage(&self) -> Option<u32> {
        self.as_object().and_then(stage_of)
    }

    fn verdict(&self) -> Option<&str> {
        self.get("verdict").and_then(Value::as_str)
    }

    fn stages(&self) -> Vec<u32> {
        self.get("stages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect()
    }
}

/// Stage → its last `done` row (a reconciled row re-appended later wins).
pub fn latest_done_by_stage<R: RowView>(rows: &[R]) -> BTreeMap<u32, &R> {
    let mut out = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status() == Some("done")) {
        if let Some(stage) = r.stage() {
            out.insert(stage, r);
        }
    }
    out
}

/// Stages whose last `verified` row has the verdict `accepted` (trimmed, any case).
pub fn verified_accepted_stages<R: RowView>(rows: &[R]) -> BTreeSet<u32> {
    let mut last = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status() == Some("verified")) {
        if let Some(stage) = r.stage() {
            let verdict = r.verdict().unwrap_or("");
            last.insert(stage, verdict.trim().eq_ignore_ascii_case("accepted"));
        }
    }
    last.into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(s, _)| s)
        .collect()
}

/// Stages listed by any `pr` row.
pub fn pr_covered_stages<R: RowView>(rows: &[R]) -> BTreeSet<u32> {
    rows.iter()
        .filter(|r| r.status() == Some("pr"))
        .flat_map(RowView::stages)
        .collect()
}

#[cfg(test)]
mod tests;
