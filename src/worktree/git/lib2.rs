//! Worktree creation through libgit2, used only when no usable git is on `PATH`.
//!
//! libgit2 has no `working-tree-encoding`, runs no external filter drivers (`filter=lfs`
//! and others), runs no hooks and knows no sparse checkout. [`check`] therefore refuses a
//! repository whose checkout needs an encoding or a configured filter driver (the files
//! would differ from git's and `git status` would show them modified, or LFS pointers would
//! stand where git writes the objects) and notes a `post-checkout` hook that will not run
//! and a sparse main worktree whose cone is not applied.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{Binding, Oid, Reference, Repository, Worktree};
use libgit2_sys as raw;

use super::{remove_worktree, retry_locked};
use crate::error::git_err;
use crate::worktree::WorktreeError;

/// One attributes file that applies to the checkout: where it is (for messages) and its
/// text.
struct AttrSource {
    origin: String,
    text: String,
}

/// Every attributes file that can apply when checking out `commit`: each `.gitattributes`
/// of its tree, `info/attributes`, `core.attributesFile`, the global
/// (`$XDG_CONFIG_HOME/git/attributes`) and system (`/etc/gitattributes`) ones.
fn attribute_sources(main: &Repository, commit: &git2::Commit) -> Vec<AttrSource> {
    let mut out = Vec::new();
    let mut file = |origin: PathBuf| {
        if let Ok(text) = std::fs::read_to_string(&origin) {
            out.push(AttrSource {
                origin: origin.display().to_string(),
                text,
            });
        }
    };
    file(main.path().join("info/attributes"));
    if let Some(p) = main
        .config()
        .ok()
        .and_then(|c| c.get_path("core.attributesFile").ok())
    {
        file(p);
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(d) = xdg {
        file(d.join("git/attributes"));
    }
    file(PathBuf::from("/etc/gitattributes"));
    if let Ok(tree) = commit.tree() {
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.name_bytes() == b".gitattributes" {
                if let Some(blob) = entry.to_object(main).ok().and_then(|o| o.into_blob().ok()) {
                    out.push(AttrSource {
                        origin: format!("{dir}.gitattributes"),
                        text: String::from_utf8_lossy(blob.content()).into_owned(),
                    });
                }
            }
            git2::TreeWalkResult::Ok
        });
    }
    out
}

/// What the checkout of `base` needs that libgit2 cannot do: refused with
/// `E_GIT_REQUIRED` (`why` says why git is not used) when an attributes file uses
/// `working-tree-encoding` or a `filter=<driver>` whose `filter.<driver>.smudge` /
/// `.process` is configured. Otherwise returns the notes for the caller: libgit2 was used,
/// a `post-checkout` hook did not run, a sparse main worktree's cone was not applied.
pub fn check(main: &Repository, base: Oid, why: String) -> Result<Vec<String>, WorktreeError> {
    let commit = main
        .find_commit(base)
        .map_err(git_err("find commit", main.path()))?;
    let config = main.config().ok();
    let configured = |key: &str| config.as_ref().is_some_and(|c| c.get_entry(key).is_ok());
    let mut needs = Vec::new();
    for src in attribute_sources(main, &commit) {
        for token in src
            .text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
        {
            let what = if token.starts_with("working-tree-encoding=") {
                format!("{token} ({})", src.origin)
            } else if let Some(driver) = token.strip_prefix("filter=") {
                if !configured(&format!("filter.{driver}.smudge"))
                    && !configured(&format!("filter.{driver}.process"))
                {
                    continue;
                }
                format!("{token} ({}; an external filter driver)", src.origin)
            } else {
                continue;
            };
            if !needs.contains(&what) {
                needs.push(what);
            }
        }
    }
    if !needs.is_empty() {
        return Err(WorktreeError::GitRequired {
            repo: main.path().to_path_buf(),
            needs: needs.join(", "),
            why,
        });
    }
    let mut notes = vec![format!("made with libgit2 ({why})")];
    if post_checkout_hook(main).is_some() {
        notes.push(
            "post-checkout hook NOT run (libgit2 runs no hooks; run it by hand or install git)"
                .into(),
        );
    }
    if config
        .as_ref()
        .and_then(|c| c.get_bool("core.sparseCheckout").ok())
        .unwrap_or(false)
    {
        notes.push(
            "sparse checkout of the main worktree NOT applied: every file is checked out \
             (libgit2 has no sparse checkout; install git for git's cone)"
                .into(),
        );
    }
    Ok(notes)
}

/// The repository's executable `post-checkout` hook, if any (`core.hooksPath`, else
/// `<common dir>/hooks`).
fn post_checkout_hook(main: &Repository) -> Option<PathBuf> {
    let dir = main
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok())
        .map(|p| match main.workdir() {
            Some(w) if p.is_relative() => w.join(p),
            _ => p,
        })
        .unwrap_or_else(|| main.path().join("hooks"));
    let hook = dir.join("post-checkout");
    hook.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .then_some(hook)
}

/// The admin entry name `git worktree add` would choose for `path`: its base name, with
/// the first free counter appended when that is taken.
fn git_style_admin_name(main: &Repository, path: &Path) -> String {
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .unwrap_or_else(|| "worktree".into());
    let dir = main.path().join("worktrees");
    std::iter::once(base.clone())
        .chain((1..).map(|i| format!("{base}{i}")))
        .find(|n| dir.join(n).symlink_metadata().is_err())
        .unwrap_or(base)
}

/// Creates `branch` at `base` and a worktree on it at `path`, locked with `reason`, through
/// libgit2. Returns the admin entry name. On failure the caller's undo guard removes the
/// branch (and any worktree left).
pub fn add_worktree(
    main: &Repository,
    path: &Path,
    branch: &str,
    base: Oid,
    reason: &str,
) -> Result<String, WorktreeError> {
    let repo = main.path();
    let commit = main
        .find_commit(base)
        .map_err(git_err("find commit", repo))?;
    let reference = retry_locked(|| main.branch(branch, &commit, false))
        .map_err(git_err("branch", repo))?
        .into_reference();
    add_on(main, path, &reference, &commit, reason)
}

/// A worktree at `path` with the existing local `branch` checked out, locked with `reason`,
/// through libgit2 (the re-entry of a released key whose directory is gone). Returns the
/// admin entry name.
pub fn add_worktree_on(
    main: &Repository,
    path: &Path,
    branch: &str,
    reason: &str,
) -> Result<String, WorktreeError> {
    let repo = main.path();
    let reference = main
        .find_reference(&format!("refs/heads/{branch}"))
        .map_err(git_err("find branch", repo))?;
    let commit = reference
        .peel_to_commit()
        .map_err(git_err("find commit", repo))?;
    add_on(main, path, &reference, &commit, reason)
}

fn add_on(
    main: &Repository,
    path: &Path,
    reference: &Reference,
    commit: &git2::Commit,
    reason: &str,
) -> Result<String, WorktreeError> {
    let repo = main.path();
    let filters = needs_filters(main, commit);
    let name = git_style_admin_name(main, path);
    retry_locked(|| {
        let made = add_checked_out(main, &name, path, reference, filters)
            .and_then(|wt| wt.lock(Some(reason)));
        if made.is_err() {
            // A half-made worktree would make the retry fail with "already exists".
            remove_worktree(main, &name, path);
        }
        made
    })
    .map_err(git_err("worktree add", repo))?;
    Ok(name)
}

/// Whether checking out `commit` may need content filters (line-ending conversion, `ident`,
/// `filter=` drivers): any attributes file ([`attribute_sources`]), or a `core.autocrlf` /
/// `core.eol` setting.
///
/// Why it matters: with filters on, libgit2 resolves the attribute files of every checked
/// out path, including a `realpath()` of its directory (one `readlink` per path component:
/// 180,000 failed `readlink` calls for 10,000 files); that made provisioning ~1.8× slower
/// than `git worktree add`. Without any attributes source the filters are no-ops, so
/// skipping them writes the same bytes.
fn needs_filters(main: &Repository, commit: &git2::Commit) -> bool {
    let configured = main.config().is_ok_and(|c| {
        ["core.autocrlf", "core.eol", "core.attributesFile"]
            .iter()
            .any(|k| c.get_entry(k).is_ok())
    });
    configured || !attribute_sources(main, commit).is_empty()
}

/// `git_worktree_add` with explicit checkout options, which git2's `WorktreeAddOptions`
/// does not expose: a forced checkout (the directory is new, nothing can be clobbered) and,
/// when no attributes apply, no content filters (see [`needs_filters`]).
fn add_checked_out(
    main: &Repository,
    name: &str,
    path: &Path,
    reference: &Reference,
    filters: bool,
) -> Result<Worktree, git2::Error> {
    let c_name = CString::new(name).map_err(|_| git2::Error::from_str("NUL in worktree name"))?;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| git2::Error::from_str("NUL in worktree path"))?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().disable_filters(!filters);
    // SAFETY: `opts` is initialised by libgit2's own init function before use; the
    // reference, repository and C strings outlive the call; on success libgit2 hands us an
    // owned `git_worktree` that `Worktree::from_raw` takes over (and frees on drop).
    unsafe {
        let mut opts: raw::git_worktree_add_options = std::mem::zeroed();
        let rc =
            raw::git_worktree_add_options_init(&mut opts, raw::GIT_WORKTREE_ADD_OPTIONS_VERSION);
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        opts.reference = reference.raw();
        checkout.configure(&mut opts.checkout_options);
        let mut out = std::ptr::null_mut();
        let rc = raw::git_worktree_add(
            &mut out,
            main.raw(),
            c_name.as_ptr(),
            c_path.as_ptr(),
            &opts,
        );
        if rc < 0 {
            return Err(git2::Error::last_error(rc));
        }
        Ok(Worktree::from_raw(out))
    }
}
