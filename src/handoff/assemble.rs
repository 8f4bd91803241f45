//! `assemble`: the stage-group collector branch and worktree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use serde::Serialize;

use super::merge::{merge_chain, Engine, Item};
use super::{chain, collector, HandoffContext, HandoffError, Loaded};
use crate::context::Context;
use crate::error::InvalidArg;
use crate::ids::{safe_segment, KeyParts};
use crate::plan;
use crate::registry::Registry;
use crate::task_type::TaskType;
use crate::worktree::{self, ProvisionRequest, ProvisionStatus};

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
    /// Set when a re-run rebuilt the collector branch instead of only adding to it (a
    /// stage's head changed, say after a rebase): the merges it replaced. The branch then
    /// holds none of the replaced merges (nor a rebased stage's old commits).
    pub rebuilt: Option<Rebuilt>,
}

/// What a re-run of [`assemble`] rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rebuilt {
    /// The collector branch's tip before this call.
    pub previous_tip: String,
    /// The earlier merges no longer on the branch, oldest first.
    pub replaced: Vec<MergeRecord>,
}

/// Whether [`assemble`] built the collector now or found it built (a re-run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssembleStatus {
    /// The collector worktree was provisioned by this call.
    Created,
    /// The collector existed; it was brought to the stages' current heads.
    Reused,
}

/// Re-checks eligibility for the selection, merges the stages' recorded heads one after
/// another with git itself (`git merge-tree --write-tree`, see the merge module) onto the
/// task's implementation base, then provisions the collector worktree (`#group-<ID>`) with
/// `git worktree add` at that base and brings it to the last merge with `git merge
/// --ff-only` in the collector, so its checkout is git's own (filters such as LFS,
/// `working-tree-encoding`, sparse checkout, hooks). A conflict is reported before anything
/// is created; a failure after creation removes and releases the collector again.
///
/// Re-running is safe. An existing collector is first checked: with uncommitted or
/// untracked changes, with another branch checked out, or with commits on its branch that
/// are not okstra's merges, nothing is changed (`E_COLLECTOR_CHANGED`). Otherwise the merges
/// of the earlier run are kept as long as they merged the stages' current heads in the same
/// order; from the first that does not, the branch is rebuilt (`rebuilt` says what was
/// replaced) and the checkout moved with `git checkout -B`, which never overwrites local
/// changes. No journal record is kept: the only change to an existing collector is that one
/// git command, and a half-done checkout shows as changes the next call refuses to touch.
///
/// Errors: `E_INVALID_ARG`, `E_PLAN_INVALID`, `E_NOT_ELIGIBLE` (eligibility or closure),
/// `E_NOT_FOUND` (no implementation base), `E_MERGE_CONFLICT`, `E_COLLECTOR_CHANGED`,
/// `E_GIT_REQUIRED` (no git ≥ 2.38), `E_GIT`, and provisioning's and the registry's codes.
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
    // The task's row as every door finds it: slugged, or the raw text's when only that
    // one exists (a row the Python helper wrote).
    let raw = KeyParts::new(&req.project_id, &req.task_group, &req.task_id, None, None)?;
    let base = implementation_base(&reg, &reg.resolve(&raw)?, repo)?;
    let engine = Engine::new(repo.workdir().unwrap_or(repo.path()))?;
    let branch_name = crate::ids::compute_branch_name(
        &req.work_category,
        &keys.task.task_id,
        None,
        Some(&safe_segment(&keys.group_id)),
    )?;

    // An existing collector is checked before anything is computed or changed.
    let existing = existing_collector(&reg, &keys.collector, &engine, repo)?;

    let old = existing
        .as_ref()
        .map(|(tip, path)| (tip.as_str(), path.as_path()));
    let plan = chain::plan(repo, &engine, old, &base, &items)?;
    let mut made = plan.kept;
    made.extend(merge_chain(
        &engine,
        &plan.start,
        &items[plan.next..],
        &items,
        &branch_name,
    )?);
    let target = made
        .iter()
        .rev()
        .find_map(|m| m.merge.clone())
        .unwrap_or_else(|| plan.start.clone());

    let (prov, created) = provision_collector(context, req, &keys, &base, &selection)?;
    let undo =
        worktree::UndoCreation::new(created, context, &req.ctx.project_root, &keys.collector);
    {
        let _lock = worktree::locks::lock_key(&reg, &keys.collector)?;
        let path = Path::new(&prov.path);
        let from = match (&existing, created) {
            (Some((tip, _)), false) => tip.clone(),
            _ => base.clone(),
        };
        collector::move_to(&engine, path, &prov.branch, &from, &target, !created)?;
    }
    undo.keep();
    let rebuilt = match &existing {
        Some((tip, _)) if !created && !plan.dropped.is_empty() => Some(Rebuilt {
            previous_tip: tip.clone(),
            replaced: plan.dropped,
        }),
        _ => None,
    };
    Ok(Assembled {
        branch: prov.branch,
        worktree_path: prov.path,
        merges: made
            .into_iter()
            .map(|m| MergeRecord {
                stage: m.stage,
                commit: m.commit,
                merge_commit: m.merge.unwrap_or_default(),
            })
            .collect(),
        status: if created {
            AssembleStatus::Created
        } else {
            AssembleStatus::Reused
        },
        rebuilt,
    })
}

/// The active collector of `key` whose directory exists, checked untouched
/// (`E_COLLECTOR_CHANGED` otherwise): its branch's tip and its path.
fn existing_collector(
    reg: &Registry,
    key: &KeyParts,
    engine: &Engine,
    repo: &Repository,
) -> Result<Option<(String, PathBuf)>, HandoffError> {
    Ok(match reg.lookup(key)?.filter(|e| e.is_active()) {
        Some(e) if Path::new(&e.worktree_path).is_dir() => {
            let path = PathBuf::from(&e.worktree_path);
            collector::check_untouched(engine, &path, &e.branch)?;
            repo.refname_to_id(&format!("refs/heads/{}", e.branch))
                .ok()
                .map(|tip| (tip.to_string(), path))
        }
        _ => None,
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
                commit: commit.to_string(),
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
) -> Result<String, HandoffError> {
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
        .map(|o| o.to_string())
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
    base: &str,
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
