// The error-code registry seen from outside the crate: docs/errors.md (generated from
// src/error/code.rs; `cargo test errors_doc` fails when it is stale) lists every code, so
// every `E_…` the JS side throws, the docs name, and the CLI exits with must be in it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, tempDir, okstra } from './helpers.mjs'

const read = (rel) => readFileSync(join(ROOT, rel), 'utf8')
const CODE = /\bE_[A-Z][A-Z_]*[A-Z]\b/g

/** code → CLI exit code, from the table of docs/errors.md. */
function registry() {
  const table = new Map()
  for (const line of read('docs/errors.md').split('\n')) {
    const m = /^\| `(E_[A-Z_]+)` \| (\d+) \(/.exec(line)
    if (m) table.set(m[1], Number(m[2]))
  }
  return table
}

const files = (dir, re) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => re.test(f))
    .map((f) => join(dir, f))

test('docs/errors.md lists the registry: codes once, exit classes 1, 2 or 130', () => {
  const text = read('docs/errors.md')
  const table = registry()
  assert.ok(table.size >= 20, `only ${table.size} codes parsed from docs/errors.md`)
  const rows = text.split('\n').filter((l) => /^\| `E_/.test(l))
  assert.equal(rows.length, table.size, 'a code is listed twice')
  for (const [code, exit] of table) assert.ok([1, 2, 130].includes(exit), `${code}: exit ${exit}`)
})

test('every E_ code the JS side throws is in the registry', () => {
  const table = registry()
  const sources = [...files('bin', /\.(c|m)?js$|^okstra$/), ...files('src/binding', /\.js$/)]
  const seen = new Map()
  for (const rel of sources) {
    for (const [code] of read(rel).matchAll(CODE)) seen.set(code, rel)
  }
  assert.ok(seen.has('E_INVALID_ARG'), 'the scan found no code at all (src/binding/arg_errors.js sets E_INVALID_ARG)')
  for (const [code, rel] of seen) assert.ok(table.has(code), `${rel} uses ${code}, which src/error/code.rs does not declare`)
})

test('every E_ code the README and docs/ name exists', () => {
  const table = registry()
  const docs = ['README.md', ...files('docs', /\.md$/)]
  const unknown = []
  for (const rel of docs) {
    for (const [code] of read(rel).matchAll(CODE)) if (!table.has(code)) unknown.push(`${rel}: ${code}`)
  }
  assert.deepEqual(unknown, [])
})

test('the CLI exits with the exit class the registry gives a code', () => {
  const table = registry()
  const home = tempDir()
  const args = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
  const reserve = ['registry', 'reserve', ...args, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', 'a'.repeat(40)]
  assert.equal(okstra(reserve).status, 0)
  const cases = [
    okstra(reserve), // conflict
    okstra(['registry', 'lookup', '--bogus']), // bad command line
    okstra(['registry', 'lookup', ...args.slice(0, -1), 'relative/home']), // bad argument
  ]
  const codes = cases.map((r) => r.json?.code)
  assert.deepEqual(codes, ['E_TASK_KEY_ACTIVE', 'E_INVALID_ARG', 'E_INVALID_ARG'])
  for (const r of cases) {
    assert.equal(r.status, table.get(r.json.code), `${r.json.code}: ${r.stderr}`)
  }
  // A refused command line shows clap's usage on stderr; the others one line naming the code.
  for (const r of [cases[0], cases[2]]) assert.match(r.stderr, new RegExp(`\\[${r.json.code}\\]`))
})

test('doctor finding codes: the typings union is the table of docs/errors.md', () => {
  const documented = []
  const text = read('docs/errors.md')
  const section = text.slice(text.indexOf('## Doctor findings'))
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z][a-z-]*)` \| /.exec(line)
    if (m) documented.push(m[1])
  }
  assert.ok(documented.length >= 15, `only ${documented.length} finding codes parsed from docs/errors.md`)
  const union = /export type ProblemCode = ([^\n]+)/.exec(read('index.d.ts'))
  assert.ok(union, 'index.d.ts exports ProblemCode')
  const typed = [...union[1].matchAll(/'([^']+)'/g)].map((m) => m[1])
  assert.deepEqual(typed, documented)
})
