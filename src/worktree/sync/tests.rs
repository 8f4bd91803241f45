//! The pieces of carrying on real files: linear resolution, the exclude block, escapes,
//! copies and `.worktreeinclude`. Provisioning end to end is in `worktree/tests.rs` and
//! `__test__/shared-state.test.mjs`.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::testutil::{git, write};
use crate::worktree::tests::serial;

const T: Duration = Duration::from_secs(30);

#[test]
fn resolution_is_linear_in_the_number_of_entries() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    // 200,000 entries, half of them repeated: a quadratic dedup took minutes here.
    let list: Vec<String> = (0..200_000)
        .map(|i| format!("d{}/f", i % 100_000))
        .collect();
    // In project.json, not the env: a 1.6 MB variable would make every process other tests
    // spawn meanwhile fail with E2BIG.
    let json = serde_json::json!({ "worktreeSyncFiles": list });
    write(&dir.path().join(".okstra/project.json"), &json.to_string());
    let start = Instant::now();
    let e = resolve_sync_entries(dir.path());
    let took = start.elapsed();
    assert_eq!(e.files.len(), 100_000);
    assert_eq!(e.files[0], "d0/f");
    assert_eq!(e.files[99_999], "d99999/f");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn dependency_dirs_are_never_linked_and_copies_win() {
    crate::testutil::run_with_env!(
        dependency_dirs_are_never_linked_and_copies_win,
        "OKSTRA_WORKTREE_SYNC_DIRS" => "node_modules:web/.venv:.claude:.scratch",
        "OKSTRA_WORKTREE_COPY_ENTRIES" => ".scratch:./build/",
    );
    let dir = tempfile::tempdir().unwrap();
    let e = resolve_sync_entries(dir.path());
    assert_eq!(e.dirs, [".claude"]);
    assert_eq!(e.copies, [".scratch", "build"]);
    let notes = e.notes.join("\n");
    assert!(notes.contains("not linked node_modules"), "{notes}");
    assert!(notes.contains("not linked web/.venv"), "{notes}");
    assert!(notes.contains("copy entry"), "{notes}");
}

#[test]
fn patterns_are_anchored_escaped_and_slash_free() {
    assert_eq!(exclude::pattern(".claude").unwrap(), "/.claude");
    assert_eq!(exclude::pattern("a/b").unwrap(), "/a/b");
    assert_eq!(exclude::pattern("!x*[y]#").unwrap(), "/\\!x\\*\\[y\\]\\#");
    assert_eq!(exclude::pattern("sp ").unwrap(), "/sp\\ ");
    assert!(exclude::pattern("a\nb").is_none());
}

#[test]
fn exclude_block_is_idempotent_and_keeps_user_lines() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    let common = repo.join(".git");
    let file = common.join("info/exclude");
    write(&file, "# user\n*.log\n");
    exclude::ensure(&common, &[".env".into(), ".claude".into()], T).unwrap();
    exclude::ensure(&common, &["a b ".into(), ".env".into()], T).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        format!(
            "# user\n*.log\n{}\n/.claude\n/.env\n/a b\\ \n{}\n",
            exclude::BEGIN,
            exclude::END
        )
    );
    // Nothing new: the file is not rewritten (same inode, same bytes).
    let ino = std::fs::metadata(&file).unwrap().ino();
    exclude::ensure(&common, &[".env".into()], T).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), ino);
    // Lines a user adds after the block survive the next update.
    std::fs::write(&file, format!("{text}after\n")).unwrap();
    exclude::ensure(&common, &["z".into()], T).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.ends_with(&format!("/z\n{}\nafter\n", exclude::END)),
        "{text}"
    );
    assert_eq!(text.matches(exclude::BEGIN).count(), 1);
    // git agrees: the patterns ignore the paths (a symlink included).
    symlink("/tmp", repo.join(".claude")).unwrap();
    write(&repo.join("a b "), "x");
    assert_eq!(
        git(repo, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
}

#[test]
fn concurrent_updates_keep_every_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let common = dir.path().to_path_buf();
    std::thread::scope(|s| {
        for t in 0..8 {
            let common = &common;
            s.spawn(move || {
                for i in 0..20 {
                    exclude::ensure(common, &[format!("t{t}-{i}"), "shared".into()], T).unwrap();
                }
            });
        }
    });
    let text = std::fs::read_to_string(common.join("info/exclude")).unwrap();
    assert_eq!(text.lines().count(), 8 * 20 + 1 + 2, "{text}");
    assert_eq!(text.matches("/shared\n").count(), 1);
}

#[test]
fn targets_are_never_reached_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let wt = dir.path().join("wt");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, wt.join("a")).unwrap();
    let err = confine::target(&wt, "a/b/c").unwrap_err();
    assert!(err.contains("a in the worktree is a symlink"), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    write(&wt.join("f"), "x");
    assert!(confine::target(&wt, "f/g")
        .unwrap_err()
        .contains("not a directory"));
    assert_eq!(confine::target(&wt, "f").unwrap(), None);
    assert_eq!(
        confine::target(&wt, "n/m/o").unwrap(),
        Some(wt.join("n/m/o"))
    );
    assert!(wt.join("n/m").is_dir());
}

#[test]
fn sources_leading_outside_the_main_worktree_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main").canonicalize().unwrap_or_else(|_| {
        std::fs::create_dir_all(dir.path().join("main")).unwrap();
        dir.path().join("main").canonicalize().unwrap()
    });
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, main.join("out")).unwrap();
    std::fs::create_dir_all(main.join("real")).unwrap();
    symlink("real", main.join("inside")).unwrap();
    assert!(confine::source(&main, "out")
        .unwrap_err()
        .contains("leading outside"));
    assert!(confine::source(&main, "out/x").is_ok_and(|s| s.is_none()));
    assert_eq!(
        confine::source(&main, "inside").unwrap(),
        Some(main.join("real"))
    );
    assert_eq!(confine::source(&main, "missing").unwrap(), None);
}

#[test]
fn copies_keep_modes_and_inner_symlinks_and_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src.join("bin/run"), "#!/bin/sh\n");
    std::fs::set_permissions(src.join("bin/run"), PermissionsExt::from_mode(0o755)).unwrap();
    write(&src.join("ro/data"), "data");
    std::fs::set_permissions(src.join("ro/data"), PermissionsExt::from_mode(0o444)).unwrap();
    std::fs::set_permissions(src.join("ro"), PermissionsExt::from_mode(0o555)).unwrap();
    write(&src.join("secret"), "s");
    std::fs::set_permissions(src.join("secret"), PermissionsExt::from_mode(0o600)).unwrap();
    symlink("bin/run", src.join("rel-link")).unwrap();
    symlink("/nonexistent/abs", src.join("abs-link")).unwrap();
    let fifo = src.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let dst = dir.path().join("wt/src");
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let c = copy::copy_entry(&src, &dst).unwrap();
    assert_eq!(c.files, 3);
    assert_eq!(c.how == copy::How::Cloned, c.cloned_files == 3);
    if made.is_ok_and(|s| s.success()) {
        assert_eq!(c.skipped_special, 1);
    }
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(&dst.join("bin/run")), 0o755);
    assert_eq!(mode(&dst.join("ro/data")), 0o444);
    assert_eq!(mode(&dst.join("ro")), 0o555);
    assert_eq!(mode(&dst.join("secret")), 0o600);
    assert_eq!(
        std::fs::read_link(dst.join("rel-link")).unwrap(),
        Path::new("bin/run")
    );
    assert_eq!(
        std::fs::read_link(dst.join("abs-link")).unwrap(),
        Path::new("/nonexistent/abs")
    );
    // Private: writing the copy leaves the source alone.
    std::fs::write(dst.join("secret"), "changed").unwrap();
    assert_eq!(std::fs::read_to_string(src.join("secret")).unwrap(), "s");
    // A copy over an existing path fails and leaves that path alone.
    assert!(copy::copy_entry(&src.join("secret"), &dst.join("secret")).is_err());
    assert_eq!(
        std::fs::read_to_string(dst.join("secret")).unwrap(),
        "changed"
    );
}

#[test]
fn a_copy_never_touches_an_existing_destination() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src.join("a/one"), "1");
    let dst = dir.path().join("dst");
    write(&dst.join("mine"), "keep");
    assert!(copy::copy_entry(&src, &dst).is_err());
    assert_eq!(std::fs::read_to_string(dst.join("mine")).unwrap(), "keep");
    assert!(!dst.join("a").exists());
    // A missing parent fails before anything is made.
    let bad = dir.path().join("no/such/dst");
    assert!(copy::copy_entry(&src, &bad).is_err());
    assert!(!dir.path().join("no").exists());
}

#[test]
fn worktreeinclude_selects_only_ignored_paths() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().canonicalize().unwrap();
    git(&repo, &["init", "-q"]);
    write(
        &repo.join(".gitignore"),
        "node_modules/\n.env*\nbuild/\n*.log\n",
    );
    write(&repo.join("tracked.txt"), "t");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    write(&repo.join("node_modules/x/index.js"), "x");
    write(&repo.join(".env.local"), "A=1");
    write(&repo.join(".env.example"), "A=");
    write(&repo.join("build/config.json"), "{}");
    write(&repo.join("build/big.bin"), "b");
    write(&repo.join("debug.log"), "l");
    write(&repo.join("untracked.txt"), "u");
    write(
        &repo.join(include::FILE),
        "# deps\nnode_modules\n.env*\n!.env.example\n/build/config.json\ntracked.txt\nuntracked.txt\n",
    );
    let mut notes = Vec::new();
    let mut got = include::selected(&repo, &mut notes);
    got.sort();
    assert_eq!(got, [".env.local", "build/config.json", "node_modules"]);
    assert!(notes.is_empty(), "{notes:?}");
    // A symlinked .worktreeinclude is not read.
    std::fs::remove_file(repo.join(include::FILE)).unwrap();
    symlink("/etc/hostname", repo.join(include::FILE)).unwrap();
    assert!(include::selected(&repo, &mut notes).is_empty());
    assert!(notes[0].contains("is a symlink"), "{notes:?}");
}

#[test]
fn a_symlinked_exclude_file_is_neither_read_nor_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let common = dir.path().join("git");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "private\n").unwrap();
    std::fs::create_dir_all(common.join("info")).unwrap();
    symlink(&elsewhere, common.join("info/exclude")).unwrap();
    let e = exclude::ensure(&common, &[".env".into()], T).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert!(common.join("info/exclude").is_symlink());
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "private\n");
}
