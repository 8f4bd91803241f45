//! `prune` with git: releasing the registry entries whose directory is gone also removes
//! okstra's git lock on those worktrees and git's record of them, and (with `--apply`)
//! git's records of every other gone worktree of this home, so `doctor` stops advising
//! the same prune. Each entry is released under the locks provisioning of its key takes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::Repository;
use serde::Serialize;

use super::doctor::{canon, survey, worktree_names};
use super::locks::{lock_key_str, lock_repo};
use super::owner::{self, Home};
use super::repair::forget_gone;
use super::{git, WorktreeError};
use crate::registry::{Registry, WorktreeEntry};

/// What [`prune`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// The entries released (or, in a dry run, that would be).
    pub released: Vec<WorktreeEntry>,
    /// Paths of gone worktrees whose okstra git lock and git record were removed (the
    /// released entries', and any other gone worktree of this home git still recorded).
    pub unlocked: Vec<String>,
    /// Released worktrees git may still record, because no repository of theirs could be
    /// found (pass `projectRoot` / `--project-root`).
    pub unresolved: Vec<String>,
}

/// The registry's prune plus git: lists the active entries whose directory is gone; unless
/// `dry_run`, releases each under its key's lock (read again there: a provisioning that
/// recreated it meanwhile keeps it), then removes git's record of every gone worktree of
/// this home in the repositories okstra knows (those of the registry's existing
/// worktrees, the ones it provisioned in, and `project_root`'s), unlocking okstra's lock
/// first. A record locked with another reason, or for another `OKSTRA_HOME`, is left
/// alone.
pub fn prune(
    reg: &Registry,
    dry_run: bool,
    project_root: Option<&Path>,
) -> Result<Pruned, WorktreeError> {
    if let Some(root) = project_root {
        crate::ids::check_dir("projectRoot", root)?;
    }
    let gone = reg.prune(true)?;
    let mut out = Pruned {
        released: Vec::new(),
        unlocked: Vec::new(),
        unresolved: Vec::new(),
    };
    if dry_run {
        out.released = gone;
        return Ok(out);
    }
    for e in gone {
        let Some(parts) = owner::parse_key(&e.task_key) else {
            continue;
        };
        let _k = lock_key_str(reg, &e.task_key)?;
        let still = reg.lookup(&parts)?.filter(|now| {
            now.is_active()
                && now.worktree_path == e.worktree_path
                && !Path::new(&now.worktree_path).exists()
        });
        if still.is_some() {
            if let Some(released) = reg.release(&parts)? {
                out.released.push(released);
            }
        }
    }
    let s = survey(reg, reg.list(None, None)?);
    let pending: Vec<PathBuf> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| canon(&i.path)))
        .collect();
    let mut repos: BTreeMap<PathBuf, Repository> = s.repos;
    if let Some(root) = project_root {
        if let Some(main) = git::discover(root).and_then(|r| git::open_main(&r).ok()) {
            repos.entry(canon(main.path())).or_insert(main);
        }
    }
    let home = Home::of(reg);
    for main in repos.values() {
        let _r = lock_repo(reg, main)?;
        for name in worktree_names(main) {
            let Some(path) = main.find_worktree(&name).ok().map(|w| w.path().to_owned()) else {
                continue;
            };
            // An unfinished provisioning's worktree is its record's to complete or undo.
            if !pending.contains(&canon(&path)) && forget_gone(main, &name, &home) {
                out.unlocked.push(path.to_string_lossy().into_owned());
            }
        }
    }
    for e in &out.released {
        let p = canon(Path::new(&e.worktree_path));
        let forgotten = out.unlocked.iter().any(|u| canon(Path::new(u)) == p);
        let recorded = repos
            .values()
            .any(|m| git::admin_name_at(m, Path::new(&e.worktree_path)).is_some());
        if !forgotten && !recorded {
            out.unresolved.push(e.worktree_path.clone());
        }
    }
    Ok(out)
}
