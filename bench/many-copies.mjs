// 32 processes provisioning 32 keys of one repository whose ignored `node_modules`
// (FILES files, default 20,000) is carried by the copy kind, at the default lock bound.
// Prints one JSON line: { files, n, totalMs, oneAloneMs, perProvisionMs, lockTimeouts, created }.
// Used by bench (docs/benchmarks.md) and, with fewer files, by __test__/concurrency.test.mjs.
import { spawn, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** A repository with `files` ignored files under node_modules/ (100 per package). */
export function repoWithModules(files, base = tmpdir()) {
  const dir = mkdtempSync(join(base, 'okstra-many-'))
  const repo = join(dir, 'repo')
  mkdirSync(repo)
  const g = (...a) => execFileSync('git', ['-C', repo, ...a], { encoding: 'utf8' }).trim()
  g('init', '-q', '-b', 'main')
  writeFileSync(join(repo, '.gitignore'), 'node_modules/\n')
  writeFileSync(join(repo, 'index.js'), 'module.exports = 1\n')
  g('add', '-A')
  g('-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'init')
  for (let i = 0; i < files; i++) {
    const pkg = join(repo, 'node_modules', `pkg${Math.floor(i / 100)}`)
    if (i % 100 === 0) mkdirSync(pkg, { recursive: true })
    writeFileSync(join(pkg, `f${i % 100}.js`), `module.exports = ${i}\n`)
  }
  return { dir, repo, home: join(dir, 'home') }
}

const WORKER = `
  const n = require(${JSON.stringify(ROOT)})
  const t0 = Date.now()
  let out
  try { out = { ok: n.provisionTaskWorktree(JSON.parse(process.argv[1])) } }
  catch (e) { out = { code: e.code, message: e.message } }
  out.ms = Date.now() - t0
  process.stdout.write(JSON.stringify(out))`

/** One provisioning in its own process; resolves with { ok | code, message, ms }. */
function provisionIn(req, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', WORKER, JSON.stringify(req)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code) => {
      try { resolve(JSON.parse(out)) } catch { reject(new Error(`worker exited ${code}: ${err}`)) }
    })
  })
}

/** Runs one provisioning alone, then `n` at once, of new keys. */
export async function manyCopies({ files = 20000, n = 32, base } = {}) {
  const f = repoWithModules(files, base)
  const env = { ...process.env, OKSTRA_WORKTREE_COPY_ENTRIES: 'node_modules' }
  delete env.OKSTRA_LOCK_TIMEOUT_MS // the default bound
  const req = (taskId) => ({ projectRoot: f.repo, projectId: 'p', taskGroup: 'g', taskId, taskType: 'implementation', workCategory: 'feature', home: f.home })
  const alone = await provisionIn(req('alone'), env)
  if (!alone.ok) throw new Error(`one alone failed: ${alone.message}`)
  const t0 = Date.now()
  const results = await Promise.all(Array.from({ length: n }, (_, i) => provisionIn(req(`t${i}`), env)))
  const totalMs = Date.now() - t0
  return {
    f,
    results,
    summary: {
      files, n, totalMs, oneAloneMs: alone.ms,
      perProvisionMs: Math.round(totalMs / n),
      lockTimeouts: results.filter((r) => r.code === 'E_LOCK_TIMEOUT').length,
      created: results.filter((r) => r.ok?.status === 'created').length,
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = Number(process.env.FILES ?? 20000)
  const { summary, results } = await manyCopies({ files, base: process.env.BENCH_DIR })
  for (const r of results.filter((x) => !x.ok)) console.error(`${r.code}: ${r.message}`)
  console.log(JSON.stringify(summary))
}
