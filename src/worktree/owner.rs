//! Which `OKSTRA_HOME` owns an okstra-made worktree or branch, so that two homes used on
//! one repository never report, unlock, prune, adopt or delete each other's.
//!
//! Provisioning writes the owner into what git keeps anyway: the worktree's lock reason
//! (`okstra task <key> (registry <root>)`) and the reflog entry of a branch it creates
//! (`okstra: provision <key> (registry <root>)`), where `<root>` is the canonical
//! `<OKSTRA_HOME>/worktrees` directory of the registry that made it. Older native releases
//! wrote the same text without the ` (registry <root>)` part; the Python helper wrote
//! neither. The rule (see `docs/architecture.md`, "Homes"):
//!
//! - a mark naming a registry belongs to that registry only;
//! - a worktree lock without one is this home's when the worktree lies under its root;
//! - a branch mark without one is nobody's for repair: it is never deleted.

use std::path::{Path, PathBuf};

use git2::{Repository, WorktreeLockStatus};

use super::git::{self, BRANCH_REFLOG_PREFIX, LOCK_REASON_PREFIX};
use crate::ids::KeyParts;
use crate::registry::Registry;

/// Separates the key from the owning registry in a lock reason or reflog message.
const REGISTRY_MARK: &str = " (registry ";

/// The owner text provisioning puts after `okstra task ` (lock reason) and
/// `okstra: provision ` (branch reflog): `<key> (registry <canonical root>)`.
pub fn tag(reg: &Registry, key: &str) -> String {
    let root = Home::of(reg).root;
    let root = root.to_string_lossy();
    // A root git could not keep on one line is left out (the worktree then counts as this
    // home's only by lying under its root).
    if root.contains(['\n', '\r']) {
        return key.to_string();
    }
    format!("{key}{REGISTRY_MARK}{root})")
}

/// What an okstra mark says: the key, and the registry root when the mark names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub key: String,
    pub registry: Option<PathBuf>,
}

/// Parses the text after okstra's prefix.
pub fn parse(text: &str) -> Mark {
    let text = text.trim_end_matches(['\n', '\r']);
    match text.split_once(REGISTRY_MARK) {
        Some((key, rest)) => Mark {
            key: key.to_string(),
            registry: Some(PathBuf::from(rest.strip_suffix(')').unwrap_or(rest))),
        },
        None => Mark {
            key: text.to_string(),
            registry: None,
        },
    }
}

/// The mark of an okstra lock on worktree `wt`; `None` when it is unlocked or locked with
/// another reason.
pub fn lock_mark(wt: &git2::Worktree) -> Option<Mark> {
    match wt.is_locked() {
        Ok(WorktreeLockStatus::Locked(Some(r))) => r.strip_prefix(LOCK_REASON_PREFIX).map(parse),
        _ => None,
    }
}

/// The creation mark of `branch` (okstra's reflog entry) and the commit it was made at.
pub fn branch_mark(main: &Repository, branch: &str) -> Option<(Mark, git2::Oid)> {
    let log = main.reflog(&format!("refs/heads/{branch}")).ok()?;
    let entry = log.iter().find(|e| {
        e.message_bytes()
            .is_some_and(|m| m.starts_with(BRANCH_REFLOG_PREFIX.as_bytes()))
    })?;
    let msg = String::from_utf8_lossy(entry.message_bytes()?).into_owned();
    let text = msg.strip_prefix(BRANCH_REFLOG_PREFIX)?;
    Some((parse(text), entry.id_new()))
}

/// The key parts of a key's text (`<project>/<group>/<task>[#stage-<N>|#group-<ID>]`), when
/// it is one that [`KeyParts::key`] gives back unchanged.
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let (base, suffix) = match key.split_once('#') {
        Some((b, s)) => (b, Some(s)),
        None => (key, None),
    };
    let mut segs = base.split('/');
    let (p, g, t) = (segs.next()?, segs.next()?, segs.next()?);
    if segs.next().is_some() {
        return None;
    }
    let (stage, group) = match suffix {
        None => (None, None),
        Some(s) => match (s.strip_prefix("stage-"), s.strip_prefix("group-")) {
            (Some(n), _) => (Some(n.parse::<u32>().ok()?), None),
            (None, Some(g)) => (None, Some(g)),
            (None, None) => return None,
        },
    };
    let parts = KeyParts::new(p, g, t, stage, group).ok()?;
    (parts.key() == key).then_some(parts)
}

/// One registry's identity: its canonical root.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home of `reg`.
    pub fn of(reg: &Registry) -> Home {
        Home::at(reg.root())
    }

    /// The home whose worktrees root is `root`.
    pub fn at(root: &Path) -> Home {
        Home {
            root: git::real_path_lenient(root),
        }
    }

    /// Whether `path` (resolved leniently: it may be gone) lies under this home's root.
    pub fn contains(&self, path: &Path) -> bool {
        git::real_path_lenient(path).starts_with(&self.root)
    }

    /// Whether a mark naming `registry` names this home.
    fn is(&self, registry: &Path) -> bool {
        git::real_path_lenient(registry) == self.root
    }

    /// Whether the worktree at `path` carrying okstra lock `mark` is this home's: the
    /// registry it names, or (an older mark naming none) its place under the root.
    pub fn owns_locked(&self, mark: &Mark, path: &Path) -> bool {
        match &mark.registry {
            Some(r) => self.is(r),
            None => self.contains(path),
        }
    }

    /// Whether a git worktree of `main` named `wt` is this home's to act on: an okstra
    /// lock naming this home (or none, under the root), or no okstra lock and a place
    /// under the root. A worktree locked for another home is never this home's, wherever
    /// it lies.
    pub fn owns_worktree(&self, wt: &git2::Worktree) -> bool {
        match lock_mark(wt) {
            Some(m) => self.owns_locked(&m, wt.path()),
            None => self.contains(wt.path()),
        }
    }

    /// Whether a branch with okstra's creation mark `mark` is this home's: only a mark
    /// naming this home is (a branch of an older release is left alone).
    pub fn owns_branch(&self, mark: &Mark) -> bool {
        mark.registry.as_deref().is_some_and(|r| self.is(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_older_marks_name_no_registry() {
        assert_eq!(
            parse("p/g/t#stage-2 (registry /h/a b/worktrees)\n"),
            Mark {
                key: "p/g/t#stage-2".into(),
                registry: Some(PathBuf::from("/h/a b/worktrees")),
            }
        );
        assert_eq!(parse_key("p/g/t#stage-2").unwrap().stage, Some(2));
        assert_eq!(
            parse_key("p/g/t#group-s1").unwrap().group_id.as_deref(),
            Some("s1")
        );
        assert!(parse_key("p/g").is_none() && parse_key("p/g/t#x").is_none());
        assert_eq!(
            parse("p/g/t"),
            Mark {
                key: "p/g/t".into(),
                registry: None
            }
        );
    }
}
