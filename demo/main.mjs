// `npm run demo`: the main job, end to end, in a temp OKSTRA_HOME (never the real one).
// Each part is a module exporting `run(ctx)`; parts run in order and print readably.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const parts = ['registry', 'provision', 'ledger', 'wizard']

const root = mkdtempSync(join(tmpdir(), 'okstra-demo-'))
const ctx = { root, home: join(root, 'okstra-home') }
console.log(`okstra native demo — working in ${root}\n`)
try {
  for (const name of parts) {
    const mod = await import(`./${name}.mjs`)
    await mod.run(ctx)
  }
  console.log('\ndemo finished.')
} finally {
  if (!process.env.OKSTRA_DEMO_KEEP) rmSync(root, { recursive: true, force: true })
}
