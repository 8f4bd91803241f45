//! `assemble`: the stage-group collector branch and worktree.

use std::collections::BTreeSet;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{Oid, Repository};
use serde::Serialize;

use super::merge::{merge_chain, Item};
use super::{HandoffContext, HandoffError, Loaded};
use crate::context::Context;
use crate::error::{git_err, GitCause, GitError, InvalidArg};
use crate::ids::{safe_segment, KeyParts};
use crate::plan;
use crate::registry::Registry;
use crate::task_type::TaskType;
use crate::worktree::{self, journal, ProvisionRequest, ProvisionStatus};

/// What to assemble: the stages to release together and the task they belong to.
#[derive(Debug, Clone)]
pub struct AssembleRequest {
    pub ctx: HandoffContext,
    /// The selected stage numbers (any order; merged in dependency order).
    pub stages: Vec<u32>,
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    /// Picks the branch prefix, as for every worktree.
    pub work_category: String,
    /// Collector id (`#group-<ID>`); default `s<a>-<b>-…` from the stages in merge order.
    pub group_id: Option<String>,
}

/// One stage merged into the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeRecord {
    pub stage: u32,
    /// The stage's recorded head commit.
    pub commit: String,
    /// The two-parent merge commit that brought it in; empty when an earlier stage's
    /// merge already contained it.
    pub merge_commit: String,
}

/// The assembled collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assembled {
    pub branch: String,
    pub worktree_path: String,
    pub merges: Vec<MergeRecord>,
    /// `created` for a new collector, `reused` when the collector existed (re-run).
    pub status: AssembleStatus,
}

/// Whether [`assemble`] built the collector now or found it built (a re-run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssembleStatus {
    /// The collector worktree was provisioned by this call.
    Created,
    /// The collector existed; only what it lacked was merged.
    Reused,
}

/// Re-checks eligibility for the selection, preflights every merge in memory, then
/// provisions the collector worktree (`#group-<ID>`, branched from the task's
/// implementation base in the registry) and moves its branch onto the chain of merge
/// commits. A conflict is reported before anything is created; a failure after creation
/// removes and releases the collector again. Re-running for the same selection reuses the
/// collector and merges only what it lacks.
///
/// Errors: `E_INVALID_ARG`, `E_PLAN_INVALID`, `E_NOT_ELIGIBLE` (eligibility or closure),
/// `E_NOT_FOUND` (no implementation base), `E_MERGE_CONFLICT`, `E_GIT`, and provisioning's
/// and the registry's codes.
pub fn assemble(context: &Context, req: &AssembleRequest) -> Result<Assembled, HandoffError> {
    if req.stages.is_empty() {
        return Err(InvalidArg("select at least one stage to assemble".into()).into());
    }
    let loaded = req.ctx.load()?;
    let selection: BTreeSet<u32> = req.stages.iter().copied().collect();
    let order = merge_order(req, &loaded, &selection)?;
    let items = merge_items(&loaded, &order)?;
    let repo = &loaded.repo;
    let keys = Keys::of(req, &order)?;
    let reg = Registry::open(context);
    let base = implementation_base(&reg, &keys.task, repo)?;

    // A re-run continues from the existing collector's tip.
    let existing = reg
        .lookup(&keys.collector)?
        .filter(|e| e.is_active())
        .and_then(|e| repo.refname_to_id(&format!("refs/heads/{}", e.branch)).ok());
    let start = existing.unwrap_or(base);
    let branch_name = crate::ids::compute_branch_name(
        &req.work_category,
        &keys.task.task_id,
        None,
        Some(&safe_segment(&keys.group_id)),
    )?;
    let made = merge_chain(repo, start, &items, &branch_name)?;
    let target = made.iter().rev().find_map(|m| m.merge).unwrap_or(start);

    let (prov, created) = provision_collector(context, req, &keys, base, &selection)?;
    let undo =
        worktree::UndoCreation::new(created, context, &req.ctx.project_root, &keys.collector);
    move_journaled(&reg, &keys.collector, &prov, start, target, created)?;
    undo.keep();
    let tip = repo
        .find_commit(target)
        .map_err(git_err("find commit", repo.path()))?;
    let merges = made
        .iter()
        .map(|m| MergeRecord {
            stage: m.stage,
            commit: m.commit.to_string(),
            merge_commit: m
                .merge
                .or_else(|| merge_of(&tip, m.commit))
                .map(|o| o.to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Assembled {
        branch: prov.branch,
        worktree_path: prov.path,
        merges,
        status: if created {
            AssembleStatus::Created
        } else {
            AssembleStatus::Reused
        },
    })
}

/// The selected stages in merge (dependency) order, after checking that each is in the
/// plan and eligible with this selection.
fn merge_order(
    req: &AssembleRequest,
    loaded: &Loaded,
    selection: &BTreeSet<u32>,
) -> Result<Vec<u32>, HandoffError> {
    if let Some(n) = selection.iter().find(|n| loaded.map.get(**n).is_none()) {
        let known: Vec<String> = loaded
            .map
            .stages
            .iter()
            .map(|s| s.number.to_string())
            .collect();
        return Err(HandoffError::InvalidArg(InvalidArg(format!(
            "stage {n} is not in the approved plan's Stage Map (stages {})",
            known.join(", ")
        ))));
    }
    let reasons: Vec<String> = loaded
        .eligibility(Some(selection))
        .into_iter()
        .filter(|s| selection.contains(&s.number))
        .flat_map(|s| s.reasons)
        .collect();
    if !reasons.is_empty() {
        return Err(HandoffError::NotEligible { reasons });
    }
    let selected: Vec<plan::Stage> = loaded
        .map
        .stages
        .iter()
        .filter(|s| selection.contains(&s.number))
        .cloned()
        .collect();
    plan::dependency_order(&selected).map_err(|cycle| HandoffError::PlanInvalid {
        path: req.ctx.approved_plan.clone(),
        problems: vec![format!("stages {cycle:?} depend on each other")],
    })
}

/// Each stage in `order` with its recorded head commit and title.
fn merge_items<'a>(loaded: &'a Loaded, order: &[u32]) -> Result<Vec<Item<'a>>, HandoffError> {
    let heads = loaded.done_heads();
    order
        .iter()
        .map(|n| {
            let head = heads.get(n).map(String::as_str).unwrap_or("");
            let commit = Oid::from_str(head).map_err(|_| HandoffError::NotEligible {
                reasons: vec![format!("Stage {n} has no valid head_commit.")],
            })?;
            let title = loaded.map.get(*n).map_or("", |s| s.title.as_str());
            Ok(Item {
                stage: *n,
                commit,
                title,
            })
        })
        .collect()
}

/// The task's key, the collector's id (default `s<a>-<b>-…` in merge order) and key.
struct Keys {
    task: KeyParts,
    group_id: String,
    collector: KeyParts,
}

impl Keys {
    fn of(req: &AssembleRequest, order: &[u32]) -> Result<Keys, HandoffError> {
        let task =
            KeyParts::new(&req.project_id, &req.task_group, &req.task_id, None, None)?.slugged();
        let group_id = req
            .group_id
            .clone()
            .filter(|g| !g.trim().is_empty())
            .unwrap_or_else(|| {
                let parts: Vec<String> = order.iter().map(u32::to_string).collect();
                format!("s{}", parts.join("-"))
            });
        let collector = KeyParts::new(
            &task.project_id,
            &task.task_group,
            &task.task_id,
            None,
            Some(&safe_segment(&group_id)),
        )?;
        Ok(Keys {
            task,
            group_id,
            collector,
        })
    }
}

/// The task's implementation base from the registry, which must be a commit of `repo`.
fn implementation_base(
    reg: &Registry,
    task: &KeyParts,
    repo: &Repository,
) -> Result<Oid, HandoffError> {
    let base_hex = reg.get_implementation_base(task)?.ok_or_else(|| {
        HandoffError::NotFound(format!(
            "task {} has no implementation base in the registry; it is pinned when the first \
             implementation stage runs (or with `okstra registry set-implementation-base`)",
            task.key()
        ))
    })?;
    Oid::from_str(&base_hex)
        .ok()
        .filter(|o| repo.find_commit(*o).is_ok())
        .ok_or_else(|| {
            HandoffError::NotFound(format!(
                "the implementation base {base_hex} of task {} is not a commit in the \
                 repository; re-pin it with `okstra git-reconcile --reset-anchor <sha> --apply`",
                task.key()
            ))
        })
}

/// Provisions (or reuses) the collector worktree, branched from the implementation base;
/// returns it and whether it was created now.
fn provision_collector(
    context: &Context,
    req: &AssembleRequest,
    keys: &Keys,
    base: Oid,
    selection: &BTreeSet<u32>,
) -> Result<(worktree::Provisioned, bool), HandoffError> {
    let prov = worktree::provision(
        context,
        &ProvisionRequest {
            task_type: TaskType::ReleaseHandoff.as_str().into(),
            project_root: req.ctx.project_root.clone(),
            project_id: keys.task.project_id.clone(),
            task_group: keys.task.task_group.clone(),
            task_id: keys.task.task_id.clone(),
            work_category: req.work_category.clone(),
            base_ref: Some(base.to_string()),
            stage: None,
            group_id: Some(keys.group_id.clone()),
            branch: None,
            stages: Some(selection.iter().copied().collect()),
        },
    )?;
    let created = match prov.status {
        ProvisionStatus::Created => true,
        ProvisionStatus::Reused => false,
        _ => {
            return Err(HandoffError::InvalidArg(InvalidArg(format!(
                "cannot assemble a collector: {}",
                prov.note
            ))))
        }
    };
    Ok((prov, created))
}

/// [`move_branch`] under a journal record (`pending/assemble-<fnv1a(key)>.json`), holding the
/// collector key's lock: a process killed mid-checkout leaves the record, and the next call
/// (or `okstra registry repair`) knows the half-written checkout is okstra's own and resets
/// it by force instead of refusing it as local changes.
fn move_journaled(
    reg: &Registry,
    key: &KeyParts,
    prov: &worktree::Provisioned,
    start: Oid,
    target: Oid,
    created: bool,
) -> Result<(), HandoffError> {
    let _lock = worktree::locks::lock_key(reg, key)?;
    let record = journal::file(reg, journal::Op::Assemble, &key.key());
    let interrupted = journal::read::<journal::Move>(&record)?.is_some();
    let path = Path::new(&prov.path);
    let m = journal::Move {
        task_key: key.key(),
        path: path.to_path_buf(),
        branch: prov.branch.clone(),
        from: start.to_string(),
        to: target.to_string(),
    };
    if interrupted {
        journal::undo_move(&m);
    }
    journal::write(&record, &m)?;
    move_branch(path, &prov.branch, start, target, created || interrupted)?;
    journal::clear(&record)?;
    Ok(())
}

/// Points the collector branch checked out at `path` from `from` to `to` and updates the
/// checkout. A fresh collector is checked out by force (it has no work of its own); a
/// reused one safely, so local edits stop the move instead of being overwritten.
fn move_branch(
    path: &Path,
    branch: &str,
    from: Oid,
    to: Oid,
    fresh: bool,
) -> Result<(), HandoffError> {
    let wt = Repository::open(path).map_err(git_err("open", path))?;
    let refname = format!("refs/heads/{branch}");
    let current = wt
        .refname_to_id(&refname)
        .map_err(git_err("resolve branch", path))?;
    if current == to {
        return Ok(());
    }
    if !fresh && current != from {
        return Err(GitError::new(
            "update collector",
            path,
            GitCause::State(format!(
                "branch {branch} moved while assembling (now {current}); retry"
            )),
        )
        .into());
    }
    let target = wt
        .find_object(to, None)
        .map_err(git_err("find commit", path))?;
    let mut co = CheckoutBuilder::new();
    if fresh {
        co.force();
    } else {
        co.safe();
    }
    wt.checkout_tree(&target, Some(&mut co))
        .map_err(git_err("checkout", path))?;
    wt.find_reference(&refname)
        .and_then(|mut r| r.set_target(to, "okstra handoff assemble"))
        .map_err(git_err("update branch", path))?;
    Ok(())
}

/// The first-parent merge commit whose second parent is `stage_commit`, walking back from
/// `tip` (how a re-run finds the merges an earlier run made).
fn merge_of(tip: &git2::Commit<'_>, stage_commit: Oid) -> Option<Oid> {
    let mut cur = tip.clone();
    for _ in 0..10_000 {
        if cur.parent_count() == 2 && cur.parent_id(1).ok() == Some(stage_commit) {
            return Some(cur.id());
        }
        cur = cur.parent(0).ok()?;
    }
    None
}
