use super::*;
use std::fs::OpenOptions;

const T: Duration = Duration::from_secs(30);
use serde_json::json;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::new(dir.path(), std::time::Duration::from_millis(2000));
    (dir, l)
}

#[test]
fn rows_are_written_with_pythons_spacing_and_non_ascii_as_is() {
    let (_d, l) = ledger();
    let f = fields(json!({"head_commit": "abc", "note": "재시도 \"ok\"", "n": [1, 2]}));
    assert!(l.append("p/g/t", 2, "done", false, f).unwrap());
    let text = std::fs::read_to_string(l.path()).unwrap();
    assert_eq!(
        text,
        "{\"impl_task_key\": \"p/g/t\", \"stage\": 2, \"status\": \"done\", \"head_commit\": \"abc\", \"note\": \"재시도 \\\"ok\\\"\", \"n\": [1, 2]}\n"
    );
}

#[test]
fn started_and_done_are_idempotent_per_key_stage_status() {
    let (_d, l) = ledger();
    assert!(l.append("k", 1, "started", false, Map::new()).unwrap());
    assert!(!l
        .append("k", 1, "started", false, fields(json!({"run_id": "x"})))
        .unwrap());
    assert!(l
        .append("k", 1, "done", false, fields(json!({"head_commit": "a"})))
        .unwrap());
    assert!(!l
        .append("k", 1, "done", false, fields(json!({"head_commit": "b"})))
        .unwrap());
    assert!(l.append("k", 2, "started", false, Map::new()).unwrap());
    assert!(l.append("other", 1, "started", false, Map::new()).unwrap());
    assert_eq!(l.read().unwrap().rows.len(), 4);
}

#[test]
fn force_reappend_records_a_new_head_once() {
    let (_d, l) = ledger();
    l.append("k", 1, "done", false, fields(json!({"head_commit": "a"})))
        .unwrap();
    let b = || fields(json!({"head_commit": "b", "reconciled": true}));
    assert!(l.append("k", 1, "done", true, b()).unwrap());
    assert!(!l.append("k", 1, "done", true, b()).unwrap());
    assert!(!l
        .append("k", 1, "done", true, fields(json!({"head_commit": "a"})))
        .unwrap());
    let rows = l.read().unwrap().rows;
    assert_eq!(rows.len(), 2);
    assert_eq!(latest_done_by_stage(&rows)[&1]["head_commit"], "b");
}

#[test]
fn unknown_statuses_and_bad_fields_are_invalid_args_and_write_nothing() {
    let (_d, l) = ledger();
    let e = l.append("k", 1, "merged", false, Map::new()).unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    assert_eq!(
        e.to_string(),
        "status must be 'started' or 'done', got: 'merged'; `verified` and `pr` rows have their own appends"
    );
    let e = l
        .append("k", 1, "done", false, fields(json!({"stage": 3})))
        .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    assert_eq!(
        l.append_pr("k", &[], "b", "u").unwrap_err().code(),
        "E_INVALID_ARG"
    );
    assert_eq!(
        l.append_verified("k", 1, "accepted", " ")
            .unwrap_err()
            .code(),
        "E_INVALID_ARG"
    );
    assert!(!l.path().exists());
}

#[test]
fn a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line() {
    let (d, l) = ledger();
    l.append("k", 1, "started", false, Map::new()).unwrap();
    let mut f = OpenOptions::new().append(true).open(l.path()).unwrap();
    f.write_all(b"{\"impl_task_key\": \"k\", \"sta").unwrap();
    let r = l.read().unwrap();
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].line, 2);
    assert!(
        r.skipped[0].reason.starts_with("not valid JSON"),
        "{}",
        r.skipped[0].reason
    );
    assert!(l
        .append("k", 1, "done", false, fields(json!({"head_commit": "h"})))
        .unwrap());
    let r = l.read().unwrap();
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.skipped.len(), 1);
    let text = std::fs::read_to_string(d.path().join(LEDGER_FILE)).unwrap();
    assert!(text.ends_with("\"sta\n{\"impl_task_key\": \"k\", \"stage\": 1, \"status\": \"done\", \"head_commit\": \"h\"}\n"), "{text}");
}

#[test]
fn verified_is_idempotent_per_report_and_last_verdict_wins() {
    let (_d, l) = ledger();
    assert!(l.append_verified("k", 1, "accepted", "r1.md").unwrap());
    assert!(!l.append_verified("k", 1, "rejected", "r1.md").unwrap());
    assert!(l.append_verified("k", 2, " Accepted ", "r2.md").unwrap());
    assert!(l.append_verified("k", 2, "needs-work", "r3.md").unwrap());
    let rows = l.read().unwrap().rows;
    assert_eq!(verified_accepted_stages(&rows), BTreeSet::from([1]));
}

#[test]
fn pr_rows_are_idempotent_per_branch_with_sorted_stages() {
    let (_d, l) = ledger();
    assert!(l
        .append_pr("k", &[3, 1, 3], "feat-x-g1", "https://pr/1")
        .unwrap());
    assert!(!l.append_pr("k", &[2], "feat-x-g1", "https://pr/2").unwrap());
    assert!(l.append_pr("k", &[2], "feat-x-g2", "https://pr/3").unwrap());
    let rows = l.read().unwrap().rows;
    assert_eq!(rows[0]["stages"], json!([1, 3]));
    assert_eq!(pr_covered_stages(&rows), BTreeSet::from([1, 2, 3]));
}

#[test]
fn readers_ignore_rows_without_an_integer_stage() {
    let rows = vec![
        json!({"status": "done", "stage": "2", "head_commit": "a"}),
        json!({"status": "done", "stage": 2.0}),
        json!({"status": "verified", "stage": null, "verdict": "accepted"}),
        json!({"status": "pr", "stages": [1, "2", -3]}),
        json!([1]),
    ];
    assert!(latest_done_by_stage(&rows).is_empty());
    assert!(verified_accepted_stages(&rows).is_empty());
    assert_eq!(pr_covered_stages(&rows), BTreeSet::from([1]));
}

#[test]
fn python_written_lines_read_as_equals() {
    let (d, l) = ledger();
    std::fs::write(
        d.path().join(LEDGER_FILE),
        "{\"impl_task_key\": \"k\", \"stage\": 1, \"status\": \"done\", \"head_commit\": \"a\", \"메모\": \"한글\"}\n\n[1]\n",
    )
    .unwrap();
    let r = l.read().unwrap();
    assert_eq!(
        r.rows,
        vec![
            json!({"impl_task_key": "k", "stage": 1, "status": "done", "head_commit": "a", "메모": "한글"})
        ]
    );
    assert_eq!(
        r.skipped,
        vec![Skipped {
            line: 3,
            reason: "not a JSON object".into()
        }]
    );
    assert!(!l.append("k", 1, "done", false, Map::new()).unwrap());
}

#[test]
fn concurrent_appends_lose_nothing_and_never_duplicate() {
    let (d, _l) = ledger();
    let root = d.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                let l = Ledger::new(&root, std::time::Duration::from_millis(10_000));
                for i in 0..25u32 {
                    // Every thread races on the same idempotent row and adds its own.
                    l.append("shared", 1, "started", false, Map::new()).unwrap();
                    l.append(
                        &format!("t{t}"),
                        i,
                        "done",
                        false,
                        fields(json!({"head_commit": "h"})),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = Ledger::new(&root, T).read().unwrap();
    assert!(r.skipped.is_empty());
    assert_eq!(r.rows.len(), 1 + 8 * 25);
}

#[test]
fn the_json_text_read_holds_the_same_rows_and_skips_the_same_lines() {
    let (_d, l) = ledger();
    let body = concat!(
        "{\"impl_task_key\": \"k\", \"stage\": 1, \"status\": \"done\", \"n\": {\"a\": [1, 2.5, null]}}\n",
        "\n",
        "[1, 2]\n",
        "{\"impl_task_key\": \"한글\", \"stage\": 2, \"status\": \"started\", \"q\": \"a\\\"b\\u00e9\"}\r\n",
        "7\n",
        "{\"impl_task_key\": \"k\", \"sta"
    );
    std::fs::write(l.path(), body).unwrap();
    let values = l.read().unwrap();
    let text = l.read_text().unwrap();
    assert_eq!(text.skipped, values.skipped);
    assert_eq!(
        text.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
        [3, 5, 6]
    );
    let parsed: Vec<Value> = serde_json::from_str(&text.rows_json).unwrap();
    assert_eq!(parsed, values.rows);
    assert_eq!(parsed.len(), 2);
    // Lines not shaped like one object send the reader to the checked path.
    assert_eq!(l.read_unchecked().unwrap(), None);
    std::fs::write(l.path(), body.replace("[1, 2]\n", "").replace("7\n", "")).unwrap();
    assert_eq!(l.read_unchecked().unwrap(), None, "the torn last line");
    let shaped = body.replace("[1, 2]\n", "").replace("7\n", "");
    let whole = shaped.rsplit_once('\n').unwrap().0;
    std::fs::write(l.path(), format!("{whole}\n  \n")).unwrap();
    let unchecked: Vec<Value> =
        serde_json::from_str(&l.read_unchecked().unwrap().expect("all shaped")).unwrap();
    assert_eq!(unchecked, l.read().unwrap().rows);
    std::fs::write(l.path(), body).unwrap();
    assert_eq!(
        l.read_text().map(|t| t.rows_json).ok().as_deref(),
        Some(text.rows_json.as_str())
    );
    let root = _d.path().join("empty");
    std::fs::create_dir(&root).unwrap();
    let empty = Ledger::new(&root, T).read_text().unwrap();
    assert_eq!(empty.rows_json, "[]");
    // A missing plan run root is refused the same way `read` refuses it.
    let missing = Ledger::new(_d.path().join("none"), T);
    assert_eq!(
        missing.read_text().map(|_| ()).unwrap_err().code(),
        missing.read().map(|_| ()).unwrap_err().code()
    );
}

#[test]
fn the_index_follows_foreign_appends_rewrites_replacements_and_damage() {
    let (d, l) = ledger();
    let idx = d.path().join(INDEX_FILE);
    let started = |s: u32| l.append("k", s, "started", false, Map::new()).unwrap();
    for s in 0..3000 {
        assert!(started(s));
    }
    assert!(idx.exists());
    assert!(!started(1234));
    // Lines another writer appended (the Python helper knows no index) are found.
    let mut f = OpenOptions::new().append(true).open(l.path()).unwrap();
    f.write_all(b"{\"impl_task_key\": \"k\", \"stage\": 5000, \"status\": \"started\"}\n")
        .unwrap();
    f.write_all(
        b"{\"status\": \"pr\", \"branch\": \"b1\", \"stages\": [1], \"impl_task_key\": \"k\"}\n",
    )
    .unwrap();
    assert!(!started(5000));
    assert!(!l.append_pr("k", &[2], "b1", "u").unwrap());
    // Rewritten in place without a row (same inode, shorter): that row may be appended again.
    let text = std::fs::read_to_string(l.path()).unwrap();
    let without: String = text
        .lines()
        .filter(|line| !line.contains("\"stage\": 7,"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(l.path(), &without).unwrap();
    assert!(started(7));
    assert!(!started(7));
    assert!(!started(8));
    // Replaced by another file (new inode): rebuilt, not trusted.
    let swapped = without.replace("\"stage\": 9,", "\"stage\": 99999,");
    let tmp = d.path().join("new.jsonl");
    std::fs::write(&tmp, &swapped).unwrap();
    std::fs::rename(&tmp, l.path()).unwrap();
    assert!(started(9));
    // A damaged or missing index never hides a row nor invents one.
    std::fs::write(&idx, vec![0xAB; 5000]).unwrap();
    assert!(!started(10));
    assert!(started(6000));
    std::fs::remove_file(&idx).unwrap();
    assert!(!started(6000));
    let rows = l.read().unwrap().rows;
    let mut seen = BTreeSet::new();
    for r in &rows {
        assert!(seen.insert(r["stage"].to_string()), "duplicate {r}");
    }
}

#[test]
fn forced_verified_and_pr_identities_go_through_the_index() {
    let (_d, l) = ledger();
    let done = |head: &str, force| {
        l.append("k", 1, "done", force, fields(json!({"head_commit": head})))
            .unwrap()
    };
    assert!(done("a", false));
    assert!(!done("b", false));
    assert!(done("b", true));
    assert!(!done("b", true));
    assert!(!done("a", true));
    assert!(l.append("k", 1, "done", true, Map::new()).unwrap());
    assert!(!l.append("k", 1, "done", true, Map::new()).unwrap());
    assert!(l.append_verified("k", 1, "accepted", "r1").unwrap());
    assert!(!l.append_verified("k", 1, "rejected", "r1").unwrap());
    assert!(l.append_verified("k", 2, "accepted", "r1").unwrap());
    assert!(l.append_pr("k", &[1], "b", "u").unwrap());
    assert!(!l.append_pr("other", &[3], "b", "u2").unwrap());
    assert_eq!(l.read().unwrap().rows.len(), 6);
}

#[test]
fn key_text_resolves_to_its_slug_unless_only_raw_rows_exist() {
    let (_d, l) = ledger();
    // No ledger yet, or no row of either form: the slugged key.
    assert_eq!(
        l.resolve_key("Shop/pay/Checkout 500").unwrap(),
        "shop/pay/checkout-500"
    );
    l.append("Shop/pay/Checkout 500", 1, "done", false, Map::new())
        .unwrap();
    assert_eq!(
        l.resolve_key("Shop/pay/Checkout 500").unwrap(),
        "Shop/pay/Checkout 500"
    );
    l.append("shop/pay/checkout-500", 1, "done", false, Map::new())
        .unwrap();
    assert_eq!(
        l.resolve_key("Shop/pay/Checkout 500").unwrap(),
        "shop/pay/checkout-500"
    );
    // Already slugged, or not shaped like a key: as given.
    assert_eq!(l.resolve_key("k").unwrap(), "k");
    assert_eq!(l.resolve_key("p/g/t").unwrap(), "p/g/t");
}

#[test]
fn task_rows_find_a_task_from_its_slugged_or_raw_key() {
    let (_d, l) = ledger();
    l.append("Shop/pay/Checkout 500", 1, "started", false, Map::new())
        .unwrap();
    l.append("other/g/t", 1, "done", false, Map::new()).unwrap();
    let rows = l.read().unwrap().rows;
    let tasks = TaskRows::new(&rows);
    let status = |k: &str| -> Vec<&str> {
        tasks
            .of(k)
            .into_iter()
            .filter_map(|r| r.status())
            .collect::<Vec<_>>()
    };
    // Raw rows are found from the slugged key (the registry's) and from the raw text.
    assert_eq!(status("shop/pay/checkout-500"), ["started"]);
    assert_eq!(status("Shop/pay/Checkout 500"), ["started"]);
    assert!(status("shop/pay/other").is_empty());
    // Once a slugged row exists it wins, from either form, as `resolve_key` says.
    l.append("shop/pay/checkout-500", 1, "done", false, Map::new())
        .unwrap();
    let rows = l.read().unwrap().rows;
    let tasks = TaskRows::new(&rows);
    for k in ["shop/pay/checkout-500", "Shop/pay/Checkout 500"] {
        let got: Vec<&str> = tasks.of(k).into_iter().filter_map(|r| r.status()).collect();
        assert_eq!(got, ["done"], "{k}");
        assert_eq!(l.resolve_key(k).unwrap(), "shop/pay/checkout-500");
    }
}
