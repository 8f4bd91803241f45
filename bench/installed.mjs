// `node bench/installed.mjs`: `okstra` as a user gets it. Publishes this checkout's release to
// a local verdaccio (__test__/fixtures/release.mjs, as the release test does), installs
// `@okstra/native` into an empty project with plain `npm install`, and times
// `node_modules/.bin/okstra registry lookup` against the old helper's lookup on the real
// Python interpreter and against spawning /bin/true, interleaved in one run (spawn-timer.mjs).
// Prints one markdown table; asserts nothing (__test__/release.test.mjs does).
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { npmIn, publishRelease, startRegistry } from '../__test__/fixtures/release.mjs'
import { PYTHON, fmtMs, fmtRatio, spawnTimes } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const py = join(here, '..', '__test__', 'fixtures', 'py_registry.py')
const SHA = '0'.repeat(40)
const dir = mkdtempSync(join(tmpdir(), 'okstra-bench-installed-'))
const registry = await startRegistry(dir)
try {
  publishRelease(dir, registry.env)
  const app = join(dir, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  npmIn(registry.env, ['install', '@okstra/native'], app)
  const okstra = join(app, 'node_modules', '.bin', 'okstra')

  const home = join(dir, 'home')
  const env = { ...process.env, OKSTRA_HOME: home }
  const keyArgs = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
  spawnTimes({ reserve: { cmd: okstra, args: ['registry', 'reserve', ...keyArgs, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA] } }, { n: 1, warmup: 0 })
  const load = loadavg()[0]
  const t = spawnTimes({
    installed: { cmd: okstra, args: ['registry', 'lookup', ...keyArgs] },
    python: { cmd: PYTHON, args: [py, 'lookup', 'p', 'g', 't'], env },
    truth: { cmd: '/bin/true' },
  }, { n: 30, warmup: 3 })
  console.log(`okstra = ${realpathSync(okstra)} (installed from the local registry); load average ${load.toFixed(1)}\n`)
  console.log('| operation | `okstra` through an install | old helper (real Python) | `/bin/true` | old ÷ `okstra` |')
  console.log('|---|---|---|---|---|')
  console.log(`| registry lookup @1 | ${fmtMs(t.installed)} | ${fmtMs(t.python)} | ${fmtMs(t.truth)} | ${fmtRatio(t.python / t.installed)} |`)
} finally {
  registry.stop()
  rmSync(dir, { recursive: true, force: true })
}
