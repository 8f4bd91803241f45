// Wizard rows: one step (`next` + `submit`) in-process vs through the `okstra wizard` CLI
// (two node processes per step, as a launcher would call next then submit) vs a python3
// process per call (bench/py_wizard_step.py: what the old `wizard.py next|submit` paid at
// minimum). Every sample answers the same step from the same saved state: the
// customize prompt of an error-analysis run, whose next prompt (branch confirm) reads git
// and the registry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Wizard } from '../index.js'
import { makeOkstraProject } from '../__test__/fixtures/project.mjs'
import { NATIVE_CLI, PYTHON, measure, spawnOk } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, '..', 'bin', 'okstra.cjs')
const py = join(here, 'py_wizard_step.py')

export async function run({ quick }) {
  const dir = mkdtempSync(join(tmpdir(), 'okstra-bench-wizard-'))
  try {
    const { root } = makeOkstraProject(join(dir, 'shop'))
    const home = join(dir, 'home')
    const w = Wizard.create({ projectRoot: root, home, projectId: 'shop' })
    for (const v of ['error-analysis', 'payments/refund-api', 'keep', 'main']) w.submit(v)
    const saved = w.toJson()
    const stateFile = join(dir, 'state.json')
    const reset = () => writeFileSync(stateFile, saved)
    const spawnN = quick ? 5 : 15

    const inproc = measure(() => {
      const x = Wizard.fromJson(saved)
      x.next()
      x.submit('defaults')
    }, { n: quick ? 100 : 300 })
    const inprocFile = measure(() => {
      const x = Wizard.load(stateFile)
      x.next()
      x.submit('defaults')
      x.save(stateFile)
    }, { n: quick ? 100 : 300, before: reset })
    const viaCli = measure(() => {
      spawnOk('node', [cli, 'wizard', 'next', '--state', stateFile])
      spawnOk('node', [cli, 'wizard', 'submit', '--state', stateFile, '--value', 'defaults'])
    }, { n: spawnN, warmup: 1, before: reset })
    const viaNative = measure(() => {
      spawnOk(NATIVE_CLI, ['wizard', 'next', '--state', stateFile])
      spawnOk(NATIVE_CLI, ['wizard', 'submit', '--state', stateFile, '--value', 'defaults'])
    }, { n: spawnN, warmup: 1, before: reset })
    const viaPy = measure(() => {
      spawnOk(PYTHON, [py, 'next', stateFile])
      spawnOk(PYTHON, [py, 'submit', stateFile, 'defaults'])
    }, { n: spawnN, warmup: 1, before: reset })
    return [
      { op: 'wizard step (next + submit)', inproc, native: viaNative, cli: viaCli, python: viaPy, oldLabel: 'python per call' },
      { op: 'wizard step incl. state file load + save', inproc: inprocFile, native: viaNative, cli: viaCli, python: viaPy, oldLabel: 'python per call' },
    ]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
