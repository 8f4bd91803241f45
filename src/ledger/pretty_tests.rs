//! The streamed `ledger read` output against printing the decoded result (the old path).

use super::super::{parse, Ledger};
use super::write_read_result;
use crate::fuzz::Rng;

/// What `okstra ledger read` printed before it streamed: the decoded result, pretty.
fn old(bytes: &[u8]) -> String {
    let v = serde_json::to_value(parse(bytes)).unwrap();
    serde_json::to_string_pretty(&v).unwrap()
}

fn new(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    write_read_result(bytes, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn same(bytes: &[u8]) {
    assert_eq!(
        new(bytes),
        old(bytes),
        "input: {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// Lines that exercise every token and every normalisation the decode-and-print path makes.
const LINES: &[&str] = &[
    r#"{"impl_task_key": "p/g/t", "stage": 1, "status": "started"}"#,
    r#"{"impl_task_key":"p/g/t","stage":2,"status":"done","head_commit":"abc"}"#,
    "  {\t\"a\" :  1 ,\r\"b\":[ 1 ,2,[ ] , { } ]}  \r",
    r#"{"note": "재시도 \"ok\" ✓ 🎉", "emoji": "\ud83c\udf89", "e": "\u00e9\u00E9"}"#,
    r#"{"esc": "\/ \b \f \n \r \t \\ \" \u0000 \u001f \u001b \u007f \u0041"}"#,
    r#"{"raw\u0041key": 1}"#,
    r#"{"dup": 1, "x": 2, "dup": 3}"#,
    r#"{"n": [0, -0, 1.0, -1.5, 1e3, 1E-7, 2.5e+10, 123456789012345678, 12345678901234567890]}"#,
    r#"{"big": [18446744073709551615, 18446744073709551616, -9223372036854775808, -9223372036854775809, -123456789012345678]}"#,
    r#"{"f": [0.1, 0.30000000000000004, 1.7976931348623157e308, 5e-324, 100000000000000000000000]}"#,
    r#"{"t": true, "f": false, "z": null, "o": {"deep": {"er": [[[{"x": []}]]]}}}"#,
    r#"{"lone": "\ud800"}"#,
    r#"{"lone2": "\udc00 x"}"#,
    r#"{"bad": 01}"#,
    r#"{"bad": 1.}"#,
    r#"{"bad": +1}"#,
    r#"{"bad": "raw	tab"}"#,
    r#"{"out of range": 1e400}"#,
    r#"[1, 2]"#,
    r#""just a string""#,
    r#"{"a": 1} trailing"#,
    r#"{"a": 1},"#,
    r#"{"a": tru}"#,
    r#"{"a": "unterminated"#,
    r#"{"impl_task_key": "p/g/t", "stage": 3, "status": "do"#,
    "\u{a0}{\"nbsp\": 1}",
    "\u{c}{\"ff\": 1}",
    "{\"k\": \"v\"}\u{c}",
    "",
    "   \t ",
];

#[test]
fn every_kind_of_line_prints_as_the_decoded_result_did() {
    for line in LINES {
        same(line.as_bytes());
        same(format!("{line}\n").as_bytes());
    }
    let all = LINES.join("\n");
    same(all.as_bytes());
    same(format!("{all}\n").as_bytes());
    // Empty ledgers, only skipped lines, no rows.
    same(b"");
    same(b"\n\n");
    same(b"{\"torn\": ");
    // Invalid UTF-8 on one line only.
    let mut mixed = b"{\"a\": 1}\n{\"b\": \"".to_vec();
    mixed.extend_from_slice(&[0xff, 0xfe]);
    mixed.extend_from_slice(b"\"}\n{\"c\": \"\xc3\xa9\"}\n");
    same(&mixed);
}

#[test]
fn deep_and_wide_rows_print_as_the_decoded_result_did() {
    for depth in [1, 30, 63, 64, 65, 100, 126, 127, 128, 129, 200] {
        let line = format!("{{\"d\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
        same(line.as_bytes());
        let line = format!(
            "{{\"d\": {}1{}}}",
            "{\"k\": ".repeat(depth),
            "}".repeat(depth)
        );
        same(line.as_bytes());
    }
    for keys in [63, 64, 65, 200] {
        let fields: Vec<String> = (0..keys).map(|k| format!("\"k{k}\": {k}")).collect();
        same(format!("{{{}}}", fields.join(", ")).as_bytes());
        let mut dup = fields.clone();
        dup.push("\"k0\": \"last\"".into());
        same(format!("{{{}}}", dup.join(", ")).as_bytes());
    }
}

/// Random rows of every token kind, then random byte edits of them.
#[test]
fn random_ledgers_print_as_the_decoded_result_did() {
    let mut rng = Rng::new(27);
    let atoms = [
        "0",
        "-0",
        "7",
        "-7",
        "1.25",
        "-2e5",
        "3E+2",
        "99999999999999999999",
        "true",
        "false",
        "null",
        "\"\"",
        "\"plain\"",
        "\"é ✓ 🎉\"",
        "\"a\\nb\"",
        "\"\\u00e9\\ud83c\\udf89\"",
        "\"\\u0001\\u001F\"",
        "\"\\/\\\\\\\"\"",
        "[]",
        "{}",
    ];
    for _ in 0..2000 {
        let mut text = String::new();
        for _ in 0..rng.below(6) {
            text.push_str(&random_value(&mut rng, &atoms, 0));
            text.push('\n');
        }
        same(text.as_bytes());
        let mut bytes = text.into_bytes();
        for _ in 0..=rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, *rng.pick(b"{}[]\",:\\ \n0-.eu")),
                _ => bytes.truncate(at),
            }
        }
        same(&bytes);
    }
}

fn random_value(rng: &mut Rng, atoms: &[&str], depth: usize) -> String {
    let kind = if depth == 0 { 0 } else { rng.below(4) };
    match kind {
        0 => {
            let members: Vec<String> = (0..rng.below(5))
                .map(|i| {
                    let key = *rng.pick(&["\"k\"", "\"stage\"", "\"ü\"", "\"k\\u0041\""]);
                    let key = if rng.below(4) == 0 {
                        key.to_string()
                    } else {
                        format!("\"f{i}\"")
                    };
                    format!("{key}: {}", random_value(rng, atoms, depth + 1))
                })
                .collect();
            format!(
                "{{{}}}",
                members.join(if rng.below(2) == 0 { ", " } else { "," })
            )
        }
        1 if depth < 6 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| random_value(rng, atoms, depth + 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        _ => (*rng.pick(atoms)).to_string(),
    }
}

/// Rows written by Python's `json.dumps` (the old helper's writer), both with and without
/// `ensure_ascii`, including floats and big integers, through the command itself.
#[test]
fn rows_the_python_helper_wrote_print_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import json, sys
rows = [
    {"impl_task_key": "p/g/t", "stage": 0, "status": "started", "run_id": "재시도"},
    {"impl_task_key": "p/g/t", "stage": 0, "status": "done", "head_commit": "a" * 40,
     "note": "tab\there \"q\" \\ \x1b\x7f 🎉", "ratio": 0.1, "big": 2 ** 70, "neg": -2 ** 63,
     "f": 1e21, "nested": {"l": [1, 2.5, None, True, {}, []]}},
    {"impl_task_key": "p/g/t", "stages": [0, 1], "status": "pr", "branch": "b", "url": "u"},
]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.write(json.dumps(r) + "\n")
    f.write(json.dumps(rows[0])[:20])
"#;
    let file = dir.path().join("consumers.jsonl");
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .status()
        .expect("python3 runs (scripts/test-deps.sh installs it)");
    assert!(status.success());
    let bytes = std::fs::read(&file).unwrap();
    same(&bytes);
    // Through the command line, as printed before: the decoded result, pretty, one newline.
    let root = dir.path().to_string_lossy().into_owned();
    let out = crate::cli::run(["ledger", "read", "--plan-run-root", root.as_str()]);
    assert_eq!(out.exit_code, 0);
    let read = Ledger::new(dir.path(), std::time::Duration::from_secs(5))
        .read()
        .unwrap();
    assert_eq!(read.rows.len(), 6);
    assert_eq!(read.skipped.len(), 1);
    let decoded = serde_json::to_string_pretty(&serde_json::to_value(read).unwrap()).unwrap();
    assert_eq!(out.stdout, format!("{decoded}\n"));
    let mut streamed = Vec::new();
    let done = crate::cli::run_to(
        ["ledger", "read", "--plan-run-root", root.as_str()],
        &mut streamed,
    );
    assert_eq!((done.exit_code, done.stderr.as_str()), (0, ""));
    assert_eq!(String::from_utf8(streamed).unwrap(), out.stdout);
}

/// A ledger bigger than one output chunk is written in several writes, same text.
#[test]
fn big_ledgers_are_written_in_chunks_with_the_same_text() {
    let mut text = String::new();
    for s in 0..20_000 {
        text.push_str(&format!(
            "{{\"impl_task_key\": \"proj/grp/task\", \"stage\": {s}, \"status\": \"done\", \"head_commit\": \"{s:040x}\"}}\n"
        ));
    }
    struct Counting(Vec<u8>, usize);
    impl std::io::Write for Counting {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1 += 1;
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Counting(Vec::new(), 0);
    write_read_result(text.as_bytes(), &mut w).unwrap();
    assert!(w.1 > 10, "{} writes", w.1);
    assert!(w.0.len() > 4 * super::CHUNK);
    assert_eq!(String::from_utf8(w.0).unwrap(), old(text.as_bytes()));
}

/// The transcoder itself takes the lines rows are made of (else the speed is gone even though
/// the text is right); it leaves to the decode-and-print path only the lines it must.
#[test]
fn the_transcoder_takes_every_common_row_and_leaves_the_odd_ones() {
    let take = |line: &str| {
        super::Transcoder::new(line.as_bytes(), &mut Vec::new(), &mut Vec::new())
            .row()
            .is_some()
    };
    for line in &LINES[..5] {
        assert!(take(line), "not transcoded: {line}");
    }
    for line in &LINES[7..11] {
        assert!(take(line), "not transcoded: {line}");
    }
    for line in [
        LINES[5], LINES[6], LINES[11], LINES[12], LINES[13], LINES[17], LINES[18],
    ] {
        assert!(!take(line), "transcoded: {line}");
    }
}
