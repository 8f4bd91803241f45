//! Identifiers and paths: the slugifier, task keys, worktree paths, branch names
//! and where `OKSTRA_HOME` is.

use std::path::{Component, Path, PathBuf};

use crate::error::{invalid, InvalidArg};

/// FNV-1a, 32 bit: a fixed, documented hash (never `DefaultHasher`, whose output may change
/// between Rust releases), so slugs stay the same across versions and machines.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// `fnv1a32` of `value` as 8 lower-case hex digits: a short, stable fingerprint for names
/// that must be unique but may not hold the raw text (lock files, git admin names).
pub fn stable_hash8(value: &str) -> String {
    format!("{:08x}", fnv1a32(value.as_bytes()))
}

/// The slugifier shared by paths, branches and keys: lower-case; every run of characters
/// outside `[a-z0-9-]` becomes one `-`; leading/trailing `-` trimmed; empty becomes `_`.
///
/// When the input held letters or digits outside ASCII (Korean task names are common), the
/// slug alone would collide (`버그` and `기능` both become `_`), so `-` plus the 8 hex digits
/// of the FNV-1a 32-bit hash of the original UTF-8 text is appended: `버그` → `_-f68f58ad`.
///
/// Idempotent: a value that already is a slug (see [`is_slug`]) is returned unchanged, so
/// `safe_segment(safe_segment(x)) == safe_segment(x)` and slugging twice on the way from an
/// answer to a branch cannot change the name.
pub fn safe_segment(value: &str) -> String {
    if is_slug(value) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut in_run = false;
    for c in value.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches('-');
    let mut slug = if trimmed.is_empty() {
        "_".to_string()
    } else {
        trimmed.to_string()
    };
    if value.chars().any(|c| !c.is_ascii() && c.is_alphanumeric()) {
        slug.push_str(&format!("-{:08x}", fnv1a32(value.as_bytes())));
    }
    slug
}

/// Whether `value` is something [`safe_segment`] returns: `[a-z0-9-]` without a leading or
/// trailing `-`, or the placeholder `_` alone or followed by a `-<8 hex>` hash suffix.
pub fn is_slug(value: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match value.strip_prefix('_') {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|h| {
            h.len() == 8
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }),
        None => plain(value),
    }
}

/// The longest id segment accepted (characters): longer ones make file and branch names
/// git and the file system refuse.
pub const MAX_SEGMENT_CHARS: usize = 128;

/// The longest path accepted (bytes), as the kernel's `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 4096;

/// The first characters of `value` for a message (a 10 KB id is not echoed whole).
pub fn excerpt(value: &str) -> String {
    const SHOWN: usize = 40;
    if value.chars().count() <= SHOWN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

/// The one check for an id segment (project, task group, task, stage-group id) from any
/// door: the exports, the CLI and the wizard. Refuses an empty or blank value, `.` and
/// `..`, `/`, `#`, NUL and other control characters, and more than [`MAX_SEGMENT_CHARS`]
/// characters. `name` is the argument's name as the caller knows it (`taskId`).
pub fn check_segment(name: &str, value: &str) -> Result<(), InvalidArg> {
    if value.trim().is_empty() {
        return Err(invalid(format!("{name} is empty; give a non-empty value")));
    }
    let chars = value.chars().count();
    if chars > MAX_SEGMENT_CHARS {
        return Err(invalid(format!(
            "{name} is {chars} characters long; the limit is {MAX_SEGMENT_CHARS}"
        )));
    }
    if value == "." || value == ".." {
        return Err(invalid(format!(
            "{name} {value:?} names a directory, not an id; give a name"
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| matches!(c, '/' | '#') || c.is_control())
    {
        return Err(invalid(format!(
            "{name} {} contains {bad:?}, which would make task keys ambiguous; use letters, \
             digits, `-` or spaces",
            excerpt(value)
        )));
    }
    Ok(())
}

/// [`check_segment`], except that a slug may be up to 9 characters longer: the slug of an
/// accepted id (its hash suffix `-<8 hex>` may push it over the limit).
fn check_id_or_slug(name: &str, value: &str) -> Result<(), InvalidArg> {
    if is_slug(value) && value.len() <= MAX_SEGMENT_CHARS + 9 {
        return Ok(());
    }
    check_segment(name, value)
}

/// The one check for a path argument: non-empty, no NUL, at most [`MAX_PATH_BYTES`] bytes.
pub fn check_path(name: &str, value: &str) -> Result<(), InvalidArg> {
    if value.trim().is_empty() {
        return Err(invalid(format!("{name} is empty; give a path")));
    }
    if value.len() > MAX_PATH_BYTES {
        return Err(invalid(format!(
            "{name} is {} bytes long; the limit is {MAX_PATH_BYTES}",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(invalid(format!("{name} {} contains NUL", excerpt(value))));
    }
    Ok(())
}

/// The one check for a directory argument a command reads or writes inside: a path
/// ([`check_path`]) naming an existing directory. Nothing creates a missing one implicitly:
/// a mistyped path must change nothing.
pub fn check_dir(name: &str, dir: &Path) -> Result<(), InvalidArg> {
    check_path(name, &dir.to_string_lossy())?;
    if dir.is_dir() {
        Ok(())
    } else if dir.exists() {
        Err(invalid(format!(
            "{name} {} is not a directory",
            dir.display()
        )))
    } else {
        Err(invalid(format!(
            "{name} {} does not exist; check the path",
            dir.display()
        )))
    }
}

/// The one check for a whole number from JS (where every number is a double): finite,
/// whole, within `0..=max`. `name` is the argument's name.
pub fn whole_number(name: &str, value: f64, max: u64) -> Result<u64, InvalidArg> {
    if value.is_finite() && value.fract() == 0.0 && value >= 0.0 && value <= max as f64 {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{name} {value} is not a whole number from 0 to {max}"
        )))
    }
}

/// A stage number from JS ([`whole_number`] up to `u32::MAX`).
pub fn stage_number(name: &str, value: f64) -> Result<u32, InvalidArg> {
    let n = whole_number(name, value, u64::from(u32::MAX))?;
    u32::try_from(n).map_err(|_| invalid(format!("{name} {value} is too large")))
}

/// The parts that name one registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts {
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    /// Implementation stage (`#stage-<N>`).
    pub stage: Option<u32>,
    /// Stage-group collector id (`#group-<ID>`).
    pub group_id: Option<String>,
}

impl KeyParts {
    /// Validates the parts ([`check_segment`] on every segment); stage and group are
    /// mutually exclusive. The segments are kept as given.
    pub fn new(
        project_id: &str,
        task_group: &str,
        task_id: &str,
        stage: Option<u32>,
        group_id: Option<&str>,
    ) -> Result<KeyParts, InvalidArg> {
        check_segment("projectId", project_id)?;
        check_segment("taskGroup", task_group)?;
        check_segment("taskId", task_id)?;
        if let Some(g) = group_id {
            check_segment("groupId", g)?;
        }
        if stage.is_some() && group_id.is_some() {
            return Err(invalid(
                "stageNumber and groupId are mutually exclusive: a key names either a stage \
                 worktree or a stage-group collector",
            ));
        }
        Ok(KeyParts {
            project_id: project_id.to_string(),
            task_group: task_group.to_string(),
            task_id: task_id.to_string(),
            stage,
            group_id: group_id.map(str::to_string),
        })
    }

    /// The same key with every segment slugged ([`safe_segment`]). Built from a validated
    /// key (`KeyParts::new(raw…)?.slugged()`), it is the key provisioning, handoff,
    /// reconcile and the wizard use, so the path and branch they compute agree.
    pub fn slugged(&self) -> KeyParts {
        KeyParts {
            project_id: safe_segment(&self.project_id),
            task_group: safe_segment(&self.task_group),
            task_id: safe_segment(&self.task_id),
            stage: self.stage,
            group_id: self.group_id.as_deref().map(safe_segment),
        }
    }

    /// The same task without its stage or group suffix.
    pub fn base(&self) -> KeyParts {
        KeyParts {
            stage: None,
            group_id: None,
            ..self.clone()
        }
    }

    /// `<project>/<group>/<task>` plus `#stage-<N>` or `#group-<ID>`.
    pub fn key(&self) -> String {
        let base = format!("{}/{}/{}", self.project_id, self.task_group, self.task_id);
        match (&self.stage, &self.group_id) {
            (Some(n), _) => format!("{base}#stage-{n}"),
            (None, Some(g)) => format!("{base}#group-{g}"),
            (None, None) => base,
        }
    }
}

impl KeyParts {
    /// Splits a key's text (`<project>/<group>/<task>` plus `#stage-<N>` or `#group-<ID>`)
    /// into its parts as written, without slugging or checking them; `None` when the text
    /// has another shape. `parse(k.key())` gives `k` back.
    pub fn parse(text: &str) -> Option<KeyParts> {
        let (base, suffix) = match text.split_once('#') {
            Some((b, s)) => (b, Some(s)),
            None => (text, None),
        };
        let mut segs = base.split('/');
        let (p, g, t) = (segs.next()?, segs.next()?, segs.next()?);
        if segs.next().is_some() || [p, g, t].iter().any(|s| s.is_empty()) {
            return None;
        }
        let (stage, group_id) = match suffix {
            None => (None, None),
            Some(s) => match (s.strip_prefix("stage-"), s.strip_prefix("group-")) {
                (Some(n), _) => (Some(n.parse::<u32>().ok()?), None),
                (None, Some(g)) if !g.is_empty() => (None, Some(g.to_string())),
                _ => return None,
            },
        };
        Some(KeyParts {
            project_id: p.to_string(),
            task_group: g.to_string(),
            task_id: t.to_string(),
            stage,
            group_id,
        })
    }

    /// Whether two keys name one entry once slugged (`Checkout 500` and `checkout-500`).
    pub fn same_entry(&self, other: &KeyParts) -> bool {
        self.slugged() == other.slugged()
    }
}

/// A key's text in the form provisioning registers it: every segment slugged
/// (`shop/pay/Checkout 500#stage-1` → `shop/pay/checkout-500#stage-1`). Text of another
/// shape is returned unchanged.
pub fn normalize_key(text: &str) -> String {
    KeyParts::parse(text).map_or_else(|| text.to_string(), |k| k.slugged().key())
}

/// `OKSTRA_HOME` (trimmed; empty or unset → `$HOME/.okstra`), unless `explicit` is given.
/// An explicit or `OKSTRA_HOME` value must be an absolute path: a relative one would put
/// the machine-global registry wherever the caller happens to stand. An `OKSTRA_HOME` that
/// is not UTF-8 is `E_INVALID_ARG`, never silently replaced.
pub fn okstra_home(explicit: Option<&str>) -> Result<PathBuf, InvalidArg> {
    let absolute = |name: &str, h: &str| {
        check_path(name, h)?;
        if Path::new(h).is_absolute() {
            Ok(PathBuf::from(h))
        } else {
            Err(invalid(format!(
                "{name} {} is relative; give an absolute path (the registry is machine-global)",
                excerpt(h)
            )))
        }
    };
    if let Some(h) = explicit.map(str::trim).filter(|h| !h.is_empty()) {
        return absolute("home", h);
    }
    // A value okstra cannot use (not UTF-8) is refused, never replaced by `$HOME/.okstra`:
    // that would put the registry somewhere the user did not ask for.
    match std::env::var("OKSTRA_HOME") {
        Ok(h) if !h.trim().is_empty() => return absolute("OKSTRA_HOME", h.trim()),
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(invalid(format!(
                "OKSTRA_HOME {:?} is not valid UTF-8; okstra cannot use it and does not fall \
                 back to $HOME/.okstra. Set OKSTRA_HOME to an absolute UTF-8 path (or unset \
                 it), or pass home",
                raw.to_string_lossy()
            )))
        }
        _ => {}
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".okstra"))
        .ok_or_else(|| invalid("neither OKSTRA_HOME nor HOME is set; set OKSTRA_HOME or pass home"))
}

/// `<root>/<project>/<group>/<task>` for a task; its stage and stage-group collector
/// worktrees lie beside it, never inside it: `<task>.stage-<N>` and `<task>.group-<ID>`.
/// Every segment is slugged, and a slug never holds a `.`, so no task id can produce a
/// sibling's name. Rows registered earlier (the Python helper nested them as
/// `<task>/stage-<N>`) keep the path they recorded: callers look a key up before computing.
pub fn compute_worktree_path(root: &Path, parts: &KeyParts) -> PathBuf {
    let task = safe_segment(&parts.task_id);
    let leaf = match (parts.stage, &parts.group_id) {
        (Some(n), _) => format!("{task}.stage-{n}"),
        (None, Some(g)) => format!("{task}.group-{}", safe_segment(g)),
        (None, None) => task,
    };
    root.join(safe_segment(&parts.project_id))
        .join(safe_segment(&parts.task_group))
        .join(leaf)
}

/// The branch prefix for a work category: bugfix→`fix`, feature→`feat`,
/// refactor→`refactor`, ops→`ops`, improvement→`improve`, anything else→`task`.
pub fn work_category_prefix(work_category: &str) -> &'static str {
    match work_category.trim().to_lowercase().as_str() {
        "bugfix" => "fix",
        "feature" => "feat",
        "refactor" => "refactor",
        "ops" => "ops",
        "improvement" => "improve",
        _ => "task",
    }
}

/// `<prefix>-<task>[-s<N>|.group-<ID>]`, task and group id slugged. The ids are checked like
/// key segments ([`check_segment`]).
///
/// A stage-group collector's suffix starts with `.`, which no slugged segment, prefix or
/// stage suffix contains, so no stage or task branch can ever equal a collector's branch
/// (the collector of stage 1 alone, group `s1`, is `…-login.group-s1`, beside stage 1's
/// `…-login-s1`).
pub fn compute_branch_name(
    work_category: &str,
    task_id: &str,
    stage: Option<u32>,
    group_id: Option<&str>,
) -> Result<String, InvalidArg> {
    if stage.is_some() && group_id.is_some() {
        return Err(invalid(
            "stageNumber and groupId are mutually exclusive in a branch name",
        ));
    }
    check_id_or_slug("taskId", task_id)?;
    if let Some(g) = group_id {
        check_id_or_slug("groupId", g)?;
    }
    let mut name = format!(
        "{}-{}",
        work_category_prefix(work_category),
        safe_segment(task_id)
    );
    if let Some(n) = stage {
        name.push_str(&format!("-s{n}"));
    } else if let Some(g) = group_id {
        name.push_str(".group-");
        name.push_str(&safe_segment(g));
    }
    Ok(name)
}

/// Joins a relative path from user input under `root`, refusing anything that would escape
/// it: absolute paths, `..`, NUL, or an empty path.
pub fn join_within(root: &Path, rel: &str) -> Result<PathBuf, InvalidArg> {
    if rel.is_empty() || rel.contains('\0') {
        return Err(invalid(format!(
            "path {rel:?} is empty or contains NUL; give a relative path inside {}",
            root.display()
        )));
    }
    let p = Path::new(rel);
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(invalid(format!(
                    "path {rel:?} is absolute or climbs out with `..`; give a relative path \
                     inside {}",
                    root.display()
                )))
            }
        }
    }
    Ok(root.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Coded;

    #[test]
    fn ascii_slugs() {
        assert_eq!(safe_segment("Fix Login/Page"), "fix-login-page");
        assert_eq!(safe_segment("--a__b--"), "a-b");
        assert_eq!(safe_segment(""), "_");
        assert_eq!(safe_segment("///"), "_");
        assert_eq!(safe_segment("ABC-123"), "abc-123");
        assert_eq!(safe_segment(".."), "_");
    }

    #[test]
    fn non_ascii_gets_a_stable_hash_suffix() {
        let a = safe_segment("버그");
        let b = safe_segment("기능");
        assert_ne!(a, b);
        assert!(a.starts_with("_-") && a.len() == 10, "{a}");
        // Fixed algorithm: the value never changes between releases.
        assert_eq!(a, format!("_-{:08x}", fnv1a32("버그".as_bytes())));
        assert_eq!(fnv1a32(b"a"), 0xe40c292c);
        assert_eq!(
            safe_segment("로그인 bug"),
            format!("bug-{:08x}", fnv1a32("로그인 bug".as_bytes()))
        );
        // Non-ASCII punctuation alone is not a letter: no suffix.
        assert_eq!(safe_segment("a—b"), "a-b");
    }

    #[test]
    fn slugging_is_idempotent() {
        for x in [
            "버그",
            "결제/환불",
            "Fix Login/Page",
            "",
            "_",
            "_-f68f58ad",
            "a_b",
            "로그인 bug",
            "--a--",
            "ÀÉ",
            "_x",
        ] {
            let once = safe_segment(x);
            assert_eq!(safe_segment(&once), once, "{x:?} → {once:?}");
            assert!(is_slug(&once), "{once:?}");
        }
        // The one visible change: an all-non-ASCII slug no longer loses its `_`.
        let k = safe_segment("버그");
        assert_eq!(safe_segment(&k), k);
        assert_eq!(
            compute_branch_name("bugfix", &k, Some(2), None).unwrap(),
            compute_branch_name("bugfix", "버그", Some(2), None).unwrap()
        );
        assert!(!is_slug("_-f68f58a") && !is_slug("-a") && !is_slug("A") && !is_slug(""));
    }

    #[test]
    fn one_check_for_segments_paths_numbers() {
        for bad in ["", "   ", ".", "..", "a/b", "a#b", "a\0b", "a\nb"] {
            assert_eq!(
                check_segment("taskId", bad).unwrap_err().code(),
                "E_INVALID_ARG"
            );
        }
        let long = "x".repeat(10_000);
        let e = check_segment("taskId", &long).unwrap_err().to_string();
        assert!(e.len() < 100 && e.contains("limit is 128"), "{e}");
        check_segment("taskId", &"가".repeat(MAX_SEGMENT_CHARS)).unwrap();
        assert!(compute_branch_name("", "", None, None).is_err());
        assert!(compute_branch_name("", "  ", None, None).is_err());
        assert!(compute_branch_name("", &long, None, None).is_err());
        assert!(check_path("projectRoot", &"/a".repeat(3000)).is_err());
        assert!(check_path("projectRoot", "").is_err());
        assert_eq!(stage_number("stageNumber", 3.0).unwrap(), 3);
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
            assert!(stage_number("stageNumber", bad).is_err(), "{bad}");
        }
        let k = KeyParts::new("Shop", "결제/환불", "버그", Some(1), None).map(|k| k.slugged());
        assert!(
            k.is_err(),
            "a `/` in a raw segment is refused before slugging"
        );
        let k = KeyParts::new("Shop", "결제", "버그", Some(1), None)
            .unwrap()
            .slugged();
        assert_eq!(k.project_id, "shop");
        assert_eq!(k.task_id, safe_segment("버그"));
        assert!(KeyParts::new("", "g", "t", None, None)
            .map(|k| k.slugged())
            .is_err());
    }

    #[test]
    fn relative_home_is_refused() {
        assert_eq!(
            okstra_home(Some("rel/home")).unwrap_err().code(),
            "E_INVALID_ARG"
        );
    }

    #[test]
    fn keys() {
        let k = KeyParts::new("p", "g", "t", Some(2), None).unwrap();
        assert_eq!(k.key(), "p/g/t#stage-2");
        assert_eq!(k.base().key(), "p/g/t");
        let g = KeyParts::new("p", "g", "t", None, Some("g1")).unwrap();
        assert_eq!(g.key(), "p/g/t#group-g1");
        for bad in ["", "a/b", "a#b", "a\0b"] {
            let e = KeyParts::new(bad, "g", "t", None, None).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_ARG");
        }
        assert!(KeyParts::new("p", "g", "t", Some(1), Some("x")).is_err());
    }

    #[test]
    fn paths_and_branches() {
        let root = Path::new("/r");
        let k = KeyParts::new("My Proj", "grp", "Task 1", Some(3), None).unwrap();
        assert_eq!(
            compute_worktree_path(root, &k),
            Path::new("/r/my-proj/grp/task-1.stage-3")
        );
        let g = KeyParts::new("p", "g", "t", None, Some("G 1")).unwrap();
        // Beside the task, and no task id can name a sibling: slugs never hold a `.`.
        for tricky in ["t.stage-1", "t.group-g", "..", "a.b"] {
            assert!(!safe_segment(tricky).contains('.'), "{tricky}");
        }
        assert_eq!(
            compute_worktree_path(root, &g),
            Path::new("/r/p/g/t.group-g-1")
        );
        assert_eq!(
            compute_branch_name("bugfix", "Login", None, None).unwrap(),
            "fix-login"
        );
        assert_eq!(
            compute_branch_name("Feature", "x", Some(2), None).unwrap(),
            "feat-x-s2"
        );
        assert_eq!(
            compute_branch_name("", "x", None, Some("g1")).unwrap(),
            "task-x.group-g1"
        );
        assert_eq!(
            compute_branch_name("improvement", "x", None, None).unwrap(),
            "improve-x"
        );
    }

    #[test]
    fn join_within_refuses_escapes() {
        let root = Path::new("/r");
        assert_eq!(join_within(root, "a/b").unwrap(), Path::new("/r/a/b"));
        for bad in ["../x", "/etc", "a/../../b", "", "a\0"] {
            assert!(join_within(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn explicit_home_wins() {
        assert_eq!(okstra_home(Some(" /h ")).unwrap(), Path::new("/h"));
    }
}
