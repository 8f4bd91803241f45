import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import {
  ledgerRead, ledgerReadAsync, ledgerAppend, ledgerAppendAsync, ledgerAppendVerified,
  ledgerAppendPr, ledgerLatestDoneByStage, ledgerVerifiedAcceptedStages, ledgerPrCoveredStages,
  safeSegment,
} from '@okstra/native'
import { ROOT, okstra, run, tempDir } from './helpers.mjs'

const PY = join(ROOT, '__test__', 'fixtures', 'py_consumers.py')
const py = (...args) => spawnSync('python3', [PY, ...args], { encoding: 'utf8' })
const file = (root) => join(root, 'consumers.jsonl')

test('append, idempotency, forceReappend and the last-wins readers', async () => {
  const root = tempDir()
  const done = (head, extra = {}) => ({ implTaskKey: 'p/g/t', stage: 1, status: 'done', fields: { head_commit: head }, ...extra })
  assert.deepEqual(ledgerAppend({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 1, status: 'started' }), { appended: true, taskKey: 'p/g/t' })
  assert.deepEqual(ledgerAppend({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 1, status: 'started' }), { appended: false, taskKey: 'p/g/t' })
  assert.deepEqual(ledgerAppend(root, done('aaa')), { appended: true, taskKey: 'p/g/t' })
  assert.deepEqual(ledgerAppend(root, done('bbb')), { appended: false, taskKey: 'p/g/t' })
  assert.deepEqual(await ledgerAppendAsync(root, done('bbb', { forceReappend: true, fields: { head_commit: 'bbb', reconciled: true } })), { appended: true, taskKey: 'p/g/t' })
  assert.deepEqual(ledgerAppend(root, done('bbb', { forceReappend: true })), { appended: false, taskKey: 'p/g/t' })
  ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 1, verdict: 'Accepted ', reportPath: 'r1.md' })
  ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 2, verdict: 'accepted', reportPath: 'r2.md' })
  ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 2, verdict: 'rejected', reportPath: 'r3.md' })
  assert.deepEqual(ledgerAppendPr({ planRunRoot: root, implTaskKey: 'p/g/t', stages: [3, 1], branch: 'feat-t-g1', url: 'u' }), { appended: true, taskKey: 'p/g/t' })
  assert.deepEqual(ledgerAppendPr({ planRunRoot: root, implTaskKey: 'p/g/t', stages: [2], branch: 'feat-t-g1', url: 'u2' }), { appended: false, taskKey: 'p/g/t' })
  const { rows, skipped } = ledgerRead({ planRunRoot: root })
  assert.deepEqual(skipped, [])
  assert.deepEqual(await ledgerReadAsync({ planRunRoot: root }), { rows, skipped })
  assert.equal(rows.length, 7)
  assert.deepEqual(ledgerLatestDoneByStage(rows), {
    1: { impl_task_key: 'p/g/t', stage: 1, status: 'done', head_commit: 'bbb', reconciled: true },
  })
  assert.deepEqual(ledgerVerifiedAcceptedStages(rows), [1])
  assert.deepEqual(ledgerPrCoveredStages(rows), [1, 3])
  // The readers hand back the very row objects and ignore rows that are not objects or
  // whose stage is not a whole number.
  assert.equal(ledgerLatestDoneByStage(rows)[1], rows[2])
  const odd = [null, 7, 'x', { status: 'done', stage: '2' }, { status: 'done', stage: 1.5 }, { status: 'pr', stages: [4, 'x', -1] },
    { status: 'verified', stage: 3, verdict: ' ACCEPTED' }]
  assert.deepEqual(ledgerLatestDoneByStage(odd), {})
  assert.deepEqual(ledgerPrCoveredStages(odd), [4])
  assert.deepEqual(ledgerVerifiedAcceptedStages(odd), [3])
})

test('unknown statuses and bad stages are E_INVALID_ARG and write nothing', async () => {
  const root = tempDir()
  assert.throws(() => ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1, status: 'merged' }),
    { code: 'E_INVALID_ARG', message: /status must be 'started' or 'done', got: 'merged'/ })
  assert.throws(() => ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1.5, status: 'done' }), { code: 'E_INVALID_ARG' })
  await assert.rejects(ledgerAppendAsync({ planRunRoot: root, implTaskKey: 'k', stage: 1, status: 'pr' }), { code: 'E_INVALID_ARG' })
  assert.deepEqual(ledgerRead({ planRunRoot: root }), { rows: [], skipped: [] })
})

test('a torn last line is reported in skipped and the next append starts a new line', () => {
  const root = tempDir()
  ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1, status: 'started' })
  appendFileSync(file(root), '{"impl_task_key": "k", "sta')
  let r = ledgerRead({ planRunRoot: root })
  assert.equal(r.rows.length, 1)
  assert.equal(r.skipped.length, 1)
  assert.equal(r.skipped[0].line, 2)
  ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 2, status: 'started' })
  r = ledgerRead({ planRunRoot: root })
  assert.equal(r.rows.length, 2)
  assert.deepEqual(r.skipped.map((s) => s.line), [2])
  // Python reads the file too: it skips the torn line and sees both rows.
  assert.equal(JSON.parse(py(root, 'read').stdout).length, 2)
})

test('a line shaped like an object but not valid JSON is skipped on both paths, sync and async', async () => {
  // Every line opens with { and closes with }, so the read takes the JSON.parse path; V8
  // refuses the text and the checked read lists the bad line, as it does for a torn one.
  const root = tempDir()
  ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1, status: 'started' })
  appendFileSync(file(root), '{"impl_task_key": "k", "stage": tru}\n{"note": "é", "n": [1, {"x": "}{"}]}\n')
  const want = {
    rows: [{ impl_task_key: 'k', stage: 1, status: 'started' }, { note: 'é', n: [1, { x: '}{' }] }],
  }
  for (const r of [ledgerRead({ planRunRoot: root }), await ledgerReadAsync({ planRunRoot: root })]) {
    assert.deepEqual(r.rows, want.rows)
    assert.deepEqual(r.skipped.map((s) => s.line), [2])
    assert.match(r.skipped[0].reason, /not valid JSON/)
  }
  // Two lines that would merge into one element once joined, and one line holding two.
  appendFileSync(file(root), '{"a": [1\n2]}\n{"b": 1}, {"c": 2}\n')
  const r = ledgerRead({ planRunRoot: root })
  assert.equal(r.rows.length, 2)
  assert.deepEqual(r.skipped.map((s) => s.line), [2, 4, 5, 6])
})

test('Python-written rows read as equals and Python reads ours; the bytes are identical', () => {
  const a = tempDir()
  const b = tempDir()
  assert.equal(py(a, 'append', 'p/g/태스크', '2', 'done', 'abc').status, 0)
  ledgerAppend({ planRunRoot: b, implTaskKey: 'p/g/태스크', stage: 2, status: 'done', fields: { head_commit: 'abc', note: '파이썬' } })
  // A new ledger gets the key slugged, as provisioning registers it (one id, one entry:
  // docs/formats.md); otherwise the bytes are Python's.
  const slug = `p/g/${safeSegment('태스크')}`
  assert.equal(readFileSync(file(a), 'utf8').replace('p/g/태스크', slug), readFileSync(file(b), 'utf8'))
  assert.deepEqual(ledgerRead({ planRunRoot: a }).rows.map((r) => ({ ...r, impl_task_key: slug })), ledgerRead({ planRunRoot: b }).rows)
  // Idempotency holds across runtimes: Python sees our row under its key, and we see
  // Python's under the raw text it was written with.
  assert.equal(JSON.parse(py(b, 'append', slug, '2', 'done', 'zzz').stdout).appended, false)
  assert.deepEqual(ledgerAppend({ planRunRoot: a, implTaskKey: 'p/g/태스크', stage: 2, status: 'done' }), { appended: false, taskKey: 'p/g/태스크' })
  assert.deepEqual(JSON.parse(py(b, 'read').stdout), ledgerRead({ planRunRoot: b }).rows)
})

test('a verified row records the head it verified; Python reads it and its readers agree', () => {
  const root = tempDir()
  const head = 'c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7'
  assert.throws(() => ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'k', stage: 1, verdict: 'accepted', reportPath: 'r.md', headCommit: 'HEAD', create: true }),
    { code: 'E_INVALID_ARG', message: /head_commit must be a full hexadecimal commit id/ })
  assert.deepEqual(ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'k', stage: 1, verdict: 'accepted', reportPath: 'r.md', headCommit: head.toUpperCase(), create: true }), { appended: true, taskKey: 'k' })
  assert.deepEqual(ledgerAppendVerified({ planRunRoot: root, implTaskKey: 'k', stage: 1, verdict: 'accepted', reportPath: 'r.md' }), { appended: false, taskKey: 'k' })
  assert.equal(readFileSync(file(root), 'utf8'),
    `{"impl_task_key": "k", "stage": 1, "status": "verified", "verdict": "accepted", "report_path": "r.md", "head_commit": "${head}"}\n`)
  const cli = okstra(['ledger', 'append-verified', '--plan-run-root', root, '--impl-task-key', 'k', '--stage', '2', '--verdict', 'accepted', '--report-path', 'r2.md', '--head-commit', head])
  assert.equal(cli.status, 0, cli.stderr)
  const rows = ledgerRead({ planRunRoot: root }).rows
  assert.equal(rows[1].head_commit, head)
  assert.deepEqual(JSON.parse(py(root, 'read').stdout), rows)
  assert.deepEqual(JSON.parse(py(root, 'readers').stdout).verified, [1, 2])
})

test('Node and Python processes appending at once lose nothing and never duplicate', async () => {
  const root = tempDir()
  const N = 40
  const nodeChild = (i) => run(process.execPath, ['-e', `
    const { ledgerAppend } = require(${JSON.stringify(join(ROOT, 'index.js'))})
    for (let s = 0; s < ${N}; s++) {
      ledgerAppend({ planRunRoot: process.argv[1], implTaskKey: 'node-${i}', stage: s, status: 'started' })
      ledgerAppend({ planRunRoot: process.argv[1], implTaskKey: 'shared', stage: 1, status: 'started' })
    }`, root])
  const results = await Promise.all([
    nodeChild(0), nodeChild(1), nodeChild(2),
    run('python3', [PY, root, 'append-many', 'python', String(N)]),
  ])
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const { rows, skipped } = ledgerRead({ planRunRoot: root })
  assert.deepEqual(skipped, [])
  assert.equal(rows.length, 4 * N + 1)
  assert.equal(rows.filter((r) => r.impl_task_key === 'shared').length, 1)
  for (const k of ['node-0', 'node-1', 'node-2', 'python']) {
    assert.deepEqual(rows.filter((r) => r.impl_task_key === k).map((r) => r.stage).sort((x, y) => x - y), [...Array(N).keys()])
  }
})

test('okstra ledger CLI appends, reads and reports bad input with a code', () => {
  const root = tempDir()
  const base = ['--plan-run-root', root, '--impl-task-key', 'k', '--stage', '1']
  let r = okstra(['ledger', 'append', ...base, '--status', 'done', '--fields', '{"head_commit": "h1"}'])
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(r.json, { appended: true, taskKey: 'k' })
  r = okstra(['ledger', 'append-verified', ...base, '--verdict', 'accepted', '--report-path', 'r.md'])
  assert.deepEqual(r.json, { appended: true, taskKey: 'k' })
  r = okstra(['ledger', 'append-pr', '--plan-run-root', root, '--impl-task-key', 'k', '--stages', '2,1', '--branch', 'b', '--url', 'u'])
  assert.deepEqual(r.json, { appended: true, taskKey: 'k' })
  r = okstra(['ledger', 'read', '--plan-run-root', root])
  assert.equal(r.json.rows.length, 3)
  assert.deepEqual(r.json.rows[2].stages, [1, 2])
  r = okstra(['ledger', 'append', ...base, '--status', 'merged'])
  assert.equal(r.status, 1)
  assert.equal(r.json.code, 'E_INVALID_ARG')
  assert.match(r.stderr, /status must be 'started' or 'done'/)
})

test('a process killed while appending leaves whole rows (at most one torn line) and the ledger keeps working', async () => {
  const root = tempDir()
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['-e', `
    const { ledgerAppend } = require(${JSON.stringify(join(ROOT, 'index.js'))})
    const pad = 'x'.repeat(4000)
    for (let s = 0; ; s++) ledgerAppend({ planRunRoot: process.argv[1], implTaskKey: 'k', stage: s, status: 'started', fields: { pad } })`, root],
  { stdio: 'ignore' })
  // Kill once the child is appending (a fixed sleep loses to a slow Node start on a busy
  // machine), a little later each time so the kill lands mid-write.
  const { statSync } = await import('node:fs')
  const size = () => { try { return statSync(join(root, 'consumers.jsonl')).size } catch { return 0 } }
  let exited = false
  child.on('exit', () => (exited = true))
  while (!exited && size() < 40_000) await new Promise((resolve) => setTimeout(resolve, 5))
  child.kill('SIGKILL')
  await new Promise((resolve) => child.on('close', resolve))
  const before = ledgerRead({ planRunRoot: root })
  assert.ok(before.rows.length > 0)
  assert.ok(before.skipped.length <= 1, JSON.stringify(before.skipped))
  assert.deepEqual(before.rows.map((r) => r.stage), [...before.rows.keys()])
  assert.deepEqual(ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1_000_000, status: 'started' }), { appended: true, taskKey: 'k' })
  const after = ledgerRead({ planRunRoot: root })
  assert.equal(after.rows.length, before.rows.length + 1)
  assert.deepEqual(after.skipped, before.skipped)
})

test('ledgerRead rows come out as stored (nested values, non-ASCII, escapes) and the readers refuse a non-array', () => {
  const root = tempDir()
  const line = '{"impl_task_key": "p/g/t", "stage": 1, "status": "done", "head_commit": "h", "note": "재시도 \\"ok\\" \\u00e9", "n": {"a": [1, 2.5, null, true]}, "big": 12345678901234}'
  appendFileSync(file(root), `${line}\n[1]\n`)
  const { rows, skipped } = ledgerRead({ planRunRoot: root })
  assert.deepEqual(rows, [JSON.parse(line)])
  assert.deepEqual(skipped, [{ line: 2, reason: 'not a JSON object' }])
  assert.equal(ledgerLatestDoneByStage(rows)[1], rows[0])
  for (const f of [ledgerLatestDoneByStage, ledgerVerifiedAcceptedStages, ledgerPrCoveredStages]) {
    assert.throws(() => f({ length: 1, 0: rows[0] }), { code: 'E_INVALID_ARG' })
  }
})
