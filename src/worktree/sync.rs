//! Shared state carried from the main worktree into a new one: symlinked dirs and files and
//! read-only snapshot copies, each list resolved env → project.json → default.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use serde::Serialize;
use serde_json::Value;

use super::project_json;

/// Symlinked directories when nothing overrides them.
pub const DEFAULT_SYNC_DIRS: [&str; 4] = [".project-docs", ".scratch", "graphify-out", ".claude"];
/// Symlinked files when nothing overrides them.
pub const DEFAULT_SYNC_FILES: [&str; 1] = [".env"];

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

/// The resolved entries, project-relative and normalized (no leading `./`, no trailing `/`,
/// no duplicates, order kept). `notes` says what was skipped and why (unsafe entries,
/// an unreadable project.json); config problems never block provisioning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncEntries {
    pub dirs: Vec<String>,
    pub files: Vec<String>,
    pub snapshots: Vec<String>,
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

fn resolve_kind(
    kind: &Kind,
    json: Option<&serde_json::Map<String, Value>>,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let raw: Vec<String> = if let Some(v) = std::env::var_os(kind.env) {
        v.to_string_lossy().split(':').map(str::to_string).collect()
    } else {
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
    };
    let mut out: Vec<String> = Vec::new();
    for entry in raw.iter().filter_map(|r| normalize(r)) {
        if !is_safe(&entry) {
            notes.push(format!(
                "skipped unsafe entry {entry:?} (absolute or climbs out with `..`)"
            ));
        } else if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Resolves the shared entries for `project_root`: for each kind the env var
/// (`:`-separated, replaces; empty disables) wins, then project.json's field (an empty
/// array disables), then the default. Unsafe entries are dropped with a note.
pub fn resolve_sync_entries(project_root: &Path) -> SyncEntries {
    let mut notes = Vec::new();
    let json = match project_json::read(project_root) {
        Ok(found) => found.map(|(_, m)| m),
        Err(e) => {
            notes.push(format!("{e}; using defaults"));
            None
        }
    };
    SyncEntries {
        dirs: resolve_kind(&DIRS, json.as_ref(), &mut notes),
        files: resolve_kind(&FILES, json.as_ref(), &mut notes),
        snapshots: resolve_kind(&SNAPSHOTS, json.as_ref(), &mut notes),
        notes,
    }
}

/// Project-relative paths okstra owns that source clean gates should ignore: `.okstra` plus
/// every sync dir, sync file and snapshot, normalized, duplicates dropped, order kept.
pub fn clean_gate_excludes(project_root: &Path) -> Vec<String> {
    let e = resolve_sync_entries(project_root);
    let mut out = vec![".okstra".to_string()];
    for rel in e.dirs.into_iter().chain(e.files).chain(e.snapshots) {
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    out
}

/// What [`carry`] did.
#[derive(Debug, Default)]
pub struct Carried {
    pub linked: Vec<String>,
    pub linked_files: Vec<String>,
    pub snapshots: Vec<String>,
    pub notes: Vec<String>,
}

/// Where `rel` of the main worktree may be carried to: `None` when the source is missing
/// (or of the wrong kind) or the target already exists (tracked content is never
/// clobbered).
fn endpoints(
    main: &Path,
    wt: &Path,
    rel: &str,
    want_dir: bool,
) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let src = main.join(rel).canonicalize().ok()?;
    if src.is_dir() != want_dir {
        return None;
    }
    let dst = wt.join(rel);
    if dst.symlink_metadata().is_ok() {
        return None;
    }
    Some((src, dst))
}

fn place(dst: &Path, f: impl FnOnce() -> std::io::Result<()>) -> Result<(), String> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    f().map_err(|e| e.to_string())
}

/// Links and copies the resolved entries from the main worktree `main` into the new
/// worktree `wt`. Failures of single entries become notes.
pub fn carry(main: &Path, wt: &Path, entries: &SyncEntries) -> Carried {
    let mut out = Carried {
        notes: entries.notes.clone(),
        ..Carried::default()
    };
    let groups = [(&entries.dirs, true), (&entries.files, false)];
    for (i, (list, want_dir)) in groups.into_iter().enumerate() {
        for rel in list {
            let Some((src, dst)) = endpoints(main, wt, rel, want_dir) else {
                continue;
            };
            match place(&dst, || std::os::unix::fs::symlink(&src, &dst)) {
                Ok(()) if i == 0 => out.linked.push(rel.clone()),
                Ok(()) => out.linked_files.push(rel.clone()),
                Err(e) => out.notes.push(format!("could not link {rel}: {e}")),
            }
        }
    }
    for rel in &entries.snapshots {
        let Some((src, dst)) = endpoints(main, wt, rel, false) else {
            continue;
        };
        if let Err(e) = place(&dst, || std::fs::copy(&src, &dst).map(drop)) {
            out.notes.push(format!("could not copy {rel}: {e}"));
            continue;
        }
        match std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o444)) {
            Ok(()) => out.snapshots.push(rel.clone()),
            Err(_) => out.snapshots.push(format!("{rel} (rw-fallback)")),
        }
    }
    out
}
