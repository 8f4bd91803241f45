//! Which shared entries a project carries: each kind resolved env → project.json →
//! default, normalized and deduplicated in linear time, plus the `.worktreeinclude` copies.

use std::collections::HashSet;
use std::path::{Component, Path};

use serde::Serialize;
use serde_json::{Map, Value};

use super::include;
use crate::worktree::project_json;

/// Symlinked directories when nothing overrides them.
pub const DEFAULT_SYNC_DIRS: [&str; 4] = [".project-docs", ".scratch", "graphify-out", ".claude"];
/// Symlinked files when nothing overrides them.
pub const DEFAULT_SYNC_FILES: [&str; 1] = [".env"];

/// Directories package managers and build tools write into. Linking one would let an
/// install in the new worktree write into (or delete) the main checkout's copy, so they are
/// never linked; the `copy` kind gives each worktree a private copy instead.
pub const DEPENDENCY_DIRS: [&str; 10] = [
    "node_modules",
    ".venv",
    "venv",
    "target",
    ".tox",
    ".gradle",
    "bower_components",
    "vendor",
    ".pnpm-store",
    "__pycache__",
];

/// One kind of shared entry and where its configuration comes from.
struct Kind {
    env: &'static str,
    field: &'static str,
    default: &'static [&'static str],
}

const DIRS: Kind = Kind {
    env: "OKSTRA_WORKTREE_SYNC_DIRS",
    field: "worktreeSyncDirs",
    default: &DEFAULT_SYNC_DIRS,
};
const FILES: Kind = Kind {
    env: "OKSTRA_WORKTREE_SYNC_FILES",
    field: "worktreeSyncFiles",
    default: &DEFAULT_SYNC_FILES,
};
const SNAPSHOTS: Kind = Kind {
    env: "OKSTRA_WORKTREE_SNAPSHOT_FILES",
    field: "worktreeSnapshotFiles",
    default: &[],
};
const COPIES: Kind = Kind {
    env: "OKSTRA_WORKTREE_COPY_ENTRIES",
    field: "worktreeCopyEntries",
    default: &[],
};

/// The resolved entries, project-relative and normalized (no leading `./`, no trailing `/`,
/// no duplicates, order kept). `notes` says what was skipped and why (unsafe entries,
/// dependency directories configured as links, an unreadable project.json); config
/// problems never block provisioning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncEntries {
    /// Symlinked directories.
    pub dirs: Vec<String>,
    /// Symlinked files.
    pub files: Vec<String>,
    /// Read-only (0444) copies of files.
    pub snapshots: Vec<String>,
    /// Private, writable copies (copy-on-write where the filesystem can): the configured
    /// copy entries, then what `.worktreeinclude` selects among the paths git ignores.
    pub copies: Vec<String>,
    pub notes: Vec<String>,
}

/// Normalizes one entry; `None` for an empty one (dropped silently).
fn normalize(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    let s = s.trim_end_matches('/');
    (!s.is_empty() && s != ".").then(|| s.to_string())
}

/// Whether a normalized entry stays inside the worktree: relative, no `..`, no NUL.
fn is_safe(rel: &str) -> bool {
    !rel.contains('\0')
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Whether `rel` names a dependency directory (by its last component).
pub fn is_dependency_dir(rel: &str) -> bool {
    let last = rel.rsplit('/').next().unwrap_or(rel);
    DEPENDENCY_DIRS.contains(&last)
}

/// The raw strings of one kind: the env var when set, else project.json's field, else the
/// default.
fn raw_of(kind: &Kind, json: Option<&Map<String, Value>>, notes: &mut Vec<String>) -> Vec<String> {
    if let Some(v) = std::env::var_os(kind.env) {
        // A value okstra cannot use is never replaced by project.json's list or the default
        // (docs/security.md): the env var says what to carry, so nothing of this kind is.
        let Some(v) = v.to_str() else {
            notes.push(format!(
                "{} {:?} is not valid UTF-8: nothing of this kind is carried (neither its \
                 entries nor {} nor the default); set it to UTF-8 paths separated by ':', or \
                 unset it",
                kind.env,
                v.to_string_lossy(),
                kind.field
            ));
            return Vec::new();
        };
        return v.split(':').map(str::to_string).collect();
    }
    match json.and_then(|m| m.get(kind.field)) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| {
                let s = v.as_str();
                if s.is_none() {
                    notes.push(format!("ignored non-string {} entry {v}", kind.field));
                }
                s.map(str::to_string)
            })
            .collect(),
        Some(other) => {
            notes.push(format!(
                "ignored {} in project.json: expected an array of strings, found {other}",
                kind.field
            ));
            kind.default.iter().map(|s| s.to_string()).collect()
        }
        None => kind.default.iter().map(|s| s.to_string()).collect(),
    }
}

/// Normalized, safe entries of `raw` not yet in `seen`, in order. Linear: one hash lookup
/// per entry (200,000 entries resolve in milliseconds).
fn clean(raw: Vec<String>, seen: &mut HashSet<String>, notes: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for entry in raw.iter().filter_map(|r| normalize(r)) {
        if !is_safe(&entry) {
            notes.push(format!(
                "skipped unsafe entry {entry:?} (absolute or climbs out with `..`)"
            ));
        } else if seen.insert(entry.clone()) {
            out.push(entry);
        }
    }
    out
}

/// Resolves the shared entries for `project_root`: for each kind the env var
/// (`:`-separated, replaces; empty disables) wins, then project.json's field (an empty
/// array disables), then the default. Copies come first: an entry listed as a copy is not
/// also linked. Then `.worktreeinclude` adds the ignored paths it selects. Unsafe entries
/// and dependency directories configured as symlinked dirs are dropped with a note.
pub fn resolve_sync_entries(project_root: &Path) -> SyncEntries {
    let mut notes = Vec::new();
    let json = match project_json::read(project_root) {
        Ok(found) => found.map(|(_, m)| m),
        Err(e) => {
            notes.push(format!("{e}; using defaults"));
            None
        }
    };
    let json = json.as_ref();
    let mut copy_seen = HashSet::new();
    let mut copies = clean(
        raw_of(&COPIES, json, &mut notes),
        &mut copy_seen,
        &mut notes,
    );
    for rel in include::selected(project_root, &mut notes) {
        if copy_seen.insert(rel.clone()) {
            copies.push(rel);
        }
    }
    // Links and snapshots: one entry is carried one way only; a copy wins.
    let mut seen = copy_seen;
    let mut dirs = clean(raw_of(&DIRS, json, &mut notes), &mut seen, &mut notes);
    dirs.retain(|rel| {
        let dep = is_dependency_dir(rel);
        if dep {
            notes.push(format!(
                "not linked {rel}: a dependency directory shared by a link lets an install in \
                 the worktree write into the main checkout; list it as a copy entry \
                 (OKSTRA_WORKTREE_COPY_ENTRIES, worktreeCopyEntries or .worktreeinclude) for a \
                 private copy-on-write copy"
            ));
        }
        !dep
    });
    let files = clean(raw_of(&FILES, json, &mut notes), &mut seen, &mut notes);
    let snapshots = clean(raw_of(&SNAPSHOTS, json, &mut notes), &mut seen, &mut notes);
    SyncEntries {
        dirs,
        files,
        snapshots,
        copies,
        notes,
    }
}

/// Project-relative paths okstra owns that source clean gates should ignore: `.okstra` plus
/// every sync dir, sync file, snapshot and copy, normalized, duplicates dropped, order kept.
pub fn clean_gate_excludes(project_root: &Path) -> Vec<String> {
    let e = resolve_sync_entries(project_root);
    let mut seen = HashSet::new();
    std::iter::once(".okstra".to_string())
        .chain(e.dirs)
        .chain(e.files)
        .chain(e.snapshots)
        .chain(e.copies)
        .filter(|rel| seen.insert(rel.clone()))
        .collect()
}
