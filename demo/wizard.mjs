// Demo part: the wizard. Builds a git repository with an okstra task layout, drives the
// wizard to `done` with scripted answers (printing each prompt and echo), shows the
// confirmation block and the rendered `okstra render-bundle` arguments, then provisions the
// worktree it confirmed (`wizard.provision()`), shows the registry rows and `git worktree list`, and
// records the stage's `started` event in the plan run's ledger (`consumers.jsonl`) and shows
// the plan's handoff eligibility (nothing is done yet, so no stage is eligible).
//
// The sample project (`makeOkstraProject`) and the scripted answers with their driver
// (`driveWizard`) are the fixtures the tests and benchmarks use too
// (`__test__/fixtures/project.mjs`).
import { dirname, join } from 'node:path'
import { handoffEligible, ledgerAppend, ledgerRead, registryList, taskKey } from '../index.js'
import { driveWizard, git, makeOkstraProject } from '../__test__/fixtures/project.mjs'
import { heading, step, table } from './show.mjs'

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
