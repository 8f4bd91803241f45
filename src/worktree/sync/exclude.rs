//! Clean by construction: every entry carried into a worktree is ignored by git there,
//! whatever the project's `.gitignore` says. git reads no per-worktree exclude file, so the
//! patterns go into an okstra-marked block of the repository's shared `info/exclude` (in
//! the common git dir), anchored and without a trailing slash (a `dir/` pattern does not
//! match a symlink). A `.gitignore` can still un-ignore a path (`!pattern` wins over
//! `info/exclude`): [`super::ignored`] finds such entries so they can be taken out again.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::fsio::{self, FsError, LockGuard};

/// First line of the block.
pub const BEGIN: &str = "# >>> okstra: shared state carried into worktrees (managed by okstra)";
/// Last line of the block.
pub const END: &str = "# <<< okstra";

/// The anchored pattern that matches exactly `rel` (a file, directory or symlink), with
/// gitignore's special characters escaped; `None` when `rel` holds a line break.
pub fn pattern(rel: &str) -> Option<String> {
    if rel.contains(['\n', '\r']) {
        return None;
    }
    let mut out = String::with_capacity(rel.len() + 2);
    out.push('/');
    for c in rel.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        // A trailing space is dropped by git unless escaped.
        out.pop();
        out.push_str("\\ ");
    }
    Some(out)
}

/// The text of `info/exclude` split around the okstra block: (before, block patterns,
/// after). A `BEGIN` without an `END` (a block cut short by hand) is dropped and its lines
/// kept as the user's.
fn split(text: &str) -> (Vec<&str>, BTreeSet<String>, Vec<&str>) {
    let lines: Vec<&str> = text.lines().collect();
    let begin = lines.iter().position(|l| *l == BEGIN);
    let end = begin.and_then(|b| lines[b..].iter().position(|l| *l == END).map(|e| b + e));
    match (begin, end) {
        (Some(b), Some(e)) => (
            lines[..b].to_vec(),
            lines[b + 1..e].iter().map(|l| l.to_string()).collect(),
            lines[e + 1..].to_vec(),
        ),
        (Some(b), None) => {
            let mut rest = lines[..b].to_vec();
            rest.extend_from_slice(&lines[b + 1..]);
            (rest, BTreeSet::new(), Vec::new())
        }
        _ => (lines, BTreeSet::new(), Vec::new()),
    }
}

/// Adds the patterns of `rels` to the okstra block of `<common_dir>/info/exclude`, creating
/// the file or the block as needed. Idempotent (nothing is written when every pattern is
/// there), lines outside the block are kept as they were, and concurrent callers are
/// serialized by a lock file beside it (`info/okstra-exclude.lock`); the file is replaced
/// atomically. An entry holding a line break has no pattern and is left out (the
/// visibility check then takes it out of the worktree). Waits at most `lock_timeout` for the
/// lock.
pub fn ensure(common_dir: &Path, rels: &[String], lock_timeout: Duration) -> Result<(), FsError> {
    let wanted: Vec<String> = rels.iter().filter_map(|r| pattern(r)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let info = common_dir.join("info");
    let _lock = LockGuard::acquire(&info.join("okstra-exclude.lock"), lock_timeout)?;
    let file = info.join("exclude");
    if file.symlink_metadata().is_ok_and(|m| !m.is_file()) {
        // Not read through a symlink (it could point anywhere) nor replaced.
        return Err(FsError::Io {
            op: "update",
            path: file,
            source: std::io::Error::other("not a regular file; left as it is"),
        });
    }
    let text = crate::safe_open::read_file(&file, crate::safe_open::ENTRY_LIST)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (before, mut block, after) = split(&text);
    let had = block.len();
    let had_block = text.lines().any(|l| l == END);
    block.extend(wanted);
    if had_block && block.len() == had {
        return Ok(());
    }
    let mut out = String::with_capacity(text.len() + block.len() * 16 + 128);
    for l in before.iter() {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(BEGIN);
    out.push('\n');
    for p in &block {
        out.push_str(p);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    for l in after.iter() {
        out.push_str(l);
        out.push('\n');
    }
    fsio::atomic_write(&file, out.as_bytes())
}
