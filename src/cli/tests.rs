use super::*;

fn run_in(home: &std::path::Path, args: &[&str]) -> (Value, CliOutcome) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--home".to_string(), home.to_string_lossy().into_owned()]);
    let out = run(all);
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (v, out)
}

const KEY: [&str; 6] = ["--project-id", "p", "--task-group", "g", "--task-id", "t"];

#[test]
fn reserve_lookup_release_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let mut reserve = vec!["registry", "reserve"];
    reserve.extend(KEY);
    reserve.extend([
        "--worktree-path",
        "/w/t",
        "--branch",
        "feat-t",
        "--base-ref",
        "abc",
    ]);
    let (v, out) = run_in(d.path(), &reserve);
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(v["taskKey"], "p/g/t");
    assert_eq!(v["stage"], Value::Null);
    let (_, again) = run_in(d.path(), &reserve);
    assert_eq!(again.exit_code, 2);
    let err: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(err["ok"], false);
    assert_eq!(err["code"], "E_TASK_KEY_ACTIVE");
    assert!(again.stderr.contains("E_TASK_KEY_ACTIVE"));
    let mut lookup = vec!["registry", "lookup"];
    lookup.extend(KEY);
    assert_eq!(run_in(d.path(), &lookup).0["branch"], "feat-t");
    let mut release = vec!["registry", "release"];
    release.extend(KEY);
    assert_eq!(run_in(d.path(), &release).0["status"], "released");
    let (v, _) = run_in(d.path(), &["registry", "list", "--status", "released"]);
    assert_eq!(v.as_array().map(Vec::len), Some(1));
}

#[test]
fn bad_arguments_are_json_errors() {
    let out = run(["registry", "lookup", "--project-id", "p"]);
    assert_eq!(out.exit_code, 1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["code"], "E_INVALID_ARG");
    let out = run([
        "registry",
        "lookup",
        "--project-id",
        "a/b",
        "--task-group",
        "g",
        "--task-id",
        "t",
        "--home",
        "/nonexistent",
    ]);
    assert_eq!(out.exit_code, 1);
    assert!(out.stdout.contains("E_INVALID_ARG"), "{out:?}");
}

#[test]
fn help_goes_to_stdout_with_exit_zero() {
    let out = run(["registry", "--help"]);
    assert_eq!(out.exit_code, 0);
    assert!(out.stdout.contains("reserve"), "{}", out.stdout);
    let out = run(["--help"]);
    assert!(out.stdout.contains("registry"));
}

#[test]
fn prune_is_a_dry_run_without_apply() {
    let d = tempfile::tempdir().unwrap();
    let mut reserve = vec!["registry", "reserve"];
    reserve.extend(KEY);
    reserve.extend([
        "--worktree-path",
        "/nonexistent/t",
        "--branch",
        "feat-t",
        "--base-ref",
        "abc",
    ]);
    run_in(d.path(), &reserve);
    let (v, _) = run_in(d.path(), &["registry", "prune"]);
    assert_eq!(v["released"].as_array().map(Vec::len), Some(1));
    let (v, _) = run_in(d.path(), &["registry", "list", "--status", "active"]);
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    run_in(d.path(), &["registry", "prune", "--apply"]);
    let (v, _) = run_in(d.path(), &["registry", "list", "--status", "active"]);
    assert_eq!(v.as_array().map(Vec::len), Some(0));
}

#[test]
fn worktree_provision_path_branch_and_excludes() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
    ]);
    let root = repo.to_string_lossy().into_owned();
    let mut args = vec!["worktree", "provision", "--project-root", &root];
    args.extend(["--task-type", "implementation", "--work-category", "bugfix"]);
    args.extend(KEY);
    args.extend(["--stage", "2"]);
    let (v, out) = run_in(d.path(), &args);
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(v["status"], "created");
    assert_eq!(v["branch"], "fix-t-s2");
    let (again, _) = run_in(d.path(), &args);
    assert_eq!(again["status"], "reused");
    let mut path = vec!["worktree", "path"];
    path.extend(KEY);
    path.extend(["--stage", "2"]);
    assert_eq!(run_in(d.path(), &path).0, v["path"]);
    let out = run(["worktree", "branch", "--task-id", "T", "--group-id", "g1"]);
    assert_eq!(out.stdout.trim(), "\"task-t.group-g1\"");
    let out = run(["worktree", "excludes", "--project-root", &root]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0], ".okstra");
    let mut bad = vec!["worktree", "provision", "--project-root", &root];
    bad.extend(["--task-type", "x", "--base-ref", "nope"]);
    bad.extend(KEY);
    bad.extend(["--stage", "3"]);
    let (v, out) = run_in(d.path(), &bad);
    assert_eq!(
        (out.exit_code, v["code"].as_str()),
        (1, Some("E_UNKNOWN_REF"))
    );
}
