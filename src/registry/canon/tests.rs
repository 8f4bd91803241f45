//! The splice against the full re-serialization (and Python's `json.dumps`) over many random
//! registries: unicode, escapes, unknown fields and key orders, released and stale rows.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::*;
use crate::fuzz::Rng;

const PIECES: &[&str] = &[
    "a", "feat", "é", "한글", "😀", "\"", "\\", "\n", "\t", "\u{1}", "\u{7f}", "/", " ",
    "\u{2028}", "x-y", "0",
];

fn text(rng: &mut Rng) -> String {
    (0..1 + rng.below(4)).map(|_| *rng.pick(PIECES)).collect()
}

fn unknown(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 1 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 1),
        2 => json!(rng.below(1000) as i64 - 500),
        3 => json!([0.5, 2.25, -1.0, 0.125][rng.below(4)]),
        4 => json!(text(rng)),
        5 => json!(u64::MAX - rng.below(3) as u64),
        6 => Value::Array((0..rng.below(3)).map(|_| unknown(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.below(3))
                .map(|_| (text(rng), unknown(rng, depth + 1)))
                .collect(),
        ),
    }
}

fn row(rng: &mut Rng, branch: &str) -> Value {
    let mut fields: Vec<(String, Value)> = vec![
        ("project_id".into(), json!(text(rng))),
        ("task_group".into(), json!("g")),
        ("task_id".into(), json!(text(rng))),
        ("worktree_path".into(), json!(format!("/w/{}", text(rng)))),
        ("branch".into(), json!(branch)),
    ];
    if rng.below(3) > 0 {
        let status = ["active", "released"][rng.below(2)];
        fields.push(("status".into(), json!(status)));
    }
    for f in [
        "base_ref",
        "created_at",
        "last_phase",
        "implementation_base_commit",
    ] {
        match rng.below(3) {
            0 => {}
            1 => fields.push((f.into(), Value::Null)),
            _ => fields.push((f.into(), json!(text(rng)))),
        }
    }
    match rng.below(3) {
        0 => {}
        1 => fields.push(("stage".into(), json!(rng.below(9)))),
        _ => fields.push(("stages".into(), json!([1, rng.below(9)]))),
    }
    for _ in 0..rng.below(3) {
        fields.push((format!("x_{}", text(rng)), unknown(rng, 0)));
    }
    // Key orders vary: the writer keeps whatever order the file had.
    for i in (1..fields.len()).rev() {
        fields.swap(i, rng.below(i + 1));
    }
    Value::Object(fields.into_iter().collect())
}

/// A random registry document (valid: every row reads as a typed row).
fn registry(rng: &mut Rng) -> Map<String, Value> {
    let mut tasks = Map::new();
    let mut branches = Map::new();
    for i in 0..rng.below(12) {
        let branch = format!(
            "b{}{}",
            rng.below(6),
            text(rng).replace(['\n', '\t', '\u{1}', '\u{7f}', ' ', '\\', '"'], "")
        );
        let key = format!("p/{}/t{i}", text(rng));
        tasks.insert(key.clone(), row(rng, &branch));
        if rng.below(4) > 0 {
            branches.insert(branch, json!(key));
        } else if rng.below(2) == 0 {
            branches.insert(format!("stale{i}"), json!("p/none/x"));
        }
    }
    let mut top = Map::new();
    let mut sections = vec![
        ("tasks", Value::Object(tasks)),
        ("branches", Value::Object(branches)),
    ];
    if rng.below(2) == 0 {
        sections.reverse();
    }
    for (name, v) in sections {
        if rng.below(3) == 0 {
            top.insert(format!("meta_{}", text(rng)), unknown(rng, 0));
        }
        top.insert(name.into(), v);
    }
    if rng.below(2) == 0 {
        top.insert("version".into(), json!(2));
    }
    top
}

fn to_bytes(top: &Map<String, Value>) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(top).expect("serializes");
    out.push(b'\n');
    out
}

/// The full path: change the decoded document, re-serialize it whole.
fn reserve_full(top: &mut Map<String, Value>, key: &str, fresh: &Value, branch: &str) {
    let tasks = top["tasks"].as_object_mut().expect("tasks");
    let row = tasks.entry(key.to_string()).or_insert_with(|| json!({}));
    if let (Some(row), Some(fresh)) = (row.as_object_mut(), fresh.as_object()) {
        row.extend(fresh.clone());
    }
    top["branches"]
        .as_object_mut()
        .expect("branches")
        .insert(branch.into(), json!(key));
}

/// The spliced path, as `Registry::reserve` does it.
fn reserve_spliced(canon: &mut Canon, key: &str, fresh: &Value, branch: &str) {
    let mut row = canon.row(key).unwrap_or_else(|| json!({}));
    if let (Some(row), Some(fresh)) = (row.as_object_mut(), fresh.as_object()) {
        row.extend(fresh.clone());
    }
    canon.set_row(key, &row).expect("row");
    canon.set_branch(branch, key).expect("branch");
}

/// The full path of a release: the row marked released, its branch freed when the index
/// names it.
fn release_full(top: &mut Map<String, Value>, key: &str) {
    let tasks = top["tasks"].as_object_mut().expect("tasks");
    let Some(row) = tasks.get_mut(key).and_then(Value::as_object_mut) else {
        return;
    };
    row.insert("status".into(), json!("released"));
    let branch = row["branch"].as_str().expect("branch").to_owned();
    let index = top["branches"].as_object_mut().expect("branches");
    if index.get(&branch) == Some(&json!(key)) {
        index.shift_remove(&branch);
    }
}

/// The spliced path, as `Registry::release` does it.
fn release_spliced(canon: &mut Canon, key: &str) {
    let Some(mut row) = canon.row(key) else {
        return;
    };
    row["status"] = json!("released");
    canon.set_row(key, &row).expect("row");
    let branch = row["branch"].as_str().expect("branch").to_owned();
    canon.free_branch(&branch, key);
}

fn fresh(rng: &mut Rng, branch: &str) -> Value {
    json!({
        "project_id": "p", "task_group": text(rng), "task_id": "t", "worktree_path": "/w/é",
        "branch": branch, "base_ref": text(rng), "created_at": "2026-11-23T10:00:00+0000",
        "last_phase": "", "status": "active", "stage": null, "implementation_base_commit": "",
        "stages": if rng.below(2) == 0 { Value::Null } else { json!([2, 3]) },
    })
}

/// Offsets kept in step by the splices equal a fresh scan of the new bytes.
fn same_layout(a: &Layout, b: &Layout) {
    for (x, y) in [(&a.tasks, &b.tasks), (&a.branches, &b.branches)] {
        assert_eq!((x.open, x.close), (y.open, y.close));
        let keys = |s: &Section| {
            s.members
                .iter()
                .map(|m| (m.key.clone(), m.value.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(x), keys(y));
    }
    let facts = |l: &Layout| {
        l.rows
            .iter()
            .map(|r| (r.active, r.branch.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(facts(a), facts(b));
}

#[test]
fn splices_equal_the_full_reserialization_over_random_registries() {
    let path = Path::new("/r/registry.json");
    for seed in 1..=400u64 {
        let mut rng = Rng::new(seed);
        let mut top = registry(&mut rng);
        let bytes = to_bytes(&top);
        let mut canon = Canon::of(path, Some(bytes.clone())).expect("valid");
        assert_eq!(canon.bytes, bytes, "seed {seed}: already in the layout");
        for step in 0..8 {
            let keys: Vec<String> = top["tasks"]
                .as_object()
                .expect("tasks")
                .keys()
                .cloned()
                .collect();
            let key = if !keys.is_empty() && rng.below(2) == 0 {
                keys[rng.below(keys.len())].clone()
            } else {
                format!("p/{}/new{step}", text(&mut rng))
            };
            let branch = format!(
                "n{}{}",
                rng.below(4),
                *rng.pick(&["", "é", "😀", "\\\"", "stale0"])
            );
            if rng.below(3) == 0 {
                release_full(&mut top, &key);
                release_spliced(&mut canon, &key);
            } else {
                let f = fresh(&mut rng, &branch);
                reserve_full(&mut top, &key, &f, &branch);
                reserve_spliced(&mut canon, &key, &f, &branch);
            }
            let want = to_bytes(&top);
            assert_eq!(
                String::from_utf8_lossy(&canon.bytes),
                String::from_utf8_lossy(&want),
                "seed {seed} step {step}"
            );
            same_layout(&canon.layout, &Layout::scan(&want).expect("scans"));
        }
    }
}

#[test]
fn active_owner_agrees_with_the_decoded_rows() {
    let path = Path::new("/r/registry.json");
    for seed in 1..=300u64 {
        let mut rng = Rng::new(seed + 1000);
        let top = registry(&mut rng);
        let canon = Canon::of(path, Some(to_bytes(&top))).expect("valid");
        let tasks = top["tasks"].as_object().expect("tasks");
        let branches = top["branches"].as_object().expect("branches");
        let mut candidates: Vec<String> = branches.keys().cloned().collect();
        candidates.extend(
            tasks
                .values()
                .filter_map(|r| r["branch"].as_str().map(str::to_owned)),
        );
        for branch in candidates {
            for key in tasks.keys().take(2).cloned().chain(["p/x/y".to_string()]) {
                let active_on = |k: &str, r: &Value| {
                    k != key
                        && r["branch"] == json!(branch)
                        && r.get("status").and_then(Value::as_str).unwrap_or("active") == "active"
                };
                let indexed = branches
                    .get(&branch)
                    .and_then(Value::as_str)
                    .filter(|o| tasks.get(*o).is_some_and(|r| active_on(o, r)))
                    .map(str::to_owned);
                let want = indexed.or_else(|| {
                    tasks
                        .iter()
                        .find(|(k, r)| active_on(k, r))
                        .map(|(k, _)| k.clone())
                });
                assert_eq!(
                    canon.active_owner(&branch, &key),
                    want,
                    "seed {seed} branch {branch:?} key {key:?}"
                );
            }
        }
    }
}

#[test]
fn other_layouts_are_reserialized_and_invalid_ones_refused() {
    let path = Path::new("/r/registry.json");
    let row = r#"{"project_id": "p", "task_group": "g", "task_id": "t", "worktree_path": "/w", "branch": "b"}"#;
    for text in [
        format!(r#"{{"tasks": {{"p/g/t": {row}}}, "branches": {{"b": "p/g/t"}}}}"#),
        format!("{{\n  \"tasks\": {{\n    \"p/g/t\": {row}\n  }}\n}}\n"),
        format!(r#"{{"tasks": {{"p/g/t": {row}}}, "branches": {{}}, "x": 1.50}}"#),
        format!(r#"{{"tasks": {{"p/g/t": {row}}}, "branches": {{}}, "x": "\u00e9\/"}}"#),
        format!(r#"{{"tasks": {{"p/g/t": {row}, "p/g/t": {row}}}, "branches": {{}}}}"#),
    ] {
        assert!(Layout::scan(text.as_bytes()).is_none(), "{text}");
        let canon = Canon::of(path, Some(text.into_bytes())).expect("valid");
        let (doc, _) = Doc::from_bytes(path, &canon.bytes).expect("valid");
        assert_eq!(canon.bytes, doc.to_bytes());
    }
    for bad in [
        r#"{"tasks": {"p/g/t": {"branch": 3}}, "branches": {}}"#,
        r#"{"tasks": {"p/g/t": {"project_id": "p"}}, "branches": {}}"#,
        "{\n  \"tasks\": {\n    \"p/g/t\": 1\n  },\n  \"branches\": {}\n}\n",
        "{\n  \"tasks\": {},\n  \"branches\": {\n    \"b\": 1\n  }\n}\n",
        "[]",
    ] {
        assert!(Layout::scan(bad.as_bytes()).is_none(), "{bad}");
        let err = Canon::of(path, Some(bad.as_bytes().to_vec())).expect_err(bad);
        assert!(matches!(err, RegistryError::Corrupt { .. }), "{bad}: {err}");
    }
}

/// Whatever the scan accepts re-serializes to itself and is a valid registry: random
/// byte edits of valid files never slip through as "in the layout" when they are not.
#[test]
fn the_scan_accepts_nothing_the_full_parse_would_write_differently() {
    let path = Path::new("/r/registry.json");
    let edits: &[&[u8]] = &[
        b" ",
        b"\n",
        b"\"",
        b"\\",
        b",",
        b"}",
        b"1",
        b".5",
        b"null",
        b"\"active\"",
        b"\\u0041",
        b"\x01",
    ];
    let mut accepted = 0;
    for seed in 1..=300u64 {
        let mut rng = Rng::new(seed + 2000);
        let bytes = to_bytes(&registry(&mut rng));
        for _ in 0..20 {
            let mut b = bytes.clone();
            let at = rng.below(b.len());
            let cut = rng.below(3).min(b.len() - at);
            let ins = edits[rng.below(edits.len())];
            b.splice(at..at + cut, ins.iter().copied());
            if Layout::scan(&b).is_some() {
                accepted += 1;
                let (doc, _) = Doc::from_bytes(path, &b).expect("a scanned file is valid");
                assert_eq!(doc.to_bytes(), b, "seed {seed}");
            }
        }
    }
    assert!(
        accepted > 0,
        "some edits keep the layout (e.g. inside strings)"
    );
}

/// The layout is Python's: `json.dumps(indent=2, ensure_ascii=False)` of a spliced file
/// gives the same bytes.
#[test]
fn spliced_files_are_what_python_writes() {
    let path = Path::new("/r/registry.json");
    let mut all = Vec::new();
    for seed in 1..=40u64 {
        let mut rng = Rng::new(seed + 3000);
        let mut canon = Canon::of(path, Some(to_bytes(&registry(&mut rng)))).expect("valid");
        let branch = format!(
            "py{}",
            text(&mut rng).replace(['\n', '\t', '\u{1}', '\u{7f}', ' '], "")
        );
        let f = fresh(&mut rng, &branch);
        reserve_spliced(&mut canon, &format!("p/py/{seed}"), &f, &branch);
        all.push(canon.bytes);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, b) in all.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.json")), b).expect("write");
    }
    let script = r#"
import json, sys, pathlib
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    b = p.read_bytes()
    out = (json.dumps(json.loads(b), indent=2, ensure_ascii=False) + "\n").encode()
    if out != b:
        sys.exit(f"{p.name} differs")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
