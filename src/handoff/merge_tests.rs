//! okstra's merge verdict against git's own: for each case a repository with two branches
//! off one base, merged by the engine assemble uses (`git merge-tree --write-tree`) and by
//! `git merge` in a real worktree. The verdict (clean or conflict) must be the same, and a
//! clean merge must give the same tree.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use super::merge::{Engine, Verdict};
use crate::testutil::{git, write};

/// One case: a name, setup of the base (run in the repository on `main`), the two sides'
/// changes (each run on its own branch off the base), and git's verdict as expected
/// (`true` = conflict) — asserted too, so a case cannot silently stop testing anything.
struct Case {
    name: &'static str,
    base: fn(&Path),
    ours: fn(&Path),
    theirs: fn(&Path),
    conflict: bool,
}

fn commit(repo: &Path, msg: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", msg]);
}

fn files(repo: &Path) {
    write(&repo.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n");
    write(&repo.join("d/one.txt"), "one\none\none\n");
    write(&repo.join("d/two.txt"), "two\ntwo\ntwo\n");
}

fn none(_: &Path) {}

// One table, read top to bottom; splitting it would only scatter the cases.
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "content conflict",
            base: files,
            ours: |r| write(&r.join("a.txt"), "1\nours\n3\n4\n5\n6\n7\n8\n"),
            theirs: |r| write(&r.join("a.txt"), "1\ntheirs\n3\n4\n5\n6\n7\n8\n"),
            conflict: true,
        },
        Case {
            name: "edits to different lines",
            base: files,
            ours: |r| write(&r.join("a.txt"), "ours\n2\n3\n4\n5\n6\n7\n8\n"),
            theirs: |r| write(&r.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\ntheirs\n"),
            conflict: false,
        },
        Case {
            name: "rename/rename",
            base: files,
            ours: |r| git(r, &["mv", "a.txt", "b.txt"]).truncate(0),
            theirs: |r| git(r, &["mv", "a.txt", "c.txt"]).truncate(0),
            conflict: true,
        },
        Case {
            name: "directory rename + new file in the old directory",
            base: files,
            ours: |r| git(r, &["mv", "d", "e"]).truncate(0),
            theirs: |r| write(&r.join("d/new.txt"), "new\n"),
            conflict: true,
        },
        Case {
            name: "delete/modify",
            base: files,
            ours: |r| std::fs::remove_file(r.join("a.txt")).unwrap(),
            theirs: |r| write(&r.join("a.txt"), "changed\n"),
            conflict: true,
        },
        Case {
            name: "mode change + content change",
            base: files,
            ours: |r| {
                let exec = std::os::unix::fs::PermissionsExt::from_mode(0o755);
                std::fs::set_permissions(r.join("a.txt"), exec).unwrap();
            },
            theirs: |r| write(&r.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n"),
            conflict: false,
        },
        Case {
            name: "binary changed on both sides",
            base: |r| std::fs::write(r.join("img.bin"), [0u8, 1, 2, 0, 255, 3]).unwrap(),
            ours: |r| std::fs::write(r.join("img.bin"), [0u8, 1, 2, 0, 255, 4]).unwrap(),
            theirs: |r| std::fs::write(r.join("img.bin"), [0u8, 9, 2, 0, 255, 3]).unwrap(),
            conflict: true,
        },
        Case {
            name: "custom merge driver resolves a text conflict",
            base: |r| {
                files(r);
                write(&r.join(".gitattributes"), "*.txt merge=keepours\n");
                git(r, &["config", "merge.keepours.driver", "true"]);
            },
            ours: |r| write(&r.join("a.txt"), "1\nours\n3\n4\n5\n6\n7\n8\n"),
            theirs: |r| write(&r.join("a.txt"), "1\ntheirs\n3\n4\n5\n6\n7\n8\n"),
            conflict: false,
        },
        Case {
            // merge-ort detects renames whatever merge.renames says: git merges cleanly.
            name: "merge.renames=false with rename + edit",
            base: |r| {
                files(r);
                git(r, &["config", "merge.renames", "false"]);
            },
            ours: |r| git(r, &["mv", "a.txt", "moved.txt"]).truncate(0),
            theirs: |r| write(&r.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n"),
            conflict: false,
        },
        Case {
            name: "merge.directoryRenames=false: the new file stays in the old directory",
            base: |r| {
                files(r);
                git(r, &["config", "merge.directoryRenames", "false"]);
            },
            ours: |r| git(r, &["mv", "d", "e"]).truncate(0),
            theirs: |r| write(&r.join("d/new.txt"), "new\n"),
            conflict: false,
        },
        Case {
            name: "merge.renameLimit=1 with two renames + edits",
            base: |r| {
                files(r);
                git(r, &["config", "merge.renameLimit", "1"]);
            },
            ours: |r| {
                git(r, &["mv", "d/one.txt", "d/uno.txt"]);
                git(r, &["mv", "d/two.txt", "d/dos.txt"]);
            },
            theirs: |r| {
                write(&r.join("d/one.txt"), "one\none\none\nmore\n");
                write(&r.join("d/two.txt"), "two\ntwo\ntwo\nmore\n");
            },
            conflict: false,
        },
        Case {
            name: "rename + edit with renames on",
            base: files,
            ours: |r| git(r, &["mv", "a.txt", "moved.txt"]).truncate(0),
            theirs: |r| write(&r.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n"),
            conflict: false,
        },
        Case {
            name: "core.splitIndex=true",
            base: |r| {
                files(r);
                git(r, &["config", "core.splitIndex", "true"]);
                git(r, &["update-index", "--split-index"]);
            },
            ours: |r| write(&r.join("d/one.txt"), "ONE\n"),
            theirs: |r| write(&r.join("d/two.txt"), "TWO\n"),
            conflict: false,
        },
        Case {
            name: "index version 4",
            base: |r| {
                files(r);
                git(r, &["config", "index.version", "4"]);
                git(r, &["update-index", "--index-version", "4"]);
            },
            ours: |r| write(&r.join("d/one.txt"), "ONE\n"),
            theirs: |r| write(&r.join("a.txt"), "A\n"),
            conflict: false,
        },
        Case {
            name: "submodule gitlink changed on both sides",
            base: |r| gitlink(r, "1111111111111111111111111111111111111111"),
            ours: |r| gitlink(r, "2222222222222222222222222222222222222222"),
            theirs: |r| gitlink(r, "3333333333333333333333333333333333333333"),
            conflict: true,
        },
        Case {
            name: "submodule gitlink changed on one side",
            base: |r| {
                files(r);
                gitlink(r, "1111111111111111111111111111111111111111");
            },
            ours: |r| gitlink(r, "2222222222222222222222222222222222222222"),
            theirs: |r| write(&r.join("a.txt"), "A\n"),
            conflict: false,
        },
        Case {
            name: "symlink vs file",
            base: files,
            ours: |r| {
                std::fs::remove_file(r.join("a.txt")).unwrap();
                symlink("d/one.txt", r.join("a.txt")).unwrap();
            },
            theirs: |r| write(&r.join("a.txt"), "changed\n"),
            conflict: true,
        },
        Case {
            name: "add/add with the same content",
            base: none,
            ours: |r| write(&r.join("same.txt"), "same\n"),
            theirs: |r| write(&r.join("same.txt"), "same\n"),
            conflict: false,
        },
    ]
}

fn gitlink(repo: &Path, sha: &str) {
    write(
        &repo.join(".gitmodules"),
        "[submodule \"lib\"]\n\tpath = lib\n\turl = ../lib.git\n",
    );
    git(repo, &["add", ".gitmodules"]);
    git(
        repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{sha},lib"),
        ],
    );
    // The (not cloned) submodule's directory: without it `git add -A` drops the gitlink.
    std::fs::create_dir_all(repo.join("lib")).unwrap();
}

/// The repository of `case`: returns the two side commits.
fn build(repo: &Path, case: &Case) -> (String, String) {
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.email", "t@t"]);
    git(repo, &["config", "user.name", "t"]);
    (case.base)(repo);
    commit(repo, "base");
    let side = |name: &str, change: fn(&Path)| {
        git(repo, &["checkout", "-q", "-b", name, "main"]);
        change(repo);
        commit(repo, name);
        git(repo, &["rev-parse", "HEAD"])
    };
    let ours = side("ours", case.ours);
    let theirs = side("theirs", case.theirs);
    git(repo, &["checkout", "-q", "main"]);
    (ours, theirs)
}

/// `git merge` of `theirs` in a fresh worktree at `ours`: conflict?, and the tree when clean.
fn git_merge(repo: &Path, dir: &Path, ours: &str, theirs: &str) -> (bool, Option<String>) {
    git(
        repo,
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            &dir.to_string_lossy(),
            ours,
        ],
    );
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["merge", "--no-edit", "-q", theirs])
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => (false, Some(git(dir, &["rev-parse", "HEAD^{tree}"]))),
        Some(1) => (true, None),
        _ => panic!("git merge: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

#[test]
fn merge_verdicts_equal_gits_on_the_case_table() {
    let cases = cases();
    assert!(cases.len() >= 12);
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let (ours, theirs) = build(&repo, case);
        let okstra = Engine::new(&repo)
            .unwrap()
            .merge_tree(&ours, &theirs)
            .unwrap();
        let (conflict, tree) = git_merge(&repo, &dir.path().join("wt"), &ours, &theirs);
        assert_eq!(
            conflict, case.conflict,
            "{}: git's verdict changed",
            case.name
        );
        match okstra {
            Verdict::Clean(t) => {
                assert!(!conflict, "{}: okstra clean, git conflicts", case.name);
                assert_eq!(Some(t), tree, "{}: trees differ", case.name);
            }
            Verdict::Conflict(paths) => {
                assert!(
                    conflict,
                    "{}: okstra conflicts on {paths:?}, git merges",
                    case.name
                );
                assert!(!paths.is_empty(), "{}: no conflict path named", case.name);
            }
        }
    }
}
