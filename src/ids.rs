//! Identifiers and paths (SPEC §3): the slugifier, task keys, worktree paths, branch names
//! and where `OKSTRA_HOME` is.

use std::path::{Component, Path, PathBuf};

use crate::error::Coded;

/// Bad identifiers or paths built from user input.
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    /// An argument that cannot be used as given.
    #[error("{0}")]
    InvalidArg(String),
}

impl Coded for IdError {
    fn code(&self) -> &'static str {
        "E_INVALID_ARG"
    }
}

fn invalid(msg: impl Into<String>) -> IdError {
    IdError::InvalidArg(msg.into())
}

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
/// of the FNV-1a 32-bit hash of the original UTF-8 text is appended: `버그` → `_-5d8e7d77`.
pub fn safe_segment(value: &str) -> String {
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

fn check_key_segment(name: &str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(invalid(format!("{name} is empty; give a non-empty value")));
    }
    if let Some(bad) = value.chars().find(|c| matches!(c, '/' | '#' | '\0')) {
        return Err(invalid(format!(
            "{name} {value:?} contains {bad:?}, which would make task keys ambiguous; \
             pass the slugged segment (see safeSegment)"
        )));
    }
    Ok(())
}

impl KeyParts {
    /// Validates the parts: every segment non-empty and free of `/`, `#` and NUL; stage and
    /// group are mutually exclusive.
    pub fn new(
        project_id: &str,
        task_group: &str,
        task_id: &str,
        stage: Option<u32>,
        group_id: Option<&str>,
    ) -> Result<KeyParts, IdError> {
        check_key_segment("projectId", project_id)?;
        check_key_segment("taskGroup", task_group)?;
        check_key_segment("taskId", task_id)?;
        if let Some(g) = group_id {
            check_key_segment("groupId", g)?;
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

/// `OKSTRA_HOME` (trimmed; empty or unset → `$HOME/.okstra`), unless `explicit` is given.
pub fn okstra_home(explicit: Option<&str>) -> Result<PathBuf, IdError> {
    if let Some(h) = explicit.map(str::trim).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(h) = std::env::var("OKSTRA_HOME")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
    {
        return Ok(PathBuf::from(h));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".okstra"))
        .ok_or_else(|| invalid("neither OKSTRA_HOME nor HOME is set; set OKSTRA_HOME or pass home"))
}

/// `<OKSTRA_HOME>/worktrees`: the registry and every worktree live here.
pub fn worktrees_root(home: Option<&str>) -> Result<PathBuf, IdError> {
    Ok(okstra_home(home)?.join("worktrees"))
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

/// `<prefix>-<task>[-s<N>|-<ID>]`, task and group id slugged.
pub fn compute_branch_name(
    work_category: &str,
    task_id: &str,
    stage: Option<u32>,
    group_id: Option<&str>,
) -> Result<String, IdError> {
    if stage.is_some() && group_id.is_some() {
        return Err(invalid(
            "stageNumber and groupId are mutually exclusive in a branch name",
        ));
    }
    let mut name = format!(
        "{}-{}",
        work_category_prefix(work_category),
        safe_segment(task_id)
    );
    if let Some(n) = stage {
        name.push_str(&format!("-s{n}"));
    } else if let Some(g) = group_id {
        name.push('-');
        name.push_str(&safe_segment(g));
    }
    Ok(name)
}

/// Joins a relative path from user input under `root`, refusing anything that would escape
/// it: absolute paths, `..`, NUL, or an empty path.
pub fn join_within(root: &Path, rel: &str) -> Result<PathBuf, IdError> {
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
            "task-x-g1"
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
        assert_eq!(
            worktrees_root(Some("/h")).unwrap(),
            Path::new("/h/worktrees")
        );
    }
}
