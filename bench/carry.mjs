// Carrying a 20,000-file `node_modules` into a new worktree, on a real reflink filesystem
// (xfs `reflink=1` on a loop device, made and removed here; needs root): the copy kind
// (`provisionTaskWorktree` with `OKSTRA_WORKTREE_COPY_ENTRIES=node_modules`, FICLONE per
// file, in parallel) against `cp -r` (GNU cp ≥ 9 clones by default too), `cp -r
// --reflink=never` (a byte copy) and a symlink. The carry time of the copy kind is the
// provisioning time minus that of the same provisioning without the copy entry (both
// measured, interleaved). Every sample starts from `sync`ed, removed output.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { provisionTaskWorktree } from '../index.js'
import { fmtMs, median, spawnOk } from './lib.mjs'

const ratio = (r) => (r < 0.1 ? `${r.toFixed(3)}×` : `${r.toFixed(2)}×`)

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }
const sh = (cmd, args, opts = {}) => spawnOk(cmd, args, { env: { ...process.env, PATH }, ...opts }).stdout

function used(dir) {
  const s = statfsSync(dir)
  return (s.blocks - s.bfree) * s.bsize
}

/** Runs `fn` on a fresh xfs (reflink=1) mount; `null` when one cannot be made here. */
function onXfs(fn) {
  if (process.getuid?.() !== 0) return null
  const base = mkdtempSync(join(tmpdir(), 'okstra-bench-xfs-'))
  const dir = join(base, 'mnt')
  mkdirSync(dir)
  let loop = null
  try {
    sh('truncate', ['-s', '1200M', join(base, 'img')])
    sh('mkfs.xfs', ['-q', '-m', 'reflink=1', join(base, 'img')])
    loop = sh('losetup', ['-f', '--show', join(base, 'img')]).trim()
    sh('mount', [loop, dir])
    return fn(dir)
  } catch (e) {
    console.error(`carry bench skipped: ${e.message}`)
    return null
  } finally {
    spawnSync('umount', [dir], { env: { ...process.env, PATH } })
    if (loop) sh('losetup', ['-d', loop])
    rmSync(base, { recursive: true, force: true })
  }
}

export async function table({ quick }) {
  const n = quick ? 2 : 5
  const rows = onXfs((dir) => {
    const repo = join(dir, 'repo')
    mkdirSync(repo)
    writeFileSync(join(repo, '.gitignore'), 'node_modules/\n')
    sh('git', ['init', '-q', '-b', 'main'], { cwd: repo })
    sh('git', ['add', '-A'], { cwd: repo })
    sh('git', ['commit', '-q', '-m', 'init'], { cwd: repo, env: { ...gitEnv, PATH } })
    const body = Buffer.alloc(8192, 'x')
    for (let d = 0; d < 200; d++) {
      mkdirSync(join(repo, 'node_modules', `pkg${d}`), { recursive: true })
      for (let i = 0; i < 100; i++) writeFileSync(join(repo, 'node_modules', `pkg${d}`, `f${i}.js`), body)
    }
    sh('sync', [])
    const home = join(dir, 'home')
    const t = { reflink: [], base: [], cp: [], never: [], ln: [] }
    const grew = { reflink: [], never: [] }
    const time = (fn) => {
      sh('sync', [])
      const t0 = process.hrtime.bigint()
      fn()
      return Number(process.hrtime.bigint() - t0) / 1e6
    }
    const drop = (p) => {
      rmSync(p, { recursive: true, force: true })
      sh('sync', [])
    }
    const provision = (id, copy) => {
      process.env.OKSTRA_WORKTREE_COPY_ENTRIES = copy ? 'node_modules' : ''
      try {
        return provisionTaskWorktree({ projectId: 'b', taskGroup: 'g', taskId: id, taskType: 'x', projectRoot: repo, home })
      } finally {
        delete process.env.OKSTRA_WORKTREE_COPY_ENTRIES
      }
    }
    const unprovision = (p) => {
      sh('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', p])
      sh('sync', [])
    }
    for (let i = -1; i < n; i++) {
      let before = used(dir)
      let r
      const a = time(() => { r = provision(`r${i + 1}`, true) })
      if (r.cloned[0] !== 'node_modules') throw new Error(`not cloned: ${r.note}`)
      sh('sync', [])
      const ga = used(dir) - before
      unprovision(r.path)
      const b = time(() => { r = provision(`b${i + 1}`, false) })
      unprovision(r.path)
      const out = join(dir, 'out')
      const c = time(() => sh('cp', ['-r', join(repo, 'node_modules'), out]))
      drop(out)
      before = used(dir)
      const d = time(() => sh('cp', ['-r', '--reflink=never', join(repo, 'node_modules'), out]))
      sh('sync', [])
      const gd = used(dir) - before
      drop(out)
      const e = time(() => sh('ln', ['-s', join(repo, 'node_modules'), out]))
      drop(out)
      if (i < 0) continue
      t.reflink.push(a); t.base.push(b); t.cp.push(c); t.never.push(d); t.ln.push(e)
      grew.reflink.push(ga); grew.never.push(gd)
    }
    const carry = Math.max(median(t.reflink) - median(t.base), 0.001)
    const mb = (x) => `${(median(x) / 1e6).toFixed(1)} MB`
    return [
      '| carrying a 20,000-file node_modules (164 MB) on xfs reflink=1 | time | ÷ copy kind | disk used |',
      '|---|---|---|---|',
      `| copy kind (reflink, parallel) — provisioning with it minus without | ${fmtMs(carry)} | 1.0× | ${mb(grew.reflink)} |`,
      `| (provisioning with the copy entry / without) | ${fmtMs(median(t.reflink))} / ${fmtMs(median(t.base))} | | |`,
      `| \`cp -r\` (GNU cp 9 clones by default) | ${fmtMs(median(t.cp))} | ${ratio(median(t.cp) / carry)} | |`,
      `| \`cp -r --reflink=never\` (byte copy) | ${fmtMs(median(t.never))} | ${ratio(median(t.never) / carry)} | ${mb(grew.never)} |`,
      `| \`ln -s\` (shared, not private) | ${fmtMs(median(t.ln))} | ${ratio(median(t.ln) / carry)} | 0 |`,
    ]
  })
  return rows ?? ['Carry benchmark skipped: no xfs reflink filesystem could be made (needs root, xfsprogs, a loop device).']
}
