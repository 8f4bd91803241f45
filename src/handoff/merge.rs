//! The merge engine of `assemble`: git itself. Every merge is `git merge-tree --write-tree`
//! (git ≥ 2.38), the merge machinery of `git merge` (ort) without a worktree or index: it
//! honours the repository's configuration (`merge.renames`, rename limits,
//! `merge.directoryRenames`, merge drivers named in `.gitattributes` and configured in
//! `merge.<driver>.driver`) exactly as `git merge` does, and writes the merged tree. The
//! preflight and the real result are the same call, so they cannot disagree: a clean merge
//! yields the tree the collector's merge commit gets (`git commit-tree`), a conflict is
//! reported before any branch, worktree or registry entry exists. No ref changes here; the
//! merge commits no ref points to yet are left for `git gc`.
//!
//! Attributes are read from the merge's own first side (`GIT_ATTR_SOURCE=<ours>`), which is
//! what `git merge` in a worktree checked out at that commit reads.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::HandoffError;
use crate::error::{GitCause, GitError};
use crate::worktree::git::cli::{self, Git, Located};

/// The oldest git whose `merge-tree --write-tree` assemble can use.
pub const MERGE_TREE_VERSION: (u32, u32, u32) = (2, 38, 0);

/// A conflict found in the preflight: merging `stage` conflicts with the stages in `with`
/// (pairwise), or, when `with` is empty, only with the merge of all earlier stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageConflict {
    pub stage: u32,
    pub with: Vec<u32>,
    pub paths: Vec<String>,
}

impl fmt::Display for StageConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths = self.paths.join(", ");
        match self.with.as_slice() {
            [] => write!(
                f,
                "stage {} conflicts with the earlier stages' merge on {paths}",
                self.stage
            ),
            with => {
                let with: Vec<String> = with.iter().map(|n| format!("stage {n}")).collect();
                write!(f, "stage {} × {} on {paths}", self.stage, with.join(", "))
            }
        }
    }
}

/// One stage to merge.
pub(crate) struct Item<'a> {
    pub stage: u32,
    pub commit: String,
    pub title: &'a str,
}

/// One merge made (or found unnecessary: `merge == None` when the chain already contained
/// the stage's commit).
pub(crate) struct Made {
    pub stage: u32,
    pub commit: String,
    pub merge: Option<String>,
}

/// What `git merge-tree --write-tree` said about two commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Merged cleanly into this tree.
    Clean(String),
    /// Conflicts, on these paths (git's conflicted files, else the paths its conflict
    /// messages name).
    Conflict(Vec<String>),
}

/// git, run in one repository, for merging.
pub struct Engine {
    git: Git,
    dir: PathBuf,
}

/// The identity okstra's merge commits get when the repository configures none (as the
/// libgit2 engine did before): `git commit-tree` would refuse without one.
const FALLBACK_IDENT: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "okstra"),
    ("GIT_AUTHOR_EMAIL", "okstra@localhost"),
    ("GIT_COMMITTER_NAME", "okstra"),
    ("GIT_COMMITTER_EMAIL", "okstra@localhost"),
];

impl Engine {
    /// The git on `PATH`, which must be at least [`MERGE_TREE_VERSION`], run in `dir` (any
    /// directory of the repository). Errors: `E_GIT_REQUIRED` naming the git found.
    pub fn new(dir: &Path) -> Result<Engine, HandoffError> {
        let (a, b, c) = MERGE_TREE_VERSION;
        let why = match cli::locate() {
            Located::Usable(git) if git.version() >= MERGE_TREE_VERSION => {
                return Ok(Engine {
                    git,
                    dir: dir.to_path_buf(),
                })
            }
            Located::Usable(git) => {
                let (x, y, z) = git.version();
                format!("{} is {x}.{y}.{z}", git.exe().display())
            }
            other => other.why_not(),
        };
        Err(HandoffError::GitRequired {
            needs: format!("git {a}.{b}.{c} or newer (`git merge-tree --write-tree`)"),
            why,
        })
    }

    /// Runs `git <args>` in the repository (with `attr_source` as `GIT_ATTR_SOURCE`).
    fn run(&self, args: &[&str], attr_source: Option<&str>) -> Result<Output, GitError> {
        let mut cmd = self.git.command(&self.dir);
        cmd.args(args);
        if let Some(src) = attr_source {
            cmd.env("GIT_ATTR_SOURCE", src);
        }
        cmd.output().map_err(|error| {
            GitError::new(
                "run",
                &self.dir,
                GitCause::Spawn {
                    exe: self.git.exe().to_path_buf(),
                    error,
                },
            )
        })
    }

    /// Runs `git -C <dir> <args>` (a worktree of the repository), whatever its exit status.
    pub(crate) fn git_in(&self, dir: &Path, args: &[&str]) -> Result<Output, GitError> {
        let mut cmd = self.git.command(dir);
        cmd.args(args);
        cmd.output().map_err(|error| {
            GitError::new(
                "run",
                dir,
                GitCause::Spawn {
                    exe: self.git.exe().to_path_buf(),
                    error,
                },
            )
        })
    }

    /// `git <args>`, which must succeed; its stdout trimmed.
    fn ok(&self, op: &'static str, args: &[&str]) -> Result<String, GitError> {
        let out = self.run(args, None)?;
        if !out.status.success() {
            return Err(GitError::new(
                op,
                &self.dir,
                GitCause::Exit {
                    status: out.status,
                    output: cli::printed(&out),
                },
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Merges `theirs` into `ours` as `git merge` would, without touching any worktree.
    pub fn merge_tree(&self, ours: &str, theirs: &str) -> Result<Verdict, GitError> {
        let out = self.run(
            &[
                "merge-tree",
                "--write-tree",
                "-z",
                "--name-only",
                "--messages",
                "--",
                ours,
                theirs,
            ],
            Some(ours),
        )?;
        let code = out.status.code();
        if code != Some(0) && code != Some(1) {
            return Err(GitError::new(
                "merge-tree",
                &self.dir,
                GitCause::Exit {
                    status: out.status,
                    output: cli::printed(&out),
                },
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut fields = text.split('\0');
        let tree = fields.next().unwrap_or("").trim().to_string();
        if code == Some(0) {
            return Ok(Verdict::Clean(tree));
        }
        // Conflicted file names up to an empty field, then the messages:
        // <n>NUL<path>…NUL<type>NUL<message>NUL, repeated.
        let mut paths: Vec<String> = Vec::new();
        for f in fields.by_ref() {
            if f.is_empty() {
                break;
            }
            push_new(&mut paths, f);
        }
        if paths.is_empty() {
            let rest: Vec<&str> = fields.collect();
            let mut i = 0;
            while i < rest.len() {
                let Ok(n) = rest[i].parse::<usize>() else {
                    break;
                };
                let named = rest.get(i + 1..i + 1 + n).unwrap_or(&[]);
                let kind = rest.get(i + 1 + n).copied().unwrap_or("");
                if kind.starts_with("CONFLICT") {
                    for p in named {
                        push_new(&mut paths, p);
                    }
                }
                i += n + 3;
            }
        }
        Ok(Verdict::Conflict(paths))
    }

    /// `git commit-tree <tree> -p <first> -p <second> -m <message>`.
    fn commit_tree(
        &self,
        tree: &str,
        first: &str,
        second: &str,
        message: &str,
    ) -> Result<String, GitError> {
        let args = [
            "commit-tree",
            tree,
            "-p",
            first,
            "-p",
            second,
            "-m",
            message,
        ];
        let configured = self
            .run(&["var", "GIT_COMMITTER_IDENT"], None)?
            .status
            .success()
            && self
                .run(&["var", "GIT_AUTHOR_IDENT"], None)?
                .status
                .success();
        if configured {
            return self.ok("commit-tree", &args);
        }
        let mut cmd = self.git.command(&self.dir);
        cmd.args(args).envs(FALLBACK_IDENT);
        let out = cmd.output().map_err(|error| {
            GitError::new(
                "commit-tree",
                &self.dir,
                GitCause::Spawn {
                    exe: self.git.exe().to_path_buf(),
                    error,
                },
            )
        })?;
        if !out.status.success() {
            return Err(GitError::new(
                "commit-tree",
                &self.dir,
                GitCause::Exit {
                    status: out.status,
                    output: cli::printed(&out),
                },
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, GitError> {
        let out = self.run(
            &["merge-base", "--is-ancestor", "--", ancestor, descendant],
            None,
        )?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(GitError::new(
                "merge-base",
                &self.dir,
                GitCause::Exit {
                    status: out.status,
                    output: cli::printed(&out),
                },
            )),
        }
    }
}

fn push_new(paths: &mut Vec<String>, p: &str) {
    if !paths.iter().any(|q| q == p) {
        paths.push(p.to_string());
    }
}

/// Merges `items` one after another onto `start` (dependency order is the caller's),
/// writing a two-parent merge commit for each stage not already contained. Returns the
/// merges made, or every conflict (pairwise between selected stages where that explains
/// it). No ref changes.
pub(crate) fn merge_chain(
    engine: &Engine,
    start: &str,
    items: &[Item<'_>],
    all: &[Item<'_>],
    branch: &str,
) -> Result<Vec<Made>, HandoffError> {
    let mut cur = start.to_string();
    let mut made = Vec::with_capacity(items.len());
    for item in items {
        if engine.is_ancestor(&item.commit, &cur)? {
            made.push(Made {
                stage: item.stage,
                commit: item.commit.clone(),
                merge: None,
            });
            continue;
        }
        let tree = match engine.merge_tree(&cur, &item.commit)? {
            Verdict::Clean(tree) => tree,
            Verdict::Conflict(paths) => {
                return Err(HandoffError::MergeConflict {
                    conflicts: explain(engine, all, item.stage, paths)?,
                })
            }
        };
        let message = format!(
            "Merge stage {} into {branch}: {}\n\nStage head {} ({MARKER}).\n",
            item.stage, item.title, item.commit
        );
        let id = engine.commit_tree(&tree, &cur, &item.commit, &message)?;
        made.push(Made {
            stage: item.stage,
            commit: item.commit.clone(),
            merge: Some(id.clone()),
        });
        cur = id;
    }
    Ok(made)
}

/// The words every collector merge commit's message carries: how a re-run tells okstra's
/// merges from commits someone made on the collector branch.
pub(crate) const MARKER: &str = "okstra handoff assemble";

/// The conflicts behind a failed merge of stage `failed`: every pair of selected stages
/// whose commits conflict with each other, or the failed merge alone when no pair does.
fn explain(
    engine: &Engine,
    items: &[Item<'_>],
    failed: u32,
    paths: Vec<String>,
) -> Result<Vec<StageConflict>, HandoffError> {
    let mut out = Vec::new();
    for (j, b) in items.iter().enumerate().skip(1) {
        let mut with = Vec::new();
        let mut pair_paths: Vec<String> = Vec::new();
        for a in &items[..j] {
            if let Verdict::Conflict(ps) = engine.merge_tree(&a.commit, &b.commit)? {
                with.push(a.stage);
                for p in ps {
                    push_new(&mut pair_paths, &p);
                }
            }
        }
        if !with.is_empty() {
            out.push(StageConflict {
                stage: b.stage,
                with,
                paths: pair_paths,
            });
        }
    }
    if out.is_empty() {
        out.push(StageConflict {
            stage: failed,
            with: Vec::new(),
            paths,
        });
    }
    Ok(out)
}
