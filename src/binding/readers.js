// The three last-wins ledger readers over rows that are already JS objects (ledgerRead's
// rows). Evaluated once per Node-API environment by src/binding/ledger.rs: plain JS reads
// four properties of a row in a few nanoseconds, where one Node-API call per property costs
// a microsecond. The rules are the core's (`ledger::latest_done_by_stage`, …): a row counts
// when it is an object whose `stage` is a whole number that fits a stage number.
(() => {
  'use strict'
  const stageOf = (v) => (Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined)
  const isRow = (r) => typeof r === 'object' && r !== null
  const ascending = (stages) => [...stages].sort((a, b) => a - b)
  const check = (rows) => {
    if (!Array.isArray(rows)) {
      const e = new TypeError('rows must be an array of ledger rows (ledgerRead(root).rows)')
      e.code = 'E_INVALID_ARG'
      throw e
    }
  }
  return {
    latestDoneByStage(rows) {
      check(rows)
      const out = {}
      for (const r of rows) {
        if (!isRow(r) || r.status !== 'done') continue
        const s = stageOf(r.stage)
        if (s !== undefined) out[s] = r
      }
      return out
    },
    verifiedAcceptedStages(rows) {
      check(rows)
      const last = new Map()
      for (const r of rows) {
        if (!isRow(r) || r.status !== 'verified') continue
        const s = stageOf(r.stage)
        if (s === undefined) continue
        const v = typeof r.verdict === 'string' ? r.verdict : ''
        last.set(s, v.trim().toLowerCase() === 'accepted')
      }
      return ascending([...last].filter(([, ok]) => ok).map(([s]) => s))
    },
    prCoveredStages(rows) {
      check(rows)
      const out = new Set()
      for (const r of rows) {
        if (!isRow(r) || r.status !== 'pr' || !Array.isArray(r.stages)) continue
        for (const n of r.stages) {
          const s = stageOf(n)
          if (s !== undefined) out.add(s)
        }
      }
      return ascending(out)
    },
  }
})()
