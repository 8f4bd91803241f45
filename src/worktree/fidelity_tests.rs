//! A provisioned worktree is what `git worktree add` of the same commit makes: compared
//! file by file (bytes, mode, symlink target) against a reference worktree git itself
//! adds, on repositories that use what libgit2 cannot do (working-tree-encoding, an LFS
//! filter, a post-checkout hook, a sparse cone) plus line-ending rules, exec bits,
//! symlinks and submodule entries.

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use super::tests::serial;
use super::*;
use crate::context::Context;
use crate::testutil::{git, write};

/// One entry of a worktree as compared: kind + mode + content (or link target).
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File { mode: u32, bytes: Vec<u8> },
    Link(PathBuf),
}

/// Every entry under `root` except its own `.git` file (which names its admin entry),
/// keyed by relative path.
fn tree(root: &Path) -> BTreeMap<PathBuf, Entry> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new(".git") {
                continue;
            }
            let meta = p.symlink_metadata().unwrap();
            let entry = if meta.file_type().is_symlink() {
                Entry::Link(std::fs::read_link(&p).unwrap())
            } else if meta.is_dir() {
                go(root, &p, out);
                Entry::Dir
            } else {
                Entry::File {
                    mode: meta.mode() & 0o7777,
                    bytes: std::fs::read(&p).unwrap(),
                }
            };
            out.insert(rel, entry);
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

/// Asserts the two worktrees hold the same entries, naming the first that differs.
pub(crate) fn assert_same_tree(made: &Path, reference: &Path) {
    let (a, b) = (tree(made), tree(reference));
    let names = |t: &BTreeMap<PathBuf, Entry>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "same paths");
    for (path, entry) in &a {
        assert!(
            &b[path] == entry,
            "{} differs: provisioned {entry:?}, git {:?}",
            path.display(),
            b[path]
        );
    }
}

pub(crate) fn new_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.email", "t@example.com"]);
    git(&repo, &["config", "user.name", "t"]);
    repo
}

fn ctx(home: &Path) -> Context {
    Context::resolve(Some(&home.to_string_lossy()), None).unwrap()
}

fn req(repo: &Path, _home: &Path, task: &str) -> ProvisionRequest {
    ProvisionRequest {
        task_type: "implementation".into(),
        project_root: repo.to_path_buf(),
        project_id: "p".into(),
        task_group: "g".into(),
        task_id: task.into(),
        work_category: "feature".into(),
        ..ProvisionRequest::default()
    }
}

/// `git worktree add -b <branch> <dir> <base>` in the main worktree: the reference.
fn reference_worktree(repo: &Path, dir: &Path, branch: &str, base: &str) {
    git(
        repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            branch,
            &dir.to_string_lossy(),
            base,
        ],
    );
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// A repository with everything a checkout can get wrong: a UTF-16 `working-tree-encoding`
/// file, CRLF files, an executable, a symlink, an LFS object, a submodule gitlink and a
/// post-checkout hook (LFS's plus a marker of git's arguments). Returns the repository, the
/// encoded ini bytes and the LFS object bytes.
pub(crate) fn hostile_fixture(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let lfs = std::process::Command::new("git")
        .args(["lfs", "version"])
        .output();
    assert!(
        lfs.is_ok_and(|o| o.status.success()),
        "git-lfs is needed (scripts/test-deps.sh installs it)"
    );
    let repo = new_repo(dir);
    git(&repo, &["lfs", "install", "--local"]);
    git(&repo, &["lfs", "track", "*.bin"]);
    let mut attrs = std::fs::read_to_string(repo.join(".gitattributes")).unwrap();
    attrs.push_str("*.ini text working-tree-encoding=UTF-16LE-BOM eol=crlf\n*.bat text eol=crlf\n");
    write(&repo.join(".gitattributes"), &attrs);
    let ini = utf16le_bom("[main]\r\nname=Größe ✓\r\n");
    std::fs::write(repo.join("settings.ini"), &ini).unwrap();
    write(&repo.join("run.bat"), "@echo off\r\necho hi\r\n");
    write(&repo.join("tool.sh"), "#!/bin/sh\necho tool\n");
    std::fs::set_permissions(
        repo.join("tool.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    symlink("tool.sh", repo.join("tool-link")).unwrap();
    let object: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(repo.join("big.bin"), &object).unwrap();
    write(&repo.join("docs/readme.md"), "docs\n");
    // A submodule entry (gitlink + .gitmodules), not cloned: both sides make its empty dir.
    write(
        &repo.join(".gitmodules"),
        "[submodule \"vendor/lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n",
    );
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,1111111111111111111111111111111111111111,vendor/lib",
        ],
    );
    git(&repo, &["commit", "-q", "-m", "fixture"]);
    assert!(git(&repo, &["ls-tree", "HEAD", "vendor/lib"]).starts_with("160000 commit"));
    // The object sits in the local LFS store only; the committed blob is the pointer.
    let pointer = git(&repo, &["cat-file", "-p", "HEAD:big.bin"]);
    assert!(pointer.starts_with("version https://git-lfs"), "{pointer}");
    // post-checkout: LFS's own hook plus a marker recording git's arguments.
    write(
        &repo.join(".git/hooks/post-checkout"),
        "#!/bin/sh\necho \"$@\" > .post-checkout-marker\ngit lfs post-checkout \"$@\"\n",
    );
    std::fs::set_permissions(
        repo.join(".git/hooks/post-checkout"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    write(&repo.join(".git/info/exclude"), ".post-checkout-marker\n");
    (repo, ini, object)
}

#[test]
fn provisioned_worktree_equals_git_worktree_add_with_encoding_lfs_hook_crlf_modes_submodule() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (repo, ini, object) = hostile_fixture(dir.path());
    let home = dir.path().join("home");
    let r = provision(&ctx(&home), &req(&repo, &home, "fid")).unwrap();
    assert_eq!(r.status, ProvisionStatus::Created, "{r:?}");
    let made = Path::new(&r.path);
    let reference = dir.path().join("reference");
    reference_worktree(&repo, &reference, "reference", &r.base_ref);
    assert_same_tree(made, &reference);
    assert!(!r.note.contains("libgit2"), "{}", r.note);

    // And the tree is what a user expects, not just equal.
    assert_eq!(std::fs::read(made.join("settings.ini")).unwrap(), ini);
    assert_eq!(std::fs::read(made.join("big.bin")).unwrap(), object);
    assert_eq!(
        std::fs::read(made.join("run.bat")).unwrap(),
        b"@echo off\r\necho hi\r\n"
    );
    assert_eq!(
        made.join("tool.sh").metadata().unwrap().mode() & 0o111,
        0o111
    );
    assert_eq!(
        std::fs::read_link(made.join("tool-link")).unwrap(),
        Path::new("tool.sh")
    );
    assert!(made.join("vendor/lib").is_dir());
    let marker = std::fs::read_to_string(made.join(".post-checkout-marker")).unwrap();
    assert_eq!(
        marker.trim(),
        format!("{} {} 1", "0".repeat(40), r.base_ref)
    );
    for wt in [made, reference.as_path()] {
        assert_eq!(git(wt, &["status", "--porcelain"]), "", "{}", wt.display());
    }
    // Still locked with okstra's reason, on the new branch, no tracking config written.
    let list = git(&repo, &["worktree", "list", "--porcelain"]);
    assert!(list.contains("locked okstra task p/g/fid"), "{list}");
    assert_eq!(git(made, &["branch", "--show-current"]), "feat-fid");
    assert!(!std::fs::read_to_string(repo.join(".git/config"))
        .unwrap()
        .contains("feat-fid"));
}

#[test]
fn sparse_cone_of_the_main_worktree_is_carried_like_git_does() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    for d in ["keep", "skip", "keep/deep"] {
        write(&repo.join(d).join("f.txt"), &format!("{d}\n"));
    }
    write(&repo.join("top.txt"), "top\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tree"]);
    git(&repo, &["sparse-checkout", "set", "--cone", "keep"]);
    assert!(!repo.join("skip").exists());

    let home = dir.path().join("home");
    let r = provision(&ctx(&home), &req(&repo, &home, "sparse")).unwrap();
    let made = Path::new(&r.path);
    let reference = dir.path().join("reference");
    reference_worktree(&repo, &reference, "reference", &r.base_ref);
    assert_same_tree(made, &reference);
    assert!(made.join("keep/deep/f.txt").exists());
    assert!(made.join("top.txt").exists());
    assert!(!made.join("skip").exists());
    assert_eq!(
        git(made, &["sparse-checkout", "list"]),
        git(&repo, &["sparse-checkout", "list"])
    );
    assert_eq!(git(made, &["status", "--porcelain"]), "");
}

#[test]
fn relative_base_refs_resolve_in_the_worktree_project_root_names() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path());
    write(&repo.join("a.txt"), "1\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let home = dir.path().join("home");
    let task = provision(&ctx(&home), &req(&repo, &home, "task")).unwrap();
    let wt = Path::new(&task.path);
    // The task worktree moves ahead of main, and switches branches once (for @{-1}).
    write(&wt.join("a.txt"), "2\n");
    git(wt, &["commit", "-q", "-am", "two"]);
    let task_head = git(wt, &["rev-parse", "HEAD"]);
    git(wt, &["switch", "-q", "-c", "side"]);
    write(&wt.join("a.txt"), "3\n");
    git(wt, &["commit", "-q", "-am", "three"]);
    let side_head = git(wt, &["rev-parse", "HEAD"]);
    let main_head = git(&repo, &["rev-parse", "HEAD"]);
    assert_ne!(task_head, main_head);

    for (stage, base, want) in [
        (1, "HEAD", &side_head),
        (2, "@{-1}", &task_head),
        (3, "HEAD~1", &task_head),
    ] {
        let mut r = req(wt, &home, "task");
        r.stage = Some(stage);
        r.base_ref = Some(base.into());
        let made = provision(&ctx(&home), &r).unwrap();
        assert_eq!(&made.base_ref, want, "{base}");
        assert_eq!(&git(Path::new(&made.path), &["rev-parse", "HEAD"]), want);
    }
    // No baseRef: the main worktree's HEAD, from anywhere.
    let mut r = req(wt, &home, "task");
    r.stage = Some(4);
    assert_eq!(provision(&ctx(&home), &r).unwrap().base_ref, main_head);
    // From the main worktree, HEAD is the main worktree's.
    let mut r = req(&repo, &home, "other");
    r.base_ref = Some("HEAD".into());
    assert_eq!(provision(&ctx(&home), &r).unwrap().base_ref, main_head);
}
