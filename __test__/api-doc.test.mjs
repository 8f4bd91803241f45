// docs/api.md is generated from index.d.ts: it must be current, and every export's doc
// comment must say what it throws (its `E_…` codes) or that it never throws.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { ROOT } from './helpers.mjs'
import { parseDts, render } from '../scripts/api-doc.mjs'

const DTS = readFileSync(join(ROOT, 'index.d.ts'), 'utf8')

test('docs/api.md is what scripts/api-doc.mjs generates from index.d.ts', () => {
  const have = readFileSync(join(ROOT, 'docs/api.md'), 'utf8')
  assert.equal(have, render(DTS), 'docs/api.md is stale: run `node scripts/api-doc.mjs` after the build')
})

test('every export is documented, with the codes it throws or "never throws"', () => {
  const decls = parseDts(DTS)
  const fns = decls.filter((d) => d.kind === 'function')
  const native = createRequire(import.meta.url)('../index.js')
  const callable = Object.keys(native).filter((k) => typeof native[k] === 'function' && k !== 'Wizard')
  assert.deepEqual(fns.map((f) => f.name).sort(), callable.sort(), 'index.d.ts declares exactly the functions index.js exports')
  for (const f of fns) {
    assert.ok(f.doc, `${f.name} has a doc comment`)
    if (f.name.endsWith('Async')) continue
    assert.ok(/\bE_[A-Z_]+\b/.test(f.doc) || /never\s+throws/i.test(f.doc), `${f.name}'s doc comment names its error codes or says it never throws`)
  }
  for (const d of decls.filter((x) => x.kind === 'class')) {
    assert.ok(d.doc, `${d.name} has a doc comment`)
    for (const m of d.members) assert.ok(m.doc, `${d.name}.${m.sig} has a doc comment`)
  }
  // The one null convention: no result field is optional.
  for (const d of decls.filter((x) => x.kind === 'interface' && !/Options$|^(Task)?KeyParts$/.test(x.name))) {
    for (const m of d.members) assert.ok(!/^\w+\?:/.test(m.sig), `${d.name}.${m.sig}: result fields are \`T | null\`, never optional`)
  }
})
