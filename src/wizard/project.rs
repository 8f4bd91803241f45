//! What the wizard reads from (and, for plan approval, writes to) the project: existing
//! tasks, their manifests, git branches and refs, the latest implementation-planning report,
//! its Stage Map and approval, and the registry entry for worktree reuse. Reads happen when
//! asked and are cached for one `next`/`submit` call.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::state::WizardState;
use super::{Rejection, WizardError};
use crate::error::{Code, Coded};
use crate::fsio;
use crate::ids;
use crate::plan;
use crate::registry::Registry;
use crate::report;
use crate::safe_open;
use crate::task_type::TaskType;
use crate::worktree;

/// Task roots, newest layout first: `.okstra/tasks` then the legacy `.project-docs/okstra/tasks`.
const TASK_ROOTS: [&str; 2] = [".okstra/tasks", ".project-docs/okstra/tasks"];

/// Where the worktree for this run comes from (drives base-ref and the branch confirm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorktreeDecision {
    /// The project is not in a git repository: work happens in the project root.
    NotGit,
    /// The project root is itself a linked worktree: it is used as is.
    InWorktree,
    /// The registry holds an active worktree for the task key (`base`: its recorded base,
    /// 12 hex digits).
    Reused {
        path: String,
        branch: String,
        base: String,
    },
    /// A new branch and worktree will be created at `base` (`<ref> @ <12 hex>`).
    New {
        path: String,
        branch: String,
        base: String,
    },
}

/// The project a wizard started in `start` is about: the top of the git worktree holding
/// `start`; outside git, the nearest ancestor holding `.okstra/` (or the legacy
/// `.project-docs/okstra/`); else `start` itself. Started from `shop/src`, the project is
/// `shop`, so its tasks are found and its state file is `shop/.okstra/wizard-state.json`.
pub fn find_root(start: &Path) -> PathBuf {
    // Found as provisioning finds it (the git CLI's ownership and format rules).
    if let Some(repo) = crate::worktree::git::discover(start) {
        if let Some(w) = repo.workdir() {
            let w = w.canonicalize().unwrap_or_else(|_| w.to_path_buf());
            return w.components().as_path().to_path_buf();
        }
    }
    start
        .ancestors()
        .find(|a| a.join(".okstra").is_dir() || a.join(".project-docs/okstra").is_dir())
        .unwrap_or(start)
        .to_path_buf()
}

/// One `next`/`submit` call's view of the project.
pub struct Project<'a> {
    state: &'a WizardState,
    /// The tasks listed, and what the listing skipped.
    tasks: OnceCell<(Vec<String>, Vec<String>)>,
    repo_kind: OnceCell<Option<bool>>,
}

impl<'a> Project<'a> {
    /// A view for `state`'s project root.
    pub fn new(state: &'a WizardState) -> Project<'a> {
        Project {
            state,
            tasks: OnceCell::new(),
            repo_kind: OnceCell::new(),
        }
    }

    fn root(&self) -> &Path {
        Path::new(&self.state.project_root)
    }

    /// Existing tasks as `group/task`, sorted, from both task roots.
    pub fn tasks(&self) -> &[String] {
        &self.listing().0
    }

    /// What the task listing left out because it is a symlink (or a task root that is not
    /// a plain directory), as paths relative to the project root: the task pick names them,
    /// so a task never vanishes from the list without a word.
    pub fn skipped_tasks(&self) -> &[String] {
        &self.listing().1
    }

    fn listing(&self) -> &(Vec<String>, Vec<String>) {
        self.tasks.get_or_init(|| {
            let mut out = Vec::new();
            let mut skipped = Vec::new();
            // Only real directories count: a symlink at a task root, a group or a task
            // (which could list a directory outside the repository) is skipped, and named.
            let real_dir = |e: &std::fs::DirEntry, under: &str, skipped: &mut Vec<String>| {
                let t = e.file_type();
                if t.as_ref().is_ok_and(|t| t.is_symlink()) {
                    skipped.push(format!("{under}/{}", e.file_name().to_string_lossy()));
                }
                t.is_ok_and(|t| t.is_dir())
            };
            for rel in TASK_ROOTS {
                match safe_open::dir_exists_in(self.root(), Path::new(rel)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => {
                        skipped.push(rel.to_string());
                        continue;
                    }
                }
                let Ok(groups) = std::fs::read_dir(self.root().join(rel)) else {
                    continue;
                };
                let groups: Vec<_> = groups
                    .flatten()
                    .filter(|g| real_dir(g, rel, &mut skipped))
                    .collect();
                for g in groups {
                    let Ok(tasks) = std::fs::read_dir(g.path()) else {
                        continue;
                    };
                    let under = format!("{rel}/{}", g.file_name().to_string_lossy());
                    let tasks: Vec<_> = tasks
                        .flatten()
                        .filter(|t| real_dir(t, &under, &mut skipped))
                        .collect();
                    for t in tasks {
                        let key = format!(
                            "{}/{}",
                            g.file_name().to_string_lossy(),
                            t.file_name().to_string_lossy()
                        );
                        if !out.contains(&key) {
                            out.push(key);
                        }
                    }
                }
            }
            out.sort();
            (out, skipped)
        })
    }

    /// The directory of task `group/task`, if it exists under either task root.
    /// Reached without symlinks (a task root that is a symlink is not the repository's).
    pub fn task_root(&self, group: &str, task: &str) -> Option<PathBuf> {
        TASK_ROOTS
            .iter()
            .map(|rel| Path::new(rel).join(group).join(task))
            .find(|rel| safe_open::dir_exists_in(self.root(), rel).unwrap_or(false))
            .map(|rel| self.root().join(rel))
    }

    /// The task's `task-manifest.json`; `None` when missing or when it cannot be used (a
    /// symlink, a FIFO: never opened; over its bound; not a JSON object). Picking a task
    /// whose manifest cannot be used is refused by [`Project::check_manifest`], so the
    /// wizard never goes on as if such a manifest were absent.
    fn manifest(&self, group: &str, task: &str) -> Option<Value> {
        self.manifest_checked(group, task).ok().flatten()
    }

    /// The task's manifest: `Ok(None)` when the task or its manifest does not exist, else
    /// the parsed object or a rejection naming the file and why it cannot be used
    /// (`E_UNSAFE_FILE`, `E_FILE_TOO_LARGE`, or `E_INVALID_ARG` when it is not a JSON object).
    fn manifest_checked(&self, group: &str, task: &str) -> Result<Option<Value>, Rejection> {
        let Some(task_root) = self.task_root(group, task) else {
            return Ok(None);
        };
        let shown = task_root
            .join("task-manifest.json")
            .to_string_lossy()
            .into_owned();
        let invalid = |code: Code, detail: String| {
            Rejection::new("task_manifest_invalid", code)
                .var("path", &shown)
                .var("detail", &detail)
        };
        let bytes = match read_manifest(&task_root) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(e) => return Err(invalid(e.code(), e.to_string())),
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => Ok(Some(v)),
            Ok(_) => Err(invalid(Code::InvalidArg, "not a JSON object".into())),
            Err(e) => Err(invalid(Code::InvalidArg, e.to_string())),
        }
    }

    /// Refuses continuing task `group/task` when its `task-manifest.json` exists but cannot
    /// be used (docs/security.md: a repository's file is refused loudly, never taken as
    /// absent): the rejection names the file and the reason.
    pub fn check_manifest(&self, group: &str, task: &str) -> Result<(), Rejection> {
        self.manifest_checked(group, task).map(|_| ())
    }

    /// The existing task's brief (`taskBriefPath`, resolved against the project root) when
    /// the file exists.
    pub fn existing_brief(&self, group: &str, task: &str) -> Option<String> {
        let m = self.manifest(group, task)?;
        let rel = m.get("taskBriefPath")?.as_str()?.trim();
        if rel.is_empty() {
            return None;
        }
        self.resolve_file(rel)
    }

    /// The existing task's `workCategory`, when its manifest records one.
    pub fn existing_work_category(&self, group: &str, task: &str) -> Option<String> {
        let m = self.manifest(group, task)?;
        let c = m.get("workCategory")?.as_str()?.trim();
        (!c.is_empty()).then(|| c.to_string())
    }

    /// `rel` resolved against the project root when it names an existing file.
    pub fn resolve_file(&self, rel: &str) -> Option<String> {
        let p = Path::new(rel);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root().join(p)
        };
        abs.is_file().then(|| abs.to_string_lossy().into_owned())
    }

    fn repo(&self) -> Option<git2::Repository> {
        crate::worktree::git::discover(self.root())
    }

    /// `None` outside git; `Some(true)` when the root is a linked (non-main) worktree.
    fn repo_kind(&self) -> Option<bool> {
        *self
            .repo_kind
            .get_or_init(|| self.repo().map(|r| r.is_worktree()))
    }

    /// Whether the project is in a git repository.
    pub fn is_git(&self) -> bool {
        self.repo_kind().is_some()
    }

    /// Local branch names, the checked-out one first.
    pub fn branches(&self) -> Vec<String> {
        let Some(repo) = self.repo() else {
            return Vec::new();
        };
        let head = repo
            .head()
            .ok()
            .and_then(|h| h.shorthand().ok().map(str::to_string));
        let mut names: Vec<String> = repo
            .branches(Some(git2::BranchType::Local))
            .map(|it| {
                it.flatten()
                    .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        if let Some(h) = head {
            if let Some(i) = names.iter().position(|n| *n == h) {
                let first = names.remove(i);
                names.insert(0, first);
            }
        }
        names
    }

    /// Resolves `reference` to a commit, or says why git cannot.
    pub fn resolve_ref(&self, reference: &str) -> Result<String, String> {
        let repo = self
            .repo()
            .ok_or_else(|| "not a git repository".to_string())?;
        let obj = repo
            .revparse_single(reference)
            .map_err(|e| e.message().to_string())?;
        let commit = obj.peel_to_commit().map_err(|e| e.message().to_string())?;
        Ok(commit.id().to_string())
    }

    /// Where the worktree comes from for `req` (the run's provisioning request,
    /// [`super::ctx::Ctx::provision_request`]).
    ///
    /// This is the wizard's one preview of provisioning: path, branch and outcome come from
    /// `worktree::preview`, the plan `worktree::provision` itself runs, so what the wizard
    /// confirms is what provisioning makes.
    pub fn worktree_decision(
        &self,
        req: &worktree::ProvisionRequest,
    ) -> Result<WorktreeDecision, WizardError> {
        match self.repo_kind() {
            None => return Ok(WorktreeDecision::NotGit),
            Some(true) => return Ok(WorktreeDecision::InWorktree),
            Some(false) => {}
        }
        let context = self.state.context()?;
        let base_label = || match worktree::base_label(self.root(), req.base_ref.as_deref()) {
            Ok(label) => label.unwrap_or_default(),
            // An unknown ref is refused when it is answered; one deleted since shows as is.
            Err(_) => req.base_ref.clone().unwrap_or_default(),
        };
        // Provisioning's own plan: the same path and branch (a group-qualified name when
        // another key owns the computed one, a released key's recorded branch, …).
        if let Ok(p) = worktree::preview(&context, req) {
            return Ok(match p.status {
                worktree::ProvisionStatus::Reused => WorktreeDecision::Reused {
                    path: p.path,
                    branch: p.branch,
                    base: p.base_ref.chars().take(12).collect(),
                },
                _ => WorktreeDecision::New {
                    path: p.path,
                    branch: p.branch,
                    base: base_label(),
                },
            });
        }
        // Provisioning would refuse (its error is reported then): show the computed names.
        let key = worktree::key_of(req)?;
        let reg = Registry::open(&context);
        if let Some(e) = reg.lookup(&key)?.filter(|e| e.is_active()) {
            let base: String = e.base_ref.chars().take(12).collect();
            return Ok(WorktreeDecision::Reused {
                path: e.worktree_path,
                branch: e.branch,
                base,
            });
        }
        Ok(WorktreeDecision::New {
            path: ids::compute_worktree_path(reg.root(), &key)
                .to_string_lossy()
                .into_owned(),
            branch: ids::compute_branch_name(
                &req.work_category,
                &key.task_id,
                key.stage,
                key.group_id.as_deref(),
            )?,
            base: base_label(),
        })
    }

    /// The task's reports directory (relative to the project root) when it is not listed
    /// because a symlink (or a file) is on the way to it: the plan prompt names it, so the
    /// latest plan never goes missing without a word.
    pub fn plan_reports_skipped(&self, group: &str, task: &str) -> Option<String> {
        let task_root = self.task_root(group, task)?;
        let reports = Path::new("runs/implementation-planning/reports");
        safe_open::dir_exists_in(&task_root, reports).err()?;
        let shown = task_root.join(reports);
        Some(
            shown
                .strip_prefix(self.root())
                .unwrap_or(&shown)
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// The latest implementation-planning report of `group/task` (highest NNN).
    pub fn latest_plan(&self, group: &str, task: &str) -> Option<String> {
        let task_root = self.task_root(group, task)?;
        let reports = Path::new("runs/implementation-planning/reports");
        // Listed only when reached without symlinks (never a directory outside).
        if !safe_open::dir_exists_in(&task_root, reports).unwrap_or(false) {
            return None;
        }
        let dir = task_root.join(reports);
        let prefix = "final-report-implementation-planning-";
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n: u32 = name
                    .strip_prefix(prefix)?
                    .strip_suffix(".md")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .max_by_key(|(n, _)| *n)
            .map(|(_, p)| p.to_string_lossy().into_owned())
    }

    /// The PR template the repository ships, if any.
    pub fn repo_pr_template(&self) -> Option<String> {
        [
            ".github/pull_request_template.md",
            ".github/PULL_REQUEST_TEMPLATE.md",
            "docs/pull_request_template.md",
            "pull_request_template.md",
        ]
        .iter()
        .find_map(|rel| self.resolve_file(rel))
    }
}

/// The bytes of `task-manifest.json` in the task directory `task_root`, through
/// [`safe_open`] within [`safe_open::TASK_MANIFEST`]; `Ok(None)` when there is none.
pub(crate) fn read_manifest(task_root: &Path) -> Result<Option<Vec<u8>>, fsio::FsError> {
    safe_open::read_in(
        task_root,
        Path::new("task-manifest.json"),
        safe_open::TASK_MANIFEST,
    )
}

/// Marks the plan approved (`meta.approvalStatus = "approved"`) keeping the rest of the
/// data.json; does nothing when it already is. A missing or malformed data.json is a
/// rejected answer; failing to lock or write it is an error of the call (`E_LOCK_TIMEOUT`,
/// `E_IO`), not a bad answer. The lock is waited for at most `lock_timeout`.
pub fn ensure_plan_approved(
    plan_md: &str,
    lock_timeout: Duration,
) -> Result<Result<(), Rejection>, WizardError> {
    let data = report::data_path(Path::new(plan_md));
    let shown = data.to_string_lossy().into_owned();
    let missing = || Rejection::new("plan_data_missing", Code::NotFound).var("path", &shown);
    let invalid = |detail: String| {
        Rejection::new("plan_data_invalid", Code::InvalidArg)
            .var("path", &shown)
            .var("detail", &detail)
    };
    // Read-modify-write under a lock on the plan's directory, so a concurrent writer's
    // change is never lost.
    if data.symlink_metadata().is_err() {
        return Ok(Err(missing()));
    }
    let _guard = fsio::LockGuard::acquire_dir(fsio::dir_of(&data), lock_timeout)?;
    let Some(bytes) = safe_open::read_file(&data, safe_open::REPORT_DATA)? else {
        return Ok(Err(missing()));
    };
    let mut doc: Value = match serde_json::from_slice(&bytes) {
        Ok(doc) => doc,
        Err(e) => return Ok(Err(invalid(e.to_string()))),
    };
    let Some(obj) = doc.as_object_mut() else {
        return Ok(Err(invalid("not a JSON object".into())));
    };
    let meta = obj
        .entry("meta")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return Ok(Err(invalid("meta is not an object".into())));
    };
    if meta.get("approvalStatus").and_then(Value::as_str) == Some("approved") {
        return Ok(Ok(()));
    }
    meta.insert("approvalStatus".into(), Value::String("approved".into()));
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    fsio::atomic_write(&data, text.as_bytes())?;
    Ok(Ok(()))
}

/// The plan's Stage Map (stages and what is wrong with it); empty when the plan cannot be
/// read.
pub fn plan_stage_map(plan_md: &str) -> plan::StageMap {
    plan::read_plan(Path::new(plan_md))
        .map(|text| plan::parse_stage_map(&text))
        .unwrap_or_default()
}

/// Accepts a plan report whose `.data.json` sibling exists, is JSON, and — when it names
/// its task type (`taskType` at the top level or under `meta`) — is an
/// implementation-planning report.
pub fn check_plan(plan_md: &str) -> Result<(), Rejection> {
    let data = report::data_path(Path::new(plan_md));
    let shown = data.to_string_lossy().into_owned();
    let missing = || Rejection::new("plan_data_missing", Code::NotFound).var("path", &shown);
    let bytes = match safe_open::read_file(&data, safe_open::REPORT_DATA) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(missing()),
        // A symlink, FIFO or device, or a file over its bound: refused with its own code.
        Err(e) => {
            return Err(Rejection::new("plan_data_invalid", e.code())
                .var("path", &shown)
                .var("detail", &e.to_string()))
        }
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Rejection::new("plan_data_invalid", Code::InvalidArg)
            .var("path", &shown)
            .var("detail", &e.to_string())
    })?;
    let task_type = report::field(&doc, "taskType").and_then(Value::as_str);
    match task_type {
        Some(t) if t != TaskType::ImplementationPlanning.as_str() => {
            Err(Rejection::new("plan_wrong_type", Code::InvalidArg)
                .var("path", plan_md)
                .var("value", t))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod error_code_tests {
    use super::ensure_plan_approved;
    use crate::error::{Code, Coded};
    use std::process::Command;

    fn mount(args: &[&str]) -> bool {
        Command::new("mount")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Approving a plan whose data.json cannot be written is an I/O failure (`E_IO`, the
    /// write's own code), not a bad file (`E_INVALID_ARG`, what it used to report).
    #[test]
    fn a_failed_write_keeps_its_own_code() {
        let dir = std::env::temp_dir().join(format!("okstra-ro-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_string_lossy().into_owned();
        if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs", &d]) {
            eprintln!("skipped: cannot mount tmpfs (needs root)");
            return;
        }
        std::fs::write(dir.join("plan.md"), "# plan\n").unwrap();
        std::fs::write(dir.join("plan.data.json"), "{\"meta\": {}}\n").unwrap();
        let remounted = mount(&["-o", "remount,ro", &d]);
        let plan = dir.join("plan.md").to_string_lossy().into_owned();
        let result = ensure_plan_approved(&plan, std::time::Duration::from_secs(5));
        mount(&["-o", "remount,rw", &d]);
        let _ = Command::new("umount").arg(&d).status();
        let _ = std::fs::remove_dir(&dir);
        assert!(remounted, "remount read-only failed");
        let r = result.expect_err("a read-only data.json cannot be approved");
        assert_eq!(r.code(), Code::Io, "{r:?}");
    }
}
