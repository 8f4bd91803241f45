//! The lookup index against the registry it describes: same answers as the full read, and
//! never an answer for a registry that changed since it was written.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::registry::store::Doc;

fn stamp(path: &Path) -> Stamp {
    Stamp::of(&std::fs::metadata(path).expect("stat"))
}

/// A registry of `n` rows (some released, some with escapes) in the writers' layout.
fn registry(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut tasks = serde_json::Map::new();
    for i in 0..n {
        let key = format!("p/g/t{i}{}", ["", "é", "\\\"q"][i % 3]);
        tasks.insert(
            key.clone(),
            serde_json::json!({
                "project_id": "p", "task_group": "g", "task_id": format!("t{i}"),
                "worktree_path": format!("/w/{i}"), "branch": format!("b{i}"),
                "status": if i % 4 == 0 { "released" } else { "active" }, "x_unknown": [i],
            }),
        );
    }
    let doc = serde_json::json!({ "tasks": tasks, "branches": {} });
    let file = dir.join("registry.json");
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("json");
    bytes.push(b'\n');
    std::fs::write(&file, bytes).expect("write");
    file
}

fn canon_of(file: &Path) -> Canon {
    Canon::of(file, Doc::read_bytes(file).expect("read")).expect("valid")
}

#[test]
fn answers_every_key_as_the_full_read_does_and_absent_keys_as_absent() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in [0, 1, 7, 300] {
        let file = registry(dir.path(), n);
        let idx = dir.path().join(INDEX_FILE);
        let canon = canon_of(&file);
        write(&idx, &stamp(&file), &canon).expect("index");
        assert!(is_current(&idx, &stamp(&file)));
        for i in 0..n {
            let key = format!("p/g/t{i}{}", ["", "é", "\\\"q"][i % 3]);
            match lookup(&idx, &file, &key) {
                Answer::Row(e) => assert_eq!(Some(*e), canon.entry(&key), "{key}"),
                other => panic!("{key}: {other:?}"),
            }
        }
        for key in ["p/g/none", "p/g/t1x", "", "p/g/t0é"] {
            assert!(matches!(lookup(&idx, &file, key), Answer::Absent), "{key}");
        }
    }
}

#[test]
fn a_replaced_registry_makes_the_index_unknown_never_a_stale_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = registry(dir.path(), 20);
    let idx = dir.path().join(INDEX_FILE);
    write(&idx, &stamp(&file), &canon_of(&file)).expect("index");
    // Another writer (the Python helper, say) replaces the file by rename: same size.
    let text = std::fs::read_to_string(&file).expect("read");
    let tmp = dir.path().join("tmp");
    std::fs::write(&tmp, text.replace("/w/5", "/w/6")).expect("write");
    std::fs::rename(&tmp, &file).expect("rename");
    assert!(!is_current(&idx, &stamp(&file)));
    assert!(matches!(lookup(&idx, &file, "p/g/t5é"), Answer::Unknown));
    assert!(matches!(lookup(&idx, &file, "p/g/none"), Answer::Unknown));
    // In place, keeping the inode: the mtime moves.
    std::thread::sleep(Duration::from_millis(5));
    std::fs::write(&file, text).expect("write");
    assert!(matches!(lookup(&idx, &file, "p/g/t5é"), Answer::Unknown));
}

#[test]
fn a_damaged_or_foreign_index_is_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = registry(dir.path(), 20);
    let idx = dir.path().join(INDEX_FILE);
    write(&idx, &stamp(&file), &canon_of(&file)).expect("index");
    let good = std::fs::read(&idx).expect("read");
    // Cut short, wrong magic, an empty file, a directory.
    for bad in [
        &good[..good.len() - 1],
        b"NOTANIDX".as_slice(),
        b"".as_slice(),
    ] {
        std::fs::write(&idx, bad).expect("write");
        assert!(matches!(lookup(&idx, &file, "p/g/t1é"), Answer::Unknown));
    }
    // A slot pointing at the wrong bytes: the key's token is not there.
    let mut moved = good.clone();
    for slot in moved[HEADER..].chunks_exact_mut(SLOT) {
        if slot[..4] != [0; 4] {
            let start = u32::from_le_bytes(slot[4..8].try_into().expect("4")) + 1;
            slot[4..8].copy_from_slice(&start.to_le_bytes());
        }
    }
    std::fs::write(&idx, &moved).expect("write");
    assert!(!matches!(lookup(&idx, &file, "p/g/t1é"), Answer::Row(_)));
    std::fs::remove_file(&idx).expect("rm");
    std::fs::create_dir(&idx).expect("mkdir");
    assert!(matches!(lookup(&idx, &file, "p/g/t1é"), Answer::Unknown));
}

/// Through `Registry`: a version read before it settled gets no index; a settled one does,
/// and from then on a lookup reads the index and the row, not the whole file (shown by a
/// damaged other row the full read would refuse, slipped in with the stamp kept).
#[test]
fn the_cli_lookup_writes_the_index_for_a_settled_version_and_then_reads_only_the_row() {
    use crate::ids::KeyParts;
    use crate::registry::Registry;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = registry(dir.path(), 30);
    let reg = Registry::at(dir.path().to_path_buf(), Duration::from_secs(5));
    let key = KeyParts::new("p", "g", "t1é", None, None).expect("key");
    let want = canon_of(&file).entry("p/g/t1é");
    assert!(want.is_some());
    assert_eq!(reg.lookup_once(&key).expect("lookup"), want);
    assert!(!reg.index_file().exists(), "a fresh version gets no index");

    let settled = SystemTime::now() - Duration::from_secs(2);
    let set_mtime = |t: SystemTime| {
        let f = std::fs::File::options()
            .write(true)
            .open(&file)
            .expect("open");
        f.set_modified(t).expect("mtime");
    };
    set_mtime(settled);
    assert_eq!(reg.lookup_once(&key).expect("lookup"), want);
    assert!(is_current(&reg.index_file(), &stamp(&file)));

    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replacen("\"released\"", "\"releasex\"", 1)).expect("write");
    set_mtime(settled);
    assert!(Canon::of(&file, Doc::read_bytes(&file).expect("read")).is_err());
    match lookup(&reg.index_file(), &file, "p/g/t1é") {
        Answer::Row(e) => assert_eq!(Some(*e), want),
        other => panic!("{other:?}"),
    }
}
