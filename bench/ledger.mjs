// Ledger rows: append (lock, idempotency scan, one write + fsync) and read + the last-wins
// readers on a 10,000-row consumers.jsonl, in-process vs the `okstra` CLI vs spawning
// python3 with the old helper's algorithm (`__test__/fixtures/py_consumers.py`, which, like
// consumers.py, does not fsync). Also parseStageMap on a realistic plan.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  ledgerAppend, ledgerRead, ledgerLatestDoneByStage, ledgerVerifiedAcceptedStages, ledgerPrCoveredStages, parseStageMap,
} from '../index.js'
import { measure, spawnOk } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, '..', 'bin', 'okstra.cjs')
const py = join(here, '..', '__test__', 'fixtures', 'py_consumers.py')
const ROWS = 10_000

/** A 10k-row ledger in Python's spacing: started/done/verified rows for 2,500 stages. */
function seed(root) {
  const lines = []
  for (let s = 0; lines.length < ROWS; s++) {
    const k = `"impl_task_key": "proj/grp/task", "stage": ${s}`
    lines.push(`{${k}, "status": "started", "branch": "feat-task-s${s}", "run_id": "run-${s}"}`)
    lines.push(`{${k}, "status": "done", "head_commit": "${s.toString(16).padStart(40, '0')}", "report_path": "reports/r-${s}.md"}`)
    lines.push(`{${k}, "status": "verified", "verdict": "accepted", "report_path": "fv/r-${s}.md"}`)
    lines.push(`{"impl_task_key": "proj/grp/task", "stages": [${s}], "status": "pr", "branch": "feat-task-g${s}", "url": "https://example/pr/${s}"}`)
  }
  writeFileSync(join(root, 'consumers.jsonl'), lines.join('\n') + '\n')
}

const PLAN = `# 구현 계획\n\n## 5.5 Stage Map\n\n| Stage | 제목 | Depends on |\n|---|---|---|\n${
  Array.from({ length: 12 }, (_, i) => `| ${i + 1} | 단계 ${i + 1} 작업 | ${i === 0 ? '(none)' : i} |`).join('\n')}\n\n## 5.6 검증\n`

export async function run({ quick }) {
  const rows = []
  const spawnN = quick ? 5 : 15
  const root = mkdtempSync(join(tmpdir(), 'okstra-bench-ledger-'))
  try {
    seed(root)
    let i = 0
    const inproc = measure(() => ledgerAppend(root, { implTaskKey: 'bench', stage: i++, status: 'started' }), { n: quick ? 50 : 150 })
    const viaCli = measure(() => spawnOk('node', [cli, 'ledger', 'append', '--plan-run-root', root, '--impl-task-key', 'bench', '--stage', String(i++), '--status', 'started']), { n: spawnN, warmup: 1 })
    const viaPy = measure(() => spawnOk('python3', [py, root, 'append', 'bench', String(i++), 'started']), { n: spawnN, warmup: 1 })
    rows.push({ op: `ledgerAppend (fsync) @${ROWS / 1000}k rows`, inproc, cli: viaCli, python: viaPy, oldLabel: 'python3, no fsync' })

    seed(root)
    const readIn = measure(() => ledgerRead(root), { n: quick ? 20 : 60 })
    const readCli = measure(() => spawnOk('node', [cli, 'ledger', 'read', '--plan-run-root', root], { maxBuffer: 64 << 20 }), { n: spawnN, warmup: 1 })
    const readPy = measure(() => spawnOk('python3', [py, root, 'read'], { maxBuffer: 64 << 20 }), { n: spawnN, warmup: 1 })
    rows.push({ op: `ledgerRead @${ROWS / 1000}k rows`, inproc: readIn, cli: readCli, python: readPy })

    const all = ledgerRead(root).rows
    const readers = measure(() => {
      ledgerLatestDoneByStage(all)
      ledgerVerifiedAcceptedStages(all)
      ledgerPrCoveredStages(all)
    }, { n: quick ? 20 : 60 })
    const readersPy = measure(() => spawnOk('python3', [py, root, 'readers']), { n: spawnN, warmup: 1 })
    rows.push({ op: `last-wins readers (3) @${ROWS / 1000}k rows, rows already in JS`, inproc: readers, python: readersPy, oldLabel: 'python3 read + readers' })

    rows.push({ op: 'parseStageMap (12 stages)', inproc: measure(() => parseStageMap(PLAN), { n: 2000 }) })
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return rows
}
