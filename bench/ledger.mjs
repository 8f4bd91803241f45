// Ledger rows at 10 → 100,000 rows: append (lock, idempotency check through consumers.idx,
// one write + fsync), read, and the three last-wins readers; in-process, the native `okstra`
// executable, `node bin/okstra.cjs`, and the real Python interpreter running the old
// helper's algorithm (`__test__/fixtures/py_consumers.py`, which, like consumers.py, does
// not fsync). Also parseStageMap on a realistic plan.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  ledgerAppend, ledgerRead, ledgerLatestDoneByStage, ledgerVerifiedAcceptedStages, ledgerPrCoveredStages, parseStageMap,
} from '../index.js'
import { NATIVE_CLI, NODE_CLI, PYTHON, measure, spawnTimes } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const py = join(here, '..', '__test__', 'fixtures', 'py_consumers.py')

/** A ledger of `n` rows in Python's spacing: started/done/verified/pr rows, 4 per stage. */
function seed(root, n) {
  const lines = []
  for (let s = 0; lines.length < n; s++) {
    const k = `"impl_task_key": "proj/grp/task", "stage": ${s}`
    lines.push(`{${k}, "status": "started", "branch": "feat-task-s${s}", "run_id": "run-${s}"}`)
    lines.push(`{${k}, "status": "done", "head_commit": "${s.toString(16).padStart(40, '0')}", "report_path": "reports/r-${s}.md"}`)
    lines.push(`{${k}, "status": "verified", "verdict": "accepted", "report_path": "fv/r-${s}.md"}`)
    lines.push(`{"impl_task_key": "proj/grp/task", "stages": [${s}], "status": "pr", "branch": "feat-task-g${s}", "url": "https://example/pr/${s}"}`)
  }
  writeFileSync(join(root, 'consumers.jsonl'), lines.slice(0, n).join('\n') + '\n')
}

const PLAN = `# 구현 계획\n\n## 5.5 Stage Map\n\n| Stage | 제목 | Depends on |\n|---|---|---|\n${
  Array.from({ length: 12 }, (_, i) => `| ${i + 1} | 단계 ${i + 1} 작업 | ${i === 0 ? '(none)' : i} |`).join('\n')}\n\n## 5.6 검증\n`

export async function run({ quick }) {
  const rows = []
  for (const size of [10, 1000, 10_000, 100_000]) {
    const label = size.toLocaleString('en')
    const big = size >= 100_000
    const n = quick ? 3 : big ? 7 : 15
    const root = mkdtempSync(join(tmpdir(), 'okstra-bench-ledger-'))
    try {
      seed(root, size)
      let i = 0
      // The first append builds consumers.idx from the whole file (once per ledger).
      const t0 = process.hrtime.bigint()
      ledgerAppend(root, { implTaskKey: 'bench', stage: i++, status: 'started' })
      const build = Number(process.hrtime.bigint() - t0) / 1e6
      const inproc = measure(() => ledgerAppend(root, { implTaskKey: 'bench', stage: i++, status: 'started' }), { n: quick ? 30 : 100, warmup: 3 })
      const appendArgs = ['ledger', 'append', '--plan-run-root', root, '--impl-task-key', 'bench', '--stage', '{i}', '--status', 'started']
      const spawned = spawnTimes({
        native: { cmd: NATIVE_CLI, args: appendArgs },
        cli: { cmd: process.execPath, args: [NODE_CLI, ...appendArgs] },
        python: { cmd: PYTHON, args: [py, root, 'append', 'bench', '{i}', 'started'] },
      }, { n, first: 1_000_000 })
      rows.push({ op: `ledgerAppend (fsync) @${label} rows`, inproc, ...spawned, oldLabel: 'no fsync' })
      rows.push({ op: `  first append, builds consumers.idx @${label} rows`, inproc: build })
      const dup = measure(() => ledgerAppend(root, { implTaskKey: 'bench', stage: 0, status: 'started' }), { n: quick ? 30 : 100, warmup: 3 })
      rows.push({ op: `  ledgerAppend of a row already there @${label} rows`, inproc: dup })

      seed(root, size)
      const readIn = measure(() => ledgerRead(root), { n: big ? 15 : quick ? 20 : 60, warmup: 2 })
      const spawnedRead = spawnTimes({
        native: { cmd: NATIVE_CLI, args: ['ledger', 'read', '--plan-run-root', root] },
        cli: { cmd: process.execPath, args: [NODE_CLI, 'ledger', 'read', '--plan-run-root', root] },
        python: { cmd: PYTHON, args: [py, root, 'read'] },
        cat: { cmd: 'cat', args: [join(root, 'consumers.jsonl')] },
      }, { n })
      const { cat, ...readRow } = spawnedRead
      rows.push({ op: `ledgerRead @${label} rows`, inproc: readIn, ...readRow })
      rows.push({ op: `  floor: spawn \`cat\` of the file @${label} rows (same run)`, native: cat })
      // V8's own floor for building these rows: JSON.parse of their text, already in memory.
      const text = `[${readFileSync(join(root, 'consumers.jsonl'), 'utf8').trim().split('\n').join(',')}]`
      const parseFloor = measure(() => JSON.parse(text), { n: big ? 15 : quick ? 20 : 60, warmup: 2 })
      rows.push({ op: `  floor: JSON.parse of the same rows' text @${label} rows`, inproc: parseFloor })

      const all = ledgerRead(root).rows
      const readers = measure(() => {
        ledgerLatestDoneByStage(all)
        ledgerVerifiedAcceptedStages(all)
        ledgerPrCoveredStages(all)
      }, { n: quick ? 20 : 60 })
      const { python: readersPy } = spawnTimes({ python: { cmd: PYTHON, args: [py, root, 'readers'] } }, { n })
      rows.push({ op: `last-wins readers (3) @${label} rows, rows already in JS`, inproc: readers, python: readersPy, oldLabel: 'read + readers' })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }
  rows.push({ op: 'parseStageMap (12 stages)', inproc: measure(() => parseStageMap(PLAN), { n: 2000 }) })
  return rows
}
