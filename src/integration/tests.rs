//! Every proof on real repositories made with the git CLI, and the cases that must not pass.

use std::path::Path;

use super::*;
use crate::testutil::git;

/// A repository on `main` with `a` (lines 1..=20) and `b` committed.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"]);
    let lines: String = (1..=20).map(|n| format!("{n}\n")).collect();
    std::fs::write(r.join("a"), lines).unwrap();
    std::fs::write(r.join("b"), "b\n").unwrap();
    git(r, &["add", "."]);
    git(r, &["commit", "-qm", "base"]);
    d
}

/// Replaces line `from` of `a` with `to` on the current branch and commits; returns the id.
fn edit_line(r: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(r.join("a")).unwrap();
    let text: String = text
        .lines()
        .map(|l| if l == from { to } else { l })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(r.join("a"), text).unwrap();
    git(r, &["commit", "-qam", &format!("{from} -> {to}")]);
    git(r, &["rev-parse", "HEAD"])
}

/// Commits `text` to file `name` on the current branch.
fn put(r: &Path, name: &str, text: &str) -> String {
    std::fs::write(r.join(name), text).unwrap();
    git(r, &["add", "--", name]);
    git(r, &["commit", "-qm", &format!("put {name}")]);
    git(r, &["rev-parse", "HEAD"])
}

/// Branch `br` with two commits (lines 5 and 15), back on `main`, which then advances on `b`.
fn two_commit_branch(r: &Path) -> (String, String) {
    git(r, &["checkout", "-qb", "br"]);
    let c1 = edit_line(r, "5", "five");
    let c2 = edit_line(r, "15", "fifteen");
    git(r, &["checkout", "-q", "main"]);
    put(r, "b", "b advanced\n");
    (c1, c2)
}

fn proof(r: &Path) -> Proof {
    prove(r, "br", "main").unwrap()
}

#[test]
fn a_real_merge_and_the_branch_itself_are_ancestry() {
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    assert!(!proof(r).is_integrated());
    git(r, &["merge", "-q", "--no-ff", "--no-edit", "br"]);
    assert_eq!(proof(r), Proof::Ancestor);
    assert_eq!(prove(r, "br", "br").unwrap(), Proof::Ancestor);
}

#[test]
fn a_squash_merge_onto_an_advanced_base_adds_nothing() {
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    git(r, &["merge", "-q", "--squash", "br"]);
    git(r, &["commit", "-qm", "squash br"]);
    assert_eq!(proof(r), Proof::MergeAddsNothing);
    assert_eq!(proof(r).name(), "merge-adds-nothing");
}

#[test]
fn a_rebase_merge_and_a_cherry_pick_add_nothing() {
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    git(r, &["checkout", "-qb", "rebased", "br"]);
    git(r, &["rebase", "-q", "main"]);
    git(r, &["checkout", "-q", "main"]);
    git(r, &["merge", "-q", "--ff-only", "rebased"]);
    assert_eq!(proof(r), Proof::MergeAddsNothing);

    let d = repo();
    let r = d.path();
    git(r, &["checkout", "-qb", "br"]);
    let c = edit_line(r, "7", "seven");
    git(r, &["checkout", "-q", "main"]);
    put(r, "b", "b advanced\n");
    git(r, &["cherry-pick", &c]);
    assert_eq!(proof(r), Proof::MergeAddsNothing);
}

#[test]
fn the_same_content_committed_twice_is_the_same_tree() {
    let d = repo();
    let r = d.path();
    git(r, &["checkout", "-qb", "br"]);
    edit_line(r, "5", "five");
    git(r, &["checkout", "-q", "main"]);
    std::fs::write(r.join("a"), git(r, &["show", "br:a"]) + "\n").unwrap();
    git(r, &["commit", "-qam", "the same edit, made again"]);
    assert_eq!(proof(r), Proof::SameTree);
}

#[test]
fn patch_ids_prove_it_after_the_base_edited_the_same_lines() {
    // Rebase merge (each commit replayed), then the base rewrites line 5 again: merging the
    // branch now conflicts, but every commit has its equal in the base.
    let d = repo();
    let r = d.path();
    let (c1, c2) = two_commit_branch(r);
    git(r, &["cherry-pick", &c1, &c2]);
    edit_line(r, "five", "FIVE");
    assert_eq!(
        git_status(r, &["merge-tree", "--write-tree", "main", "br"]),
        1,
        "the merge conflicts, so only patch ids can tell"
    );
    assert_eq!(
        proof(r),
        Proof::PatchId {
            matched: PatchMatch::EveryCommit
        }
    );

    // Squash merge, then the same further edit: the combined diff matches the squash commit.
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    git(r, &["merge", "-q", "--squash", "br"]);
    git(r, &["commit", "-qm", "squash br"]);
    edit_line(r, "five", "FIVE");
    assert_eq!(
        proof(r),
        Proof::PatchId {
            matched: PatchMatch::CombinedDiff
        }
    );
    let json = serde_json::to_value(proof(r)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"proof": "patch-id", "matched": "combined-diff"})
    );
}

fn git_status(r: &Path, args: &[&str]) -> i32 {
    std::process::Command::new("git")
        .arg("-C")
        .arg(r)
        .args(args)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

fn unmatched(p: Proof) -> Vec<String> {
    match p {
        Proof::NotIntegrated { unmatched } => unmatched,
        other => panic!("expected not-integrated, got {other:?}"),
    }
}

#[test]
fn a_branch_with_any_commit_not_in_the_base_is_not_integrated() {
    // Squash-merged, then one more commit on the branch.
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    git(r, &["merge", "-q", "--squash", "br"]);
    git(r, &["commit", "-qm", "squash br"]);
    git(r, &["checkout", "-q", "br"]);
    let extra = edit_line(r, "18", "eighteen");
    git(r, &["checkout", "-q", "main"]);
    // Every branch commit is listed (none has its own equal: the squash is one commit), the
    // newest, the extra one, first.
    let left = unmatched(proof(r));
    assert_eq!((left.len(), &left[0]), (3, &extra));
    // … and with the base editing the squashed lines again (merge-tree conflicts too).
    edit_line(r, "five", "FIVE");
    assert_eq!(unmatched(proof(r))[0], extra);

    // Two commits, only one cherry-picked.
    let d = repo();
    let r = d.path();
    let (c1, c2) = two_commit_branch(r);
    git(r, &["cherry-pick", &c1]);
    assert_eq!(unmatched(proof(r)), vec![c2]);

    // All own commits squash-merged, then a merge bringing in work the base lacks.
    let d = repo();
    let r = d.path();
    two_commit_branch(r);
    git(r, &["merge", "-q", "--squash", "br"]);
    git(r, &["commit", "-qm", "squash br"]);
    git(r, &["checkout", "-qb", "side", "main~2"]);
    let side = put(r, "c", "side work\n");
    git(r, &["checkout", "-q", "br"]);
    git(r, &["merge", "-q", "--no-edit", "side"]);
    let merge = git(r, &["rev-parse", "HEAD"]);
    git(r, &["checkout", "-q", "main"]);
    let left = unmatched(proof(r));
    assert!(left.contains(&side) && left.contains(&merge), "{left:?}");

    // A merge commit whose own change (an "evil merge") is not in the base, although every
    // non-merge commit is.
    let d = repo();
    let r = d.path();
    let (c1, c2) = two_commit_branch(r);
    git(r, &["checkout", "-qb", "side", "br~2"]);
    put(r, "c", "side\n");
    git(r, &["checkout", "-q", "br"]);
    git(r, &["merge", "-q", "--no-commit", "side"]);
    std::fs::write(r.join("d"), "evil\n").unwrap();
    git(r, &["add", "d"]);
    git(r, &["commit", "-qm", "merge side, adding d"]);
    git(r, &["checkout", "-q", "main"]);
    git(r, &["cherry-pick", &c1, &c2]);
    git(r, &["checkout", "-q", "side", "--", "c"]);
    git(r, &["commit", "-qm", "c as side has it"]);
    assert!(!proof(r).is_integrated());
}

#[test]
fn revisions_are_resolved_before_reaching_git_and_never_read_as_options() {
    let d = repo();
    let r = d.path();
    let out = r.join("written");
    let opt = format!("--output={}", out.display());
    let e = prove(r, &opt, "main").unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("--output="), "{e}");
    let e = prove(r, "main", "no-such-base").unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("\"no-such-base\""), "{e}");
    assert!(!out.exists());
    assert_eq!(prove(r, "", "main").unwrap_err().code(), "E_UNKNOWN_REF");
}

#[test]
fn the_patch_id_survives_a_rebase_that_keeps_the_change_only() {
    let d = repo();
    let r = d.path();
    let (_, c2) = two_commit_branch(r);
    let before = patch_id(r, &c2, "main").unwrap().unwrap();
    git(r, &["checkout", "-qb", "rebased", "br"]);
    git(r, &["rebase", "-q", "main"]);
    assert_ne!(git(r, &["rev-parse", "HEAD"]), c2);
    assert_eq!(patch_id(r, "rebased", "main").unwrap().unwrap(), before);
    edit_line(r, "fifteen", "FIFTEEN");
    assert_ne!(patch_id(r, "rebased", "main").unwrap().unwrap(), before);
    assert_eq!(patch_id(r, "main", "main").unwrap(), None);
}

#[test]
fn the_default_base_is_the_repository_s_real_default() {
    // No remote, default branch `master`: the main worktree's branch.
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("first");
    std::fs::create_dir(&r).unwrap();
    git(&r, &["init", "-q", "-b", "master"]);
    git(&r, &["commit", "-q", "--allow-empty", "-m", "base"]);
    let tip = git(&r, &["rev-parse", "HEAD"]);
    let b = default_base(&r, None).unwrap();
    assert_eq!(
        b,
        Base {
            name: "master".into(),
            commit: tip.clone(),
            source: BaseSource::MainWorktree
        }
    );
    let e = default_base(&r, Some("main")).unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("\"main\""), "{e}");
    assert!(!e.to_string().contains("origin"), "{e}");

    // A clone: origin/HEAD names origin/master, also from a linked worktree on a feature
    // branch.
    let c = d.path().join("clone");
    git(d.path(), &["clone", "-q", "first", "clone"]);
    let b = default_base(&c, None).unwrap();
    assert_eq!(
        (b.name.as_str(), b.source),
        ("origin/master", BaseSource::RemoteHead)
    );
    assert_eq!(b.commit, tip);
    let given = default_base(&c, Some("master")).unwrap();
    assert_eq!(
        (given.name.as_str(), given.source),
        ("origin/master", BaseSource::Given)
    );
    assert_eq!(
        default_base(&c, Some("origin/master")).unwrap().name,
        "origin/master"
    );
    assert_eq!(default_base(&c, Some(&tip)).unwrap().commit, tip);

    // The only remote is not called origin.
    let u = d.path().join("up");
    git(d.path(), &["clone", "-q", "-o", "upstream", "first", "up"]);
    assert_eq!(default_base(&u, None).unwrap().name, "upstream/master");
    // Without the remote's HEAD, the main worktree's branch (its remote-tracking one).
    git(&u, &["remote", "set-head", "upstream", "--delete"]);
    git(&u, &["checkout", "-qb", "topic"]);
    let b = default_base(&u, None).unwrap();
    assert_eq!(
        (b.name.as_str(), b.source),
        ("topic", BaseSource::MainWorktree)
    );

    // Detached, no remote: a coded error that says what to do.
    git(&r, &["checkout", "-q", "--detach"]);
    let e = default_base(&r, None).unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("there is no remote"), "{e}");
    assert!(e.to_string().contains("detached"), "{e}");
}

/// A revision that looks like an option (`-x`, `--output=<file>`) is a revision to the proof,
/// never an option to git: it resolves to nothing (`E_UNKNOWN_REF`) and writes nothing.
#[test]
fn option_like_revisions_are_unknown_refs_never_options() {
    let d = repo();
    let r = d.path();
    let out = tempfile::tempdir().unwrap();
    let written = out.path().join("written");
    let option = format!("--output={}", written.display());
    for rev in ["-x", "--all", option.as_str()] {
        let e = prove(r, rev, "main").unwrap_err();
        assert_eq!(e.code(), "E_UNKNOWN_REF", "branch {rev}: {e}");
        let e = prove(r, "main", rev).unwrap_err();
        assert_eq!(e.code(), "E_UNKNOWN_REF", "base {rev}: {e}");
        let e = patch_id(r, rev, "main").unwrap_err();
        assert_eq!(e.code(), "E_UNKNOWN_REF", "patch-id {rev}: {e}");
        let e = default_base(r, Some(rev)).unwrap_err();
        assert_eq!(e.code(), "E_UNKNOWN_REF", "given base {rev}: {e}");
    }
    assert!(!written.exists(), "git took --output as an option");
}

/// The proof's git runs as every okstra git child does (`cli::Git::command`): a repository
/// owned by another user that the environment trusts through `GIT_CONFIG_COUNT`'s
/// `safe.directory` (how CI and containers do it) is proved, not refused for "dubious
/// ownership" — the proof used to start git itself and dropped those variables. Needs root
/// (to hand the repository to `nobody`); elsewhere it says so and passes.
#[test]
fn the_proof_honours_safe_directory_from_the_environment() {
    crate::testutil::run_with_env!(
        the_proof_honours_safe_directory_from_the_environment,
        "GIT_CONFIG_COUNT" => "1",
        "GIT_CONFIG_KEY_0" => "safe.directory",
        "GIT_CONFIG_VALUE_0" => "*",
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give the repository to another user");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"]);
    put(r, "a", "a\n");
    git(r, &["checkout", "-qb", "topic"]);
    put(r, "b", "b\n");
    git(r, &["checkout", "-q", "main"]);
    git(r, &["merge", "-q", "--no-ff", "-m", "merge", "topic"]);
    let chown = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(r)
        .status()
        .unwrap();
    assert!(chown.success());
    assert_eq!(prove(r, "topic", "main").unwrap().name(), "ancestor");
}
