// Demo part: the wizard. Builds a git repository with an okstra task layout, drives the
// wizard to `done` with scripted answers (printing each prompt and echo), shows the
// confirmation block and the rendered `okstra render-bundle` arguments, then provisions the
// worktree it confirmed (`wizard.provision()`), shows the registry rows and `git worktree list`, and
// records the stage's `started` event in the plan run's ledger (`consumers.jsonl`) and shows
// the plan's handoff eligibility (nothing is done yet, so no stage is eligible).
//
// `makeOkstraProject(dir)` and `driveWizard(o)` are exported for the end-to-end main job
// (and the tests): `driveWizard` returns the rendered arguments.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Wizard, handoffEligible, ledgerAppend, ledgerRead, registryList, taskKey } from '../index.js'
import { heading, step, table } from './show.mjs'
import { git } from './repo.mjs'

function put(path, text) {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
}

/** The Stage Map of the demo plan: stage 2 depends on stage 1. */
export const DEMO_PLAN = `# Implementation plan

## 5.5 Stage Map
| Stage | Title | Depends on |
|---|---|---|
| 1 | Refund schema | (none) |
| 2 | Refund API | 1 |
`

/**
 * Creates `dir` as a git repository (branch `main`, branch `develop`) holding task
 * `payments/refund-api` under `.okstra/tasks/` with a brief, a manifest, an
 * implementation-planning report with its Stage Map (not yet approved), and a PR template.
 * Returns `{ root, planPath }`.
 */
export function makeOkstraProject(dir) {
  mkdirSync(dir, { recursive: true })
  git(dir, 'init', '-q', '-b', 'main')
  put(join(dir, 'README.md'), '# shop\n')
  put(join(dir, 'briefs', 'refund-api.md'), '# Refund API\nCustomers need partial refunds.\n')
  put(join(dir, '.github', 'pull_request_template.md'), '## Summary\n')
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'init')
  git(dir, 'branch', 'develop')
  const task = join(dir, '.okstra', 'tasks', 'payments', 'refund-api')
  put(join(task, 'task-manifest.json'), JSON.stringify({ taskBriefPath: 'briefs/refund-api.md', workCategory: 'feature' }, null, 2) + '\n')
  const reports = join(task, 'runs', 'implementation-planning', 'reports')
  const planPath = join(reports, 'final-report-implementation-planning-001.md')
  put(planPath, DEMO_PLAN)
  put(join(reports, 'final-report-implementation-planning-001.data.json'),
    JSON.stringify({ meta: { taskType: 'implementation-planning', approvalStatus: 'pending' } }, null, 2) + '\n')
  return { root: dir, planPath }
}

/** Scripted answers by step id: an implementation run of stage 1, customized models. */
export const DEMO_ANSWERS = {
  task_type: 'implementation',
  task_pick: 'payments/refund-api',
  brief_pick: 'keep',
  base_ref_pick: 'main',
  approved_plan_pick: 'latest',
  approve_plan_confirm: 'yes',
  stage_pick: '1',
  executor_pick: 'codex',
  critic_pick: 'off',
  customize_pick: 'customize',
  lead_model: '',
  codex_model: 'gpt-5.5-high',
  report_writer_model: '',
  directive: 'Keep the public API backwards compatible.',
  related_tasks: '',
  clarification_response: '',
  branch_confirm: 'proceed',
  confirm: 'proceed',
}

/**
 * Drives a wizard for `projectRoot` to `done` answering from `answers` (step id → value)
 * and returns `{ args, wizard }` where `args` is `wizard.renderArgs()`. `before(prompt, wizard)`
 * runs before each answer; `log(prompt, result)` sees every prompt and its submit result. Throws when a prompt has no scripted answer or
 * an answer is rejected.
 */
export function driveWizard({ projectRoot, home, projectId = 'shop', lang = 'ko', answers = DEMO_ANSWERS, before = () => {}, log = () => {} }) {
  const wizard = Wizard.create({ projectRoot, projectId, lang, home })
  for (let guard = 0; guard < 100; guard++) {
    const prompt = wizard.next()
    if (prompt.kind === 'done') return { args: wizard.renderArgs(), wizard }
    if (prompt.kind === 'aborted') throw new Error('the scripted wizard was aborted')
    if (!(prompt.step in answers)) throw new Error(`no scripted answer for step ${prompt.step}`)
    before(prompt, wizard)
    const result = wizard.submit(answers[prompt.step])
    log(prompt, result)
    if (!result.ok) throw new Error(`answer to ${prompt.step} rejected: ${result.error}`)
  }
  throw new Error('the wizard did not finish in 100 steps')
}

export async function run({ root, home }) {
  heading('wizard')
  const { root: projectRoot } = makeOkstraProject(join(root, 'wizard-shop'))
  step(`project ${projectRoot}: git repo + .okstra/tasks/payments/refund-api (brief, manifest, plan with a Stage Map)`)
  const { args, wizard } = driveWizard({
    projectRoot,
    home,
    log: (prompt, result) => {
      const first = prompt.label.split('\n')[0]
      const opts = prompt.options.length ? `  [${prompt.options.map((o) => o.value).join(' | ')}]` : ''
      console.log(`   ? ${prompt.step}: ${first}${opts}`)
      console.log(`     ${result.echo}`)
    },
  })
  step('confirmation block:')
  console.log(wizard.confirmationBlock().replace(/^/gm, '   '))
  step('renderArgs():')
  table(Object.entries(args).filter(([, v]) => v !== '').map(([k, v]) => ({ argument: k, value: v })), ['argument', 'value'])
  const p = wizard.provision()
  step(`wizard.provision() → ${p.status} ${p.path} (branch ${p.branch})`)
  table(registryList({ home }).filter((e) => e.taskId === args['task-id']).map((e) => ({ taskKey: e.taskKey, branch: e.branch, status: e.status, phase: e.lastPhase })),
    ['taskKey', 'branch', 'status', 'phase'])
  step('git worktree list:')
  console.log(git(projectRoot, 'worktree', 'list').replace(/^/gm, '   '))
  // The plan run root is the approved plan's run directory (runs/implementation-planning/).
  const planRunRoot = dirname(dirname(args['approved-plan']))
  const implTaskKey = taskKey({ projectId: args['project-id'], taskGroup: args['task-group'], taskId: args['task-id'] })
  const appended = ledgerAppend({ planRunRoot: planRunRoot, 
    implTaskKey, stage: Number(args.stage), status: 'started', fields: { branch: p.branch, worktree_path: p.path },
  })
  step(`ledgerAppend(started, stage ${args.stage}) → appended: ${appended.appended}; ${join(planRunRoot, 'consumers.jsonl')}:`)
  for (const row of ledgerRead({ planRunRoot: planRunRoot }).rows) console.log(`   ${JSON.stringify(row)}`)
  const eligibility = handoffEligible({ planRunRoot, approvedPlan: args['approved-plan'], projectRoot })
  step('handoffEligible:')
  table(eligibility.stages.map((x) => ({ stage: x.number, title: x.title, eligible: x.eligible, reasons: x.reasons.join(' ') })),
    ['stage', 'title', 'eligible', 'reasons'])
  return { args, provision: p, planRunRoot }
}
