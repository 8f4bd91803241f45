//! Property/fuzz suites, one per parser of outside input: the stage map, ledger lines, the
//! registry JSON, CLI argv, wizard answers and slugs. Each mutates the committed corpus
//! (`fuzz/corpus/<parser>/`) with a seeded generator and checks properties that must hold
//! for every input (no panic, no stack overflow, bounded output, the same verdict from every
//! reader, repair always reaching a sound registry, a rejected answer changing nothing).
//!
//! `npm test` runs a fixed budget per suite. A longer run (docs/architecture.md, "Tests and fuzzing"):
//! `OKSTRA_FUZZ_CASES=200000 OKSTRA_FUZZ_SEED=$RANDOM cargo test --release --target
//! x86_64-unknown-linux-gnu fuzz::`. A failure prints the seed, the case number and the
//! input; add the input to the corpus once fixed.
//!
//! cargo-fuzz needs a nightly toolchain, which the project does not use; a seeded mutator
//! over a committed corpus is deterministic in CI and reproducible from the printed seed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::Coded;

/// xorshift64*: small, fast, and the same sequence for a seed on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Fragments spliced into inputs: the syntax the parsers care about.
const DICT: &[&str] = &[
    "|",
    "\n",
    "---",
    "## ",
    "# ",
    "Stage ",
    "stage-",
    "S",
    "depends-on: ",
    "(none)",
    "없음",
    "**",
    "`",
    "```",
    "- ",
    "1. ",
    ", ",
    "·",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    "null",
    "true",
    "\"status\": \"active\"",
    "\"branch\": ",
    "\"tasks\": {",
    "\"branches\": {",
    "\\u0000",
    "\\\"",
    "4294967296",
    "-1",
    "0",
    "99999999999999999999",
    "é",
    "버그",
    "\u{0}",
    "\r\n",
    "/",
    "#",
    "..",
    "  ",
    "\t",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let frag = rng.pick(DICT).as_bytes();
                out.splice(at..at, frag.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(256)).min(out.len());
                let piece = out[start..end].to_vec();
                for _ in 0..=rng.below(8) {
                    out.splice(at..at, piece.iter().copied());
                }
            }
            4 => {
                let other = rng.pick(corpus);
                let from = rng.below(other.len() + 1);
                out.splice(at..at, other[from..].iter().copied());
            }
            5 => out.truncate(at),
            _ => out.insert(at, rng.next() as u8),
        }
    }
    out
}

/// Cases per suite: `OKSTRA_FUZZ_CASES`, else `default`.
fn budget(default: usize) -> usize {
    std::env::var("OKSTRA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("OKSTRA_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0c57_7a00)
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!out.is_empty(), "corpus {name} is empty");
    out
}

/// Runs `check` on every corpus entry and then on `budget` mutants; a failing case names
/// the seed, the case and the input.
fn fuzz(name: &str, default_cases: usize, mut check: impl FnMut(&[u8]) -> Result<(), String>) {
    let corpus = corpus(name);
    let seed = seed();
    let mut rng = Rng::new(seed);
    let report = |case: usize, input: &[u8], why: String| -> ! {
        panic!(
            "fuzz {name}: case {case} (OKSTRA_FUZZ_SEED={seed}) failed: {why}\ninput: {:?}",
            String::from_utf8_lossy(input)
        )
    };
    for (i, input) in corpus.iter().enumerate() {
        if let Err(why) = check(input) {
            report(i, input, why);
        }
    }
    for case in 0..budget(default_cases) {
        let base = rng.pick(&corpus).clone();
        let input = mutate(&mut rng, &base, &corpus);
        if let Err(why) = check(&input) {
            report(case, &input, why);
        }
    }
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(why())
    }
}

#[test]
fn fuzz_stage_map() {
    fuzz("stage_map", 3000, |input| {
        let text = String::from_utf8_lossy(input);
        let map = crate::plan::parse_stage_map(&text);
        ensure(map.stages.len() <= crate::plan::MAX_STAGES, || {
            format!("{} stages", map.stages.len())
        })?;
        let mut numbers: Vec<u32> = map.stages.iter().map(|s| s.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        ensure(numbers.len() == map.stages.len(), || {
            "duplicate stage numbers".into()
        })?;
        ensure(!map.stages.is_empty() || !map.errors.is_empty(), || {
            "no stages and no error".into()
        })?;
        // A map without errors has no cycle: every stage can be ordered.
        if map.errors.is_empty() {
            let order = crate::plan::dependency_order(&map.stages)
                .map_err(|c| format!("sound map, yet a cycle {c:?}"))?;
            ensure(order.len() == map.stages.len(), || {
                "order lost stages".into()
            })?;
        }
        Ok(())
    });
}

#[test]
fn fuzz_ledger_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let ledger = crate::ledger::Ledger::new(&root, std::time::Duration::from_millis(5000));
    let file = dir.path().join("consumers.jsonl");
    fuzz("ledger_line", 800, |input| {
        std::fs::write(&file, input).map_err(|e| e.to_string())?;
        let before = ledger.read().map_err(|e| format!("read: {e}"))?;
        // `okstra ledger read` streams from the bytes: the same text as the decoded result.
        let mut streamed = Vec::new();
        ledger
            .read_printable()
            .and_then(|p| {
                p.write_to(&mut streamed)
                    .map_err(|e| crate::fsio::io_err("write", &file)(e).into())
            })
            .map_err(|e| format!("read_printable: {e}"))?;
        let decoded = serde_json::to_value(&before).map_err(|e| e.to_string())?;
        let decoded = serde_json::to_string_pretty(&decoded).map_err(|e| e.to_string())?;
        ensure(streamed == decoded.as_bytes(), || {
            format!(
                "streamed read differs from the decoded one:\n{}\n---\n{decoded}",
                String::from_utf8_lossy(&streamed)
            )
        })?;
        // The unchecked text, once a full parser accepts it, holds the same rows and the
        // checked read skipped nothing (else the binding's JSON.parse path would differ).
        let unchecked = ledger
            .read_unchecked()
            .map_err(|e| format!("read_unchecked: {e}"))?;
        if let Some(rows) = unchecked.and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok()) {
            ensure(rows == before.rows && before.skipped.is_empty(), || {
                format!(
                    "the unchecked read parsed to {} rows, the checked one {} rows and {} skipped",
                    rows.len(),
                    before.rows.len(),
                    before.skipped.len()
                )
            })?;
        }
        let appended = ledger
            .append("fz/fz/fz", 7, "started", false, serde_json::Map::new())
            .map_err(|e| format!("append: {e}"))?;
        let after = ledger.read().map_err(|e| format!("re-read: {e}"))?;
        ensure(after.skipped.len() == before.skipped.len(), || {
            format!(
                "the append changed the skipped lines: {:?} → {:?}",
                before.skipped.len(),
                after.skipped.len()
            )
        })?;
        if appended {
            let last = after.rows.last().ok_or("no rows after an append")?;
            ensure(
                last.get("impl_task_key") == Some(&Value::from("fz/fz/fz")),
                || format!("the appended row was swallowed: last row {last}"),
            )?;
            ensure(after.rows.len() == before.rows.len() + 1, || {
                "row count".into()
            })?;
        }
        // Idempotent: the same event again is not appended.
        let again = ledger
            .append("fz/fz/fz", 7, "started", false, serde_json::Map::new())
            .map_err(|e| format!("append again: {e}"))?;
        ensure(!again, || "appended the same event twice".into())
    });
}

#[test]
fn fuzz_registry_json() {
    let dir = tempfile::tempdir().unwrap();
    let reg = crate::registry::Registry::at(dir.path().join("worktrees"), Duration::from_secs(5));
    std::fs::create_dir_all(reg.root()).unwrap();
    let key = crate::ids::KeyParts::new("p", "g", "t", None, None).unwrap();
    fuzz("registry_json", 600, |input| {
        std::fs::write(reg.file(), input).map_err(|e| e.to_string())?;
        let verdicts = [
            reg.lookup(&key).err().map(|e| e.code().as_str()),
            reg.list(None, None).err().map(|e| e.code().as_str()),
            reg.doctor().err().map(|e| e.code().as_str()),
        ];
        ensure(verdicts.iter().all(|v| *v == verdicts[0]), || {
            format!("readers disagree: {verdicts:?}")
        })?;
        ensure(
            matches!(verdicts[0], None | Some("E_REGISTRY_CORRUPT")),
            || format!("unexpected verdict {verdicts:?}"),
        )?;
        let rep = reg.repair().map_err(|e| format!("repair: {e}"))?;
        ensure(verdicts[0].is_none() || rep.moved_to.is_some(), || {
            "a corrupt file was not moved aside".into()
        })?;
        let doctor = reg
            .doctor()
            .map_err(|e| format!("doctor after repair: {e}"))?;
        let left: Vec<&str> = doctor
            .problems
            .iter()
            .map(|p| p.code.as_str())
            .filter(|c| c.starts_with("branch"))
            .collect();
        ensure(left.is_empty(), || format!("repair left {left:?}"))?;
        let again = reg.repair().map_err(|e| format!("second repair: {e}"))?;
        ensure(
            again.moved_to.is_none() && again.released.is_empty() && again.index_fixed == 0,
            || format!("repair is not idempotent: {again:?}"),
        )?;
        // Writers keep the invariants too.
        let _ = reg.reserve(
            &key,
            &crate::registry::Reservation {
                worktree_path: "/nonexistent/fz".into(),
                branch: "fz-branch".into(),
                base_ref: "main".into(),
                phase: "p".into(),
                stages: None,
            },
        );
        let doctor = reg
            .doctor()
            .map_err(|e| format!("doctor after reserve: {e}"))?;
        ensure(
            doctor
                .problems
                .iter()
                .all(|p| !p.code.as_str().starts_with("branch")),
            || format!("reserve broke an invariant: {:?}", doctor.problems),
        )
    });
    let _ = std::fs::remove_dir_all(dir.path().join("worktrees"));
}

/// Commands that only read: safe to run whatever their arguments are.
fn read_only(args: &[String]) -> bool {
    let words: Vec<&str> = args.iter().map(String::as_str).take(2).collect();
    matches!(
        words.as_slice(),
        [
            "registry",
            "lookup" | "list" | "doctor" | "get-implementation-base"
        ] | ["ledger", "read"]
            | ["wizard", "next" | "render-args" | "confirmation"]
    ) || args.iter().any(|a| a == "--help" || a == "-h")
}

#[test]
fn fuzz_cli_argv() {
    let home = tempfile::tempdir().unwrap();
    let home_arg = home.path().to_string_lossy().into_owned();
    fuzz("cli_argv", 2000, |input| {
        let text = String::from_utf8_lossy(input);
        let mut args: Vec<String> = text.lines().map(str::to_string).collect();
        if args.first().is_some_and(|a| a == "registry") && !args.iter().any(|a| a == "--home") {
            args.push("--home".into());
            args.push(home_arg.clone());
        }
        if !crate::cli::parses(&args) || read_only(&args) {
            let out = crate::cli::run(args.clone());
            ensure(matches!(out.exit_code, 0..=2), || {
                format!("exit code {}", out.exit_code)
            })?;
            if out.exit_code != 0 && !out.stdout.is_empty() {
                let v: Value = serde_json::from_str(&out.stdout)
                    .map_err(|e| format!("error output is not JSON ({e}): {}", out.stdout))?;
                let code = v["code"].as_str().unwrap_or_default();
                ensure(code.starts_with("E_"), || format!("code {code:?}"))?;
                ensure(out.stderr.contains(code) || !out.stderr.is_empty(), || {
                    "no stderr line".into()
                })?;
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_wizard_answers() {
    let root = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let fresh = || {
        crate::wizard::Wizard::create(crate::wizard::CreateOptions {
            project_root: root.path().to_string_lossy().into_owned(),
            project_id: Some("fz".into()),
            lang: Some("en".into()),
            home: Some(home.path().to_string_lossy().into_owned()),
            ..Default::default()
        })
        .unwrap()
    };
    let mut w = fresh();
    fuzz("wizard_answers", 1500, |input| {
        let text = String::from_utf8_lossy(input);
        for answer in text.lines().take(12) {
            let before = w.to_json();
            let out = match w.submit(answer) {
                Ok(out) => out,
                // A refused step (e.g. a plan that cannot be read) is an error, not a panic;
                // it must change nothing either.
                Err(_) => {
                    ensure(w.to_json() == before, || {
                        "an error changed the state".into()
                    })?;
                    continue;
                }
            };
            if !out.ok {
                ensure(w.to_json() == before, || {
                    format!("rejected answer {answer:?} changed the state")
                })?;
                ensure(
                    out.code.as_deref().is_some_and(|c| c.starts_with("E_")),
                    || format!("rejection without a code: {:?}", out.code),
                )?;
            }
            let back = crate::wizard::Wizard::from_json(&w.to_json())
                .map_err(|e| format!("saved state does not load: {e}"))?;
            ensure(back.to_json() == w.to_json(), || "state round trip".into())?;
        }
        if w.next().is_ok_and(|p| {
            matches!(
                p.kind,
                crate::wizard::PromptKind::Done | crate::wizard::PromptKind::Aborted
            )
        }) {
            w = fresh();
        }
        Ok(())
    });
}

#[test]
fn fuzz_slugs() {
    fuzz("slugs", 5000, |input| {
        let text = String::from_utf8_lossy(input);
        for line in text.split('\n') {
            let slug = crate::ids::safe_segment(line);
            ensure(!slug.is_empty(), || "empty slug".into())?;
            ensure(
                slug.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                }),
                || format!("slug {slug:?} has other characters"),
            )?;
            ensure(!slug.starts_with('-') && !slug.ends_with('-'), || {
                format!("slug {slug:?} has an edge dash")
            })?;
            crate::ids::KeyParts::new(&slug, &slug, &slug, None, Some(&slug))
                .map_err(|e| format!("a slug is not a valid key segment: {e}"))?;
            match crate::ids::KeyParts::new(line, "g", "t", None, None) {
                Ok(k) => ensure(!k.key().contains('\0'), || "NUL in a key".into())?,
                Err(e) => ensure(e.code() == "E_INVALID_ARG", || e.code().to_string())?,
            }
            if let Ok(branch) = crate::ids::compute_branch_name(line, line, Some(2), None) {
                ensure(
                    git2::Reference::is_valid_name(&format!("refs/heads/{branch}")),
                    || format!("branch {branch:?} is not a valid ref name"),
                )?;
            }
        }
        Ok(())
    });
}

/// Branch names (`git_arg::check_branch`): never a panic; an accepted name never starts with
/// `-` and is one `git check-ref-format --branch` accepts too (checked with git on every
/// 8th case), so nothing okstra lets through reaches git as an option or a different ref.
#[test]
fn fuzz_branch_names() {
    let mut case = 0usize;
    fuzz("branch_names", 1500, |input| {
        case += 1;
        let name = String::from_utf8_lossy(input);
        if crate::git_arg::check_branch("branch", &name).is_err() {
            return Ok(());
        }
        ensure(!name.starts_with('-'), || "accepted a leading -".into())?;
        if case.is_multiple_of(8) && !name.contains('\0') {
            let git = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", &name])
                .output()
                .map_err(|e| format!("git: {e}"))?;
            ensure(git.status.success(), || "accepted, git refuses it".into())?;
        }
        Ok(())
    });
}
