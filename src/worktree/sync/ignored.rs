//! Whether git ignores a path in a worktree, with git's own precedence: a deeper
//! `.gitignore` wins over a shallower one, every `.gitignore` wins over `info/exclude`,
//! which wins over `core.excludesFile`; within one file the last matching pattern wins; a
//! path under an ignored directory is ignored whatever later patterns say; a symlink is a
//! file (a `dir/` pattern does not match it). Used to check, after carrying, that nothing
//! carried would show in `git status`. libgit2 is not asked: it drops a negation that has
//! nothing to negate earlier in the same file, while git applies it across files
//! (`!.claude` in `.gitignore` un-ignores what `info/exclude` ignores).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::Gitignore;
use ignore::Match;

/// The ignore rules of one worktree, `.gitignore` files read on demand.
pub struct Rules {
    wt: PathBuf,
    per_dir: HashMap<String, Gitignore>,
    exclude: Gitignore,
    global: Gitignore,
}

/// A matcher for the pattern file `file` (a missing, symlinked or unreadable file matches
/// nothing: git does not follow a symlinked `.gitignore`).
fn load(file: &Path, root: &Path) -> Gitignore {
    if !file.symlink_metadata().is_ok_and(|m| m.is_file()) {
        return Gitignore::empty();
    }
    let mut b = ignore::gitignore::GitignoreBuilder::new(root);
    let _ = b.add(file);
    b.build().unwrap_or_else(|_| Gitignore::empty())
}

impl Rules {
    /// The rules of worktree `wt` of the repository whose common git dir is `common_dir`.
    pub fn new(wt: &Path, common_dir: &Path) -> Rules {
        Rules {
            wt: wt.to_path_buf(),
            per_dir: HashMap::new(),
            exclude: load(&common_dir.join("info/exclude"), wt),
            global: Gitignore::global().0,
        }
    }

    fn verdict(m: Match<&ignore::gitignore::Glob>) -> Option<bool> {
        match m {
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
            Match::None => None,
        }
    }

    /// The decision for one path (not looking at its parents): the deepest `.gitignore`
    /// with a match, else `info/exclude`, else the global file.
    fn decide(&mut self, rel: &str, is_dir: bool) -> Option<bool> {
        let abs = self.wt.join(rel);
        let mut dir = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        loop {
            let wt = &self.wt;
            let gi = self.per_dir.entry(dir.clone()).or_insert_with(|| {
                let d = wt.join(&dir);
                load(&d.join(".gitignore"), &d)
            });
            if let Some(v) = Self::verdict(gi.matched(&abs, is_dir)) {
                return Some(v);
            }
            if dir.is_empty() {
                break;
            }
            dir = dir.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        }
        Self::verdict(self.exclude.matched(&abs, is_dir))
            .or_else(|| Self::verdict(self.global.matched(&abs, is_dir)))
    }

    /// Whether git ignores `rel` (relative to the worktree, `/`-separated).
    pub fn is_ignored(&mut self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        for i in 0..parts.len() {
            let prefix = parts[..=i].join("/");
            let last = i + 1 == parts.len();
            let is_dir = if last {
                self.wt
                    .join(&prefix)
                    .symlink_metadata()
                    .is_ok_and(|m| m.is_dir())
            } else {
                true
            };
            match self.decide(&prefix, is_dir) {
                Some(true) => return true,
                _ if last => return false,
                _ => {}
            }
        }
        false
    }
}

/// The entries of `rels` git would list as untracked in the worktree `wt`.
pub fn visible(wt: &Path, common_dir: &Path, rels: &[String]) -> Vec<String> {
    let mut rules = Rules::new(wt, common_dir);
    rels.iter()
        .filter(|r| !rules.is_ignored(r))
        .cloned()
        .collect()
}
