//! `.worktreeinclude`: a file at the repository root, in gitignore syntax, naming the
//! ignored files and directories a new worktree should get a private copy of (the
//! convention other agent tools read). Only paths git ignores in the main worktree are
//! selected, so tracked content is never copied over.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The file's name at the repository root.
pub const FILE: &str = ".worktreeinclude";

/// The patterns of `<root>/.worktreeinclude` and the literal directory prefixes of its
/// path patterns (`/build/config.json` → `build/config.json`), which say which ignored
/// directories are worth looking into. `None` when there is no usable file.
fn load(root: &Path, notes: &mut Vec<String>) -> Option<(Gitignore, Vec<String>)> {
    // Through crate::safe_open: a symlink, FIFO, device or directory there, or a file over
    // its bound, is never read; it becomes a note.
    let text = match crate::safe_open::read_in(root, Path::new(FILE), crate::safe_open::ENTRY_LIST)
    {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(None) => return None,
        Err(e) => {
            notes.push(format!("ignored {FILE}: {e}"));
            return None;
        }
    };
    let mut builder = GitignoreBuilder::new(root);
    let mut prefixes = Vec::new();
    for line in text.lines() {
        if let Err(e) = builder.add_line(None, line) {
            notes.push(format!("ignored {FILE} line {line:?}: {e}"));
            continue;
        }
        let pat = line.trim_end();
        if pat.starts_with('#') || pat.starts_with('!') {
            continue;
        }
        let pat = pat.trim_start_matches('/');
        if pat.trim_end_matches('/').contains('/') {
            let literal: String = pat
                .chars()
                .take_while(|c| !matches!(c, '*' | '?' | '[' | '\\'))
                .collect();
            prefixes.push(literal);
        }
    }
    match builder.build() {
        Ok(gi) => Some((gi, prefixes)),
        Err(e) => {
            notes.push(format!("ignored {FILE}: {e}"));
            None
        }
    }
}

/// The paths git ignores in the main worktree at `root` (topmost ignored directories as one
/// entry, as `git status --ignored` shows them), relative, without a trailing `/`, each
/// with whether it is a directory.
fn ignored_paths(root: &Path) -> Vec<(String, bool)> {
    let Ok(repo) = git2::Repository::open(root) else {
        return Vec::new();
    };
    let mut opts = git2::StatusOptions::new();
    opts.include_ignored(true)
        .recurse_ignored_dirs(false)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .exclude_submodules(true);
    let Ok(statuses) = repo.statuses(Some(&mut opts)) else {
        return Vec::new();
    };
    statuses
        .iter()
        .filter(|s| s.status().is_ignored())
        .filter_map(|s| {
            let p = s.path().ok()?;
            let is_dir = p.ends_with('/');
            Some((p.trim_end_matches('/').to_string(), is_dir))
        })
        .collect()
}

/// What `.worktreeinclude` at `root` selects: ignored paths it matches (a matching
/// directory is taken whole), relative to `root`, in status order. An ignored directory it
/// does not match is looked into only when a path pattern names something below it
/// (`/build/config.json` looks into `build/`), so a large `node_modules` is never walked
/// for nothing. Problems with the file become notes.
pub fn selected(root: &Path, notes: &mut Vec<String>) -> Vec<String> {
    let Some((gi, prefixes)) = load(root, notes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = ignored_paths(root);
    stack.reverse();
    while let Some((rel, is_dir)) = stack.pop() {
        if gi.matched(&rel, is_dir).is_ignore() {
            out.push(rel);
            continue;
        }
        let below = format!("{rel}/");
        if !is_dir || !prefixes.iter().any(|p| p.starts_with(&below)) {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        let mut children: Vec<(String, bool)> = rd
            .flatten()
            .map(|e| {
                let dir = e.file_type().is_ok_and(|t| t.is_dir());
                (format!("{below}{}", e.file_name().to_string_lossy()), dir)
            })
            .collect();
        children.sort();
        stack.extend(children.into_iter().rev());
    }
    out
}
