use std::time::Duration;

use super::*;

fn reg() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::at(dir.path().join("worktrees"), Duration::from_secs(5));
    (dir, r)
}

fn key(task: &str, stage: Option<u32>) -> KeyParts {
    KeyParts::new("proj", "grp", task, stage, None).unwrap()
}

fn res(path: &str, branch: &str) -> Reservation {
    Reservation {
        worktree_path: path.into(),
        branch: branch.into(),
        base_ref: "a".repeat(40),
        phase: "implementation".into(),
        stages: None,
    }
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn reserve_then_lookup_round_trips() {
    let (_d, r) = reg();
    let e = r
        .reserve(&key("t", Some(2)), &res("/w/t/stage-2", "feat-t-s2"))
        .unwrap();
    assert_eq!(e.task_key, "proj/grp/t#stage-2");
    assert_eq!(e.stage, Some(2));
    assert_eq!(e.status, crate::registry::EntryStatus::Active);
    assert_eq!(r.lookup(&key("t", Some(2))).unwrap(), Some(e));
    assert_eq!(r.lookup(&key("t", None)).unwrap(), None);
}

#[test]
fn active_key_and_owned_branch_are_refused_without_writing() {
    let (_d, r) = reg();
    r.reserve(&key("t", None), &res("/w/t", "feat-t")).unwrap();
    let before = std::fs::read(r.file()).unwrap();
    let e = r
        .reserve(&key("t", None), &res("/w/t2", "feat-t2"))
        .unwrap_err();
    assert_eq!(e.code(), "E_TASK_KEY_ACTIVE");
    assert!(e.to_string().contains("/w/t"), "{e}");
    let e = r
        .reserve(&key("u", None), &res("/w/u", "feat-t"))
        .unwrap_err();
    assert_eq!(e.code(), "E_BRANCH_OWNED");
    assert!(e.to_string().contains("proj/grp/t"), "{e}");
    assert_eq!(std::fs::read(r.file()).unwrap(), before);
}

#[test]
fn released_key_can_be_reserved_again_and_frees_its_branch() {
    let (_d, r) = reg();
    r.reserve(&key("t", None), &res("/w/t", "feat-t")).unwrap();
    let rel = r.release(&key("t", None)).unwrap().unwrap();
    assert_eq!(rel.status, crate::registry::EntryStatus::Released);
    // The branch is free for another key now.
    r.reserve(&key("u", None), &res("/w/u", "feat-t")).unwrap();
    let again = r.reserve(&key("t", None), &res("/w/t", "fix-t")).unwrap();
    assert!(again.is_active());
    assert_eq!(r.release(&key("nope", None)).unwrap(), None);
}

#[test]
fn bad_arguments_are_invalid_arg() {
    let (_d, r) = reg();
    for (p, b) in [
        ("relative/path", "feat-x"),
        ("/abs", "bad..name"),
        ("/abs", ""),
    ] {
        let e = r.reserve(&key("t", None), &res(p, b)).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_ARG", "{p} {b}");
    }
    let e = r
        .set_implementation_base(&key("t", None), "HEAD")
        .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    let e = EntryStatus::parse("gone").unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    assert!(!r.file().exists());
}

#[test]
fn touch_phase_updates_or_noops() {
    let (_d, r) = reg();
    r.touch_phase(&key("absent", None), "x").unwrap();
    assert!(!r.file().exists());
    r.reserve(&key("t", None), &res("/w/t", "feat-t")).unwrap();
    r.touch_phase(&key("t", None), "final-verification")
        .unwrap();
    assert_eq!(
        r.lookup(&key("t", None)).unwrap().unwrap().last_phase,
        "final-verification"
    );
}

#[test]
fn implementation_base_is_set_once_and_reset_deliberately() {
    let (_d, r) = reg();
    let k = key("t", None);
    assert_eq!(
        r.set_implementation_base(&k, SHA).unwrap_err().code(),
        "E_NOT_FOUND"
    );
    r.reserve(&k, &res("/w/t", "feat-t")).unwrap();
    assert_eq!(r.get_implementation_base(&k).unwrap(), None);
    assert_eq!(r.set_implementation_base(&k, SHA).unwrap(), SHA);
    let other = "f".repeat(40);
    assert_eq!(r.set_implementation_base(&k, &other).unwrap(), SHA);
    assert_eq!(r.reset_implementation_base(&k, &other).unwrap(), other);
    assert_eq!(r.get_implementation_base(&k).unwrap(), Some(other));
}

#[test]
fn active_stage_numbers_and_list_filters() {
    let (_d, r) = reg();
    for n in [3, 1, 2] {
        r.reserve(
            &key("t", Some(n)),
            &res(&format!("/w/s{n}"), &format!("feat-t-s{n}")),
        )
        .unwrap();
    }
    r.release(&key("t", Some(2))).unwrap();
    r.reserve(&key("other", Some(9)), &res("/w/o9", "feat-o-s9"))
        .unwrap();
    assert_eq!(
        r.list_active_stage_numbers(&key("t", None)).unwrap(),
        vec![1, 3]
    );
    assert_eq!(r.list(None, None).unwrap().len(), 4);
    assert_eq!(r.list(None, Some(EntryStatus::Released)).unwrap().len(), 1);
    assert_eq!(r.list(Some("nobody"), None).unwrap().len(), 0);
    let keys: Vec<String> = r
        .list(None, None)
        .unwrap()
        .into_iter()
        .map(|e| e.task_key)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn file_layout_matches_python_json_dumps() {
    let (_d, r) = reg();
    let k = KeyParts::new("p", "그룹", "t", None, None).unwrap();
    r.reserve(&k, &res("/w/작업", "feat-t")).unwrap();
    let text = std::fs::read_to_string(r.file()).unwrap();
    assert!(
        text.starts_with("{\n  \"tasks\": {\n    \"p/그룹/t\": {\n      \"project_id\": \"p\",\n"),
        "{text}"
    );
    assert!(text.contains("\"stages\": null\n"), "{text}");
    assert!(
        text.ends_with("\"branches\": {\n    \"feat-t\": \"p/그룹/t\"\n  }\n}\n"),
        "{text}"
    );
}

#[test]
fn unknown_fields_and_keys_survive_rewrites() {
    let (_d, r) = reg();
    std::fs::create_dir_all(r.root()).unwrap();
    std::fs::write(
        r.file(),
        r#"{"version": 7, "tasks": {"proj/grp/t": {"project_id": "proj", "task_group": "grp", "task_id": "t", "worktree_path": "/w/t", "branch": "feat-t", "base_ref": "", "created_at": "x", "last_phase": "", "status": "active", "custom": {"a": [1, 2]}}}, "branches": {"feat-t": "proj/grp/t"}, "zz": true}"#,
    )
    .unwrap();
    r.touch_phase(&key("t", None), "p2").unwrap();
    r.reserve(&key("u", None), &res("/w/u", "feat-u")).unwrap();
    r.release(&key("t", None)).unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    assert_eq!(v["version"], 7);
    assert_eq!(v["zz"], true);
    assert_eq!(v["tasks"]["proj/grp/t"]["custom"]["a"][1], 2);
    let order: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(order, ["version", "tasks", "branches", "zz"]);
}

#[test]
fn corrupt_registry_is_refused_untouched_then_repaired() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    r.reserve(&key("b", None), &res("/w/b", "feat-b")).unwrap();
    let full = std::fs::read(r.file()).unwrap();
    // A torn write: the tail of the file is gone.
    let torn = &full[..full.len() - 120];
    std::fs::write(r.file(), torn).unwrap();
    for e in [
        r.lookup(&key("a", None)).unwrap_err(),
        r.reserve(&key("c", None), &res("/w/c", "feat-c"))
            .unwrap_err(),
        r.list(None, None).unwrap_err(),
    ] {
        assert_eq!(e.code(), "E_REGISTRY_CORRUPT");
        assert!(e.to_string().contains("registry.json"), "{e}");
        assert!(e.to_string().contains("repair"), "{e}");
    }
    assert_eq!(std::fs::read(r.file()).unwrap(), torn);
    let rep = r.repair().unwrap();
    assert_eq!(rep.salvaged, 1);
    assert_eq!(rep.dropped, 1);
    let aside = rep.moved_to.unwrap();
    assert_eq!(std::fs::read(&aside).unwrap(), torn);
    assert!(r.lookup(&key("a", None)).unwrap().is_some());
    // A second repair finds nothing to do.
    assert_eq!(r.repair().unwrap().moved_to, None);
}

#[test]
fn wrong_shapes_are_corrupt_too() {
    let (_d, r) = reg();
    std::fs::create_dir_all(r.root()).unwrap();
    for text in [
        "[]",
        r#"{"tasks": []}"#,
        r#"{"tasks": {"p/g/t": {"branch": 1}}}"#,
        "",
    ] {
        std::fs::write(r.file(), text).unwrap();
        assert_eq!(
            r.list(None, None).unwrap_err().code(),
            "E_REGISTRY_CORRUPT",
            "{text}"
        );
    }
}

#[test]
fn prune_is_dry_run_unless_applied() {
    let (d, r) = reg();
    let live = d.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    r.reserve(
        &key("live", None),
        &res(live.to_str().unwrap(), "feat-live"),
    )
    .unwrap();
    r.reserve(&key("gone", None), &res("/nonexistent/gone", "feat-gone"))
        .unwrap();
    let dry = r.prune(true).unwrap();
    assert_eq!(dry.len(), 1);
    assert!(r.lookup(&key("gone", None)).unwrap().unwrap().is_active());
    let done = r.prune(false).unwrap();
    assert_eq!(done[0].task_key, "proj/grp/gone");
    assert_eq!(
        r.lookup(&key("gone", None)).unwrap().unwrap().status,
        EntryStatus::Released
    );
    assert!(r.lookup(&key("live", None)).unwrap().unwrap().is_active());
    assert!(r.prune(false).unwrap().is_empty());
}

#[test]
fn doctor_reports_index_and_disk_problems() {
    let (d, r) = reg();
    let plain = d.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    r.reserve(
        &key("plain", None),
        &res(plain.to_str().unwrap(), "feat-plain"),
    )
    .unwrap();
    r.reserve(&key("gone", None), &res("/nonexistent/gone", "feat-gone"))
        .unwrap();
    let mut v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    v["branches"]["stray"] = Value::String("proj/grp/nobody".into());
    std::fs::write(r.file(), serde_json::to_vec(&v).unwrap()).unwrap();
    let rep = r.doctor().unwrap();
    assert!(!rep.ok);
    let codes: Vec<&str> = rep.problems.iter().map(|p| p.code.as_str()).collect();
    assert!(codes.contains(&"branch-index-dangling"), "{codes:?}");
    assert!(codes.contains(&"worktree-missing"), "{codes:?}");
    assert!(codes.contains(&"worktree-unknown-to-git"), "{codes:?}");
}

#[test]
fn doctor_is_ok_on_a_clean_registry() {
    let (_d, r) = reg();
    assert!(r.doctor().unwrap().ok);
}

#[test]
fn threads_reserving_distinct_keys_lose_nothing() {
    let (_d, r) = reg();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let r = r.clone();
            std::thread::spawn(move || {
                for j in 0..10 {
                    let t = format!("t{i}-{j}");
                    r.reserve(
                        &key(&t, None),
                        &res(&format!("/w/{t}"), &format!("feat-{t}")),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(r.list(None, None).unwrap().len(), 80);
}

#[test]
fn held_lock_times_out_with_the_lock_path() {
    let (_d, r) = reg();
    let quick = Registry::at(r.root().to_path_buf(), Duration::from_millis(30));
    let _held = r.lock().unwrap();
    let e = quick
        .reserve(&key("t", None), &res("/w/t", "feat-t"))
        .unwrap_err();
    assert_eq!(e.code(), "E_LOCK_TIMEOUT");
    assert!(e.to_string().contains("registry.lock"), "{e}");
}

#[test]
fn lookup_refuses_a_corrupt_file_even_when_the_row_is_fine() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    let mut text = std::fs::read_to_string(r.file()).unwrap();
    text.push_str("garbage");
    std::fs::write(r.file(), &text).unwrap();
    assert_eq!(
        r.lookup(&key("a", None)).unwrap_err().code(),
        "E_REGISTRY_CORRUPT"
    );
    std::fs::write(r.file(), r#"{"tasks": {"proj/grp/a": {"branch": 5}}}"#).unwrap();
    assert_eq!(
        r.lookup(&key("a", None)).unwrap_err().code(),
        "E_REGISTRY_CORRUPT"
    );
    std::fs::write(r.file(), r#"{"tasks": 3}"#).unwrap();
    assert_eq!(
        r.lookup(&key("a", None)).unwrap_err().code(),
        "E_REGISTRY_CORRUPT"
    );
}

#[test]
fn cached_lookups_see_every_rewrite_even_in_place_within_one_timestamp_tick() {
    let (_d, r) = reg();
    let k = key("t", None);
    r.reserve(&k, &res("/w/t", "feat-t")).unwrap();
    let file = r.file();
    let text = std::fs::read_to_string(&file).unwrap();
    // Rewritten in place (same inode), same size, right after a lookup read it: only the
    // content tells the versions apart.
    for i in 0..40 {
        let (from, to) = if i % 2 == 0 {
            ("implementation", "implementatioN")
        } else {
            ("implementatioN", "implementation")
        };
        let before = r.lookup(&k).unwrap().unwrap();
        assert_eq!(before.last_phase, from);
        let next = std::fs::read_to_string(&file)
            .unwrap()
            .replace(&format!("\"{from}\""), &format!("\"{to}\""));
        std::fs::write(&file, next).unwrap();
        assert_eq!(r.lookup(&k).unwrap().unwrap().last_phase, to, "round {i}");
    }
    // Replaced by rename twice in a row, as concurrent writers do: the third file can get the
    // first one's freed inode number, its size and its (coarse) mtime.
    let replace = |text: &str| {
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    for i in 0..40 {
        let phase = |p: &str| text.replace("\"implementation\"", &format!("\"{p}\""));
        replace(&phase("aaaaaaaaaaaaaa"));
        assert_eq!(r.lookup(&k).unwrap().unwrap().last_phase, "aaaaaaaaaaaaaa");
        replace(&phase("bbbbbbbbbbbbbb"));
        replace(&phase("cccccccccccccc"));
        assert_eq!(
            r.lookup(&k).unwrap().unwrap().last_phase,
            "cccccccccccccc",
            "round {i}"
        );
    }
    // A settled file is served from the copy, and a replaced one is read anew.
    std::fs::write(&file, &text).unwrap();
    std::thread::sleep(cache::SETTLED * 2);
    assert_eq!(r.lookup(&k).unwrap().unwrap().last_phase, "implementation");
    assert_eq!(r.lookup(&k).unwrap().unwrap().last_phase, "implementation");
    r.touch_phase(&k, "review").unwrap();
    assert_eq!(r.lookup(&k).unwrap().unwrap().last_phase, "review");
    std::fs::write(&file, "{oops").unwrap();
    assert_eq!(r.lookup(&k).unwrap_err().code(), "E_REGISTRY_CORRUPT");
}

#[test]
fn writes_reuse_the_parsed_copy_only_while_the_file_holds_the_same_bytes() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    r.reserve(&key("b", None), &res("/w/b", "feat-b")).unwrap();
    // Another writer (same layout, as the Python helper writes) releases `a` and gives its
    // branch to `x`: the next write here must see that, not its own copy.
    let file = r.file();
    let mut v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["tasks"]["proj/grp/a"]["status"] = json!("released");
    let mut x = v["tasks"]["proj/grp/a"].clone();
    x["task_id"] = json!("x");
    x["status"] = json!("active");
    v["tasks"]["proj/grp/x"] = x;
    v["branches"]["feat-a"] = json!("proj/grp/x");
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let err = r
        .reserve(&key("c", None), &res("/w/c", "feat-a"))
        .unwrap_err();
    assert_eq!(err.code(), "E_BRANCH_OWNED");
    // A refused write leaves the file alone, and the next one still sees every row.
    let err = r
        .reserve(&key("b", None), &res("/w/b", "feat-b"))
        .unwrap_err();
    assert_eq!(err.code(), "E_TASK_KEY_ACTIVE");
    r.reserve(&key("c", None), &res("/w/c", "feat-c")).unwrap();
    let keys: Vec<String> = r
        .list(None, Some(EntryStatus::Active))
        .unwrap()
        .into_iter()
        .map(|e| e.task_key)
        .collect();
    assert_eq!(keys, ["proj/grp/b", "proj/grp/c", "proj/grp/x"]);
    // Garbage written over it is refused, not replaced by the copy.
    std::fs::write(&file, b"{\"tasks\": [").unwrap();
    let err = r.touch_phase(&key("b", None), "x").unwrap_err();
    assert_eq!(err.code(), "E_REGISTRY_CORRUPT");
}

/// Every read call gives the same verdict on one file.
fn verdicts(r: &Registry) -> Vec<Option<&'static str>> {
    let k = key("a", None);
    vec![
        r.lookup(&k).err().map(|e| e.code().as_str()),
        r.list(None, None).err().map(|e| e.code().as_str()),
        r.doctor().err().map(|e| e.code().as_str()),
        r.get_implementation_base(&k)
            .err()
            .map(|e| e.code().as_str()),
        r.touch_phase(&k, "x").err().map(|e| e.code().as_str()),
    ]
}

#[test]
fn lookup_refuses_what_every_other_call_refuses() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    // A bad row elsewhere in the file: the skimming lookup used to accept it.
    let mut v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    v["tasks"]["proj/grp/z"] = serde_json::json!({"branch": 1});
    std::fs::write(r.file(), serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(verdicts(&r), vec![Some("E_REGISTRY_CORRUPT"); 5]);
    v["tasks"]["proj/grp/z"] = serde_json::json!({});
    v["branches"]["x"] = Value::from(3);
    std::fs::write(r.file(), serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(verdicts(&r), vec![Some("E_REGISTRY_CORRUPT"); 5]);
}

#[test]
fn a_registry_that_is_a_directory_is_an_io_error_not_corrupt() {
    let (_d, r) = reg();
    std::fs::create_dir_all(r.file()).unwrap();
    assert_eq!(verdicts(&r), vec![Some("E_IO"); 5]);
    let e = r.repair().unwrap_err();
    assert_eq!(e.code(), "E_IO");
    assert!(e.to_string().contains("registry.json"), "{e}");
    assert!(e.to_string().contains("Is a directory"), "{e}");
    assert!(r.file().is_dir(), "left as it was");
}

fn edit(r: &Registry, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(r.file(), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn an_index_entry_to_a_missing_or_released_key_does_not_block_the_branch() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    edit(&r, |v| {
        v["branches"]["feat-ghost"] = Value::from("proj/grp/ghost");
        v["branches"]["feat-old"] = Value::from("proj/grp/a");
    });
    r.reserve(&key("b", None), &res("/w/b", "feat-ghost"))
        .unwrap();
    r.reserve(&key("c", None), &res("/w/c", "feat-old"))
        .unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    assert_eq!(v["branches"]["feat-ghost"], "proj/grp/b");
    assert_eq!(v["branches"]["feat-old"], "proj/grp/c");
    // A released owner owns nothing either.
    r.release(&key("b", None)).unwrap();
    edit(&r, |v| {
        v["branches"]["feat-ghost"] = Value::from("proj/grp/b")
    });
    r.reserve(&key("d", None), &res("/w/d", "feat-ghost"))
        .unwrap();
}

#[test]
fn an_unindexed_active_owner_still_owns_its_branch() {
    let (_d, r) = reg();
    r.reserve(&key("a", None), &res("/w/a", "feat-a")).unwrap();
    edit(&r, |v| v["branches"] = serde_json::json!({}));
    let e = r
        .reserve(&key("b", None), &res("/w/b", "feat-a"))
        .unwrap_err();
    assert_eq!(e.code(), "E_BRANCH_OWNED");
    assert!(e.to_string().contains("proj/grp/a"), "{e}");
}

#[test]
fn doctor_names_each_violation_and_repair_restores_the_invariants() {
    let (_d, r) = reg();
    r.reserve(&key("old", None), &res("/nonexistent/old", "feat-x"))
        .unwrap();
    r.reserve(&key("new", None), &res("/nonexistent/new", "feat-y"))
        .unwrap();
    r.reserve(&key("lone", None), &res("/nonexistent/lone", "feat-l"))
        .unwrap();
    edit(&r, |v| {
        // Two active rows on one branch (a Python writer or a hand edit), the newer
        // unindexed; an entry to a missing key; an active row left out of the index.
        v["tasks"]["proj/grp/old"]["created_at"] = Value::from("2020-01-01T00:00:00+0000");
        v["tasks"]["proj/grp/new"]["created_at"] = Value::from("2024-01-01T00:00:00+0000");
        v["tasks"]["proj/grp/new"]["branch"] = Value::from("feat-x");
        v["branches"] = serde_json::json!({"feat-x": "proj/grp/old", "feat-y": "proj/grp/new", "feat-ghost": "proj/grp/ghost"});
    });
    let rep = r.doctor().unwrap();
    let mut codes: Vec<(String, String)> = rep
        .problems
        .iter()
        .filter(|p| !p.code.as_str().starts_with("worktree"))
        .map(|p| {
            (
                p.code.as_str().to_string(),
                p.task_key.clone().unwrap_or_default(),
            )
        })
        .collect();
    codes.sort();
    let want: Vec<(String, String)> = [
        ("branch-active-twice", "proj/grp/old"),
        ("branch-index-dangling", "proj/grp/ghost"),
        ("branch-index-dangling", "proj/grp/new"),
        ("branch-index-missing", "proj/grp/lone"),
        ("branch-index-missing", "proj/grp/new"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(codes, want);
    let fixed = r.repair().unwrap();
    assert_eq!(fixed.moved_to, None);
    assert_eq!(fixed.released, vec!["proj/grp/old".to_string()]);
    assert_eq!(fixed.index_fixed, 5);
    let v: Value = serde_json::from_slice(&std::fs::read(r.file()).unwrap()).unwrap();
    assert_eq!(
        v["branches"],
        serde_json::json!({"feat-x": "proj/grp/new", "feat-l": "proj/grp/lone"})
    );
    assert_eq!(v["tasks"]["proj/grp/old"]["status"], "released");
    let after = r.doctor().unwrap();
    assert!(
        after
            .problems
            .iter()
            .all(|p| p.code.as_str().starts_with("worktree")),
        "{:?}",
        after.problems
    );
    // Nothing left to do: the file is not rewritten.
    let before = std::fs::read(r.file()).unwrap();
    let again = r.repair().unwrap();
    assert!(again.released.is_empty() && again.index_fixed == 0);
    assert_eq!(std::fs::read(r.file()).unwrap(), before);
}

#[test]
fn doctor_is_linear_in_the_rows() {
    // 100k rows: the quadratic index check took 20 s here.
    let (_d, r) = reg();
    let mut tasks = serde_json::Map::new();
    let mut branches = serde_json::Map::new();
    for i in 0..100_000 {
        let k = format!("proj/grp/t{i}");
        tasks.insert(
            k.clone(),
            serde_json::json!({"project_id": "proj", "task_group": "grp", "task_id": format!("t{i}"),
                "worktree_path": format!("/nonexistent/t{i}"), "branch": format!("b{i}"), "status": "active"}),
        );
        branches.insert(format!("b{i}"), Value::from(k));
    }
    std::fs::create_dir_all(r.root()).unwrap();
    std::fs::write(
        r.file(),
        serde_json::to_vec(&serde_json::json!({"tasks": tasks, "branches": branches})).unwrap(),
    )
    .unwrap();
    // CPU time of this thread, not wall time: the bound must hold on a loaded machine.
    let cpu = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime only writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let t = cpu();
    let rep = r.doctor().unwrap();
    assert_eq!(rep.problems.len(), 100_000);
    let spent = cpu() - t;
    assert!(spent < Duration::from_secs(5), "{spent:?}");
}

#[test]
fn raw_text_names_the_slugged_row_unless_only_a_raw_row_exists() {
    let (_d, r) = reg();
    let raw = KeyParts::new("Shop", "pay", "Checkout 500", Some(1), None).unwrap();
    // Nothing registered: the slugged key (what provisioning would register).
    assert_eq!(
        r.resolve(&raw).unwrap().key(),
        "shop/pay/checkout-500#stage-1"
    );
    // Only a row under the raw text (the Python helper's registry calls): that row.
    r.reserve(&raw, &res("/w/raw", "fix-raw")).unwrap();
    assert_eq!(
        r.resolve(&raw).unwrap().key(),
        "Shop/pay/Checkout 500#stage-1"
    );
    // Both: the slugged one, always.
    r.reserve(&raw.slugged(), &res("/w/slug", "fix-slug"))
        .unwrap();
    assert_eq!(
        r.resolve(&raw).unwrap().key(),
        "shop/pay/checkout-500#stage-1"
    );
    // A slug resolves to itself without reading.
    let slug = raw.slugged();
    assert_eq!(r.resolve(&slug).unwrap(), slug);
    // Both forms count as one task for the stage list and the project filter.
    assert_eq!(r.list_active_stage_numbers(&raw).unwrap(), vec![1]);
    assert_eq!(r.list(Some("Shop"), None).unwrap().len(), 2);
    assert_eq!(r.list(Some("shop"), None).unwrap().len(), 2);
    assert_eq!(r.list(Some("other"), None).unwrap().len(), 0);
}

/// Lookups and changes share one copy of the file: after the first read, a reservation
/// takes the copy the lookup read, the next lookup confirms the copy the reservation wrote
/// by content, and so on — the file is never read into a second copy.
#[test]
fn lookups_and_changes_share_one_copy_of_the_registry() {
    // In a process of its own: the copies are per process, and the other tests' registries
    // would evict this one's (at most 8 files are kept).
    crate::testutil::run_with_env!(
        lookups_and_changes_share_one_copy_of_the_registry,
        "OKSTRA_TEST_ONE_COPY" => "1"
    );
    let (_d, r) = reg();
    for i in 0..20 {
        r.reserve(
            &key(&format!("seed{i}"), None),
            &res(&format!("/w/s{i}"), &format!("feat-s{i}")),
        )
        .unwrap();
    }
    let file = r.file();
    assert!(r.lookup(&key("seed3", None)).unwrap().is_some());
    let before = super::canon::reads::of(&file);
    assert!(before >= 1);
    for i in 0..3 {
        r.reserve(
            &key(&format!("new{i}"), None),
            &res(&format!("/w/n{i}"), &format!("feat-n{i}")),
        )
        .unwrap();
        assert!(r.lookup(&key(&format!("new{i}"), None)).unwrap().is_some());
        assert!(r.lookup(&key("seed3", None)).unwrap().is_some());
    }
    assert_eq!(
        super::canon::reads::of(&file),
        before,
        "the file was read again"
    );
    // A change by someone else (another process) is seen: the copy is dropped, read anew.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["tasks"].as_object_mut().unwrap().remove("proj/grp/new0");
    let text = serde_json::to_string_pretty(&v).unwrap();
    std::fs::write(&file, text).unwrap();
    assert!(r.lookup(&key("new0", None)).unwrap().is_none());
    assert_eq!(super::canon::reads::of(&file), before + 1);
}
