// The native `okstra` executable: the same command line as the JS shim (same stdout,
// stderr and exit code for the same state), no Node-API symbols, and the package install
// that puts it in place of the JS shim (packed tarballs installed offline into a temp
// project), falling back to the shim when the platform package is absent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { NATIVE_CLI, ROOT, okstra, okstraNative, tempDir } from './helpers.mjs'
import { makeOkstraProject } from './fixtures/project.mjs'

const SHA = 'c'.repeat(40)
const KEY = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't']

/** Command lines run in order against one OKSTRA_HOME / plan run root (`H` and `R` stand for them). */
const SCRIPT = [
  ['--version'],
  ['--help'],
  ['registry', '--help'],
  ['registry', 'lookup', ...KEY, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2', '--home', 'H'],
  ['registry', 'lookup', ...KEY, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2', '--home', 'H'],
  ['registry', 'reserve', ...KEY.slice(0, 4), '--task-id', 'u', '--worktree-path', '/w/u', '--branch', 'feat-t', '--base-ref', SHA, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', 'relative', '--branch', 'x', '--base-ref', SHA, '--home', 'H'],
  ['registry', 'lookup', '--home', 'H'],
  ['registry', 'lookup', ...KEY, '--bogus'],
  ['registry', 'list', '--home', 'H'],
  ['registry', 'release', ...KEY, '--home', 'H'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'done', '--fields', '{"head_commit": "h1", "note": "한글"}'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'done'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'merged'],
  ['ledger', 'append-pr', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stages', '2,1', '--branch', 'b', '--url', 'u'],
  ['ledger', 'read', '--plan-run-root', 'R'],
  ['worktree', 'branch', '--work-category', 'bugfix', '--task-id', 'Checkout 500', '--stage', '3'],
  ['wizard', '--help'],
  [],
]

function play(run) {
  const dir = tempDir('okstra-parity-')
  const sub = (a) => (a === 'H' ? join(dir, 'home') : a === 'R' ? join(dir, 'run') : a)
  return SCRIPT.map((args) => {
    const r = run(args.map(sub), { env: { ...process.env, LANG: 'C' } })
    const norm = (s) => s.replaceAll(dir, '<DIR>').replace(/"createdAt": "[^"]*"/g, '"createdAt": "<T>"')
    return { args: args.join(' '), status: r.status, stdout: norm(r.stdout), stderr: norm(r.stderr) }
  })
}

test('the native executable prints what the JS shim prints, with the same exit codes', () => {
  const viaNode = play(okstra)
  const viaNative = play(okstraNative)
  for (let i = 0; i < SCRIPT.length; i++) assert.deepEqual(viaNative[i], viaNode[i])
  // The script covers success, conflict (2), refusal (1) and clap's own errors.
  assert.deepEqual([...new Set(viaNode.map((r) => r.status))].sort(), [0, 1, 2])
})

test('the executable links no Node-API symbol and only libc/libgcc', () => {
  const nm = spawnSync('nm', ['-D', '--undefined-only', NATIVE_CLI], { encoding: 'utf8' })
  assert.equal(nm.status, 0, nm.stderr)
  assert.doesNotMatch(nm.stdout, /napi_/)
  const ldd = spawnSync('ldd', [NATIVE_CLI], { encoding: 'utf8' }).stdout
  const libs = ldd.split('\n').map((l) => l.trim().split(/\s/)[0]).filter(Boolean).filter((l) => !l.startsWith('linux-vdso'))
  for (const l of libs) assert.match(l, /^(libc\.so|libgcc_s\.so|\/lib64\/ld-linux|libm\.so)/, ldd)
})

function isElf(path) {
  const fd = openSync(path, 'r')
  const b = Buffer.alloc(4)
  readSync(fd, b, 0, 4, 0)
  closeSync(fd)
  return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
}

/** npm pack of the main package and of the per-platform package (with the executable). */
function pack(dir) {
  const plat = join(dir, 'plat')
  mkdirSync(plat)
  for (const f of ['package.json', 'okstra']) copyFileSync(join(ROOT, 'npm', 'linux-x64-gnu', f), join(plat, f))
  copyFileSync(join(ROOT, 'okstra-native.linux-x64-gnu.node'), join(plat, 'okstra-native.linux-x64-gnu.node'))
  const npmPack = (cwd) => {
    const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return join(dir, r.stdout.trim().split('\n').pop())
  }
  return { main: npmPack(ROOT), platform: npmPack(plat) }
}

/**
 * Installs tarballs into a new project offline: a lock file pins the main package's
 * dependencies to the versions of this repository's lock (already in npm's cache), so no
 * registry is asked.
 */
function install(dir, tarballs) {
  const app = join(dir, `app-${Object.keys(tarballs).length}`)
  mkdirSync(app)
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
  const packages = {}
  for (const [k, v] of Object.entries(lock.packages)) if (k && !v.dev && !v.optional) packages[k] = v
  const deps = {}
  for (const [name, file] of Object.entries(tarballs)) {
    const root = lock.packages['']
    deps[name] = `file:${file}`
    packages[`node_modules/${name}`] = {
      version: root.version, resolved: `file:${file}`,
      integrity: `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`,
      ...(name === '@okstra/native' ? { hasInstallScript: true, dependencies: root.dependencies, bin: root.bin } : {}),
    }
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: deps }))
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({
    name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: { '': { name: 'app', version: '1.0.0', dependencies: deps }, ...packages },
  }))
  const r = spawnSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr + r.stdout)
  return app
}

test('installing the package swaps bin/okstra for the native executable; without it the JS shim stays', () => {
  const dir = tempDir('okstra-install-')
  const { main, platform } = pack(dir)
  const home = join(dir, 'home')
  const reserve = ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--home', home]
  const lookup = ['registry', 'lookup', ...KEY, '--home', home]
  assert.equal(okstra(reserve).status, 0)
  const expected = okstra(lookup)

  // With the platform package: `okstra` is the executable itself, and runs without Node on PATH.
  const app = install(dir, { '@okstra/native': main, '@okstra/native-linux-x64-gnu': platform })
  const bin = join(app, 'node_modules', '.bin', 'okstra')
  assert.ok(isElf(realpathSync(bin)), 'bin/okstra was not replaced by the native executable')
  const noNode = spawnSync(bin, lookup, { encoding: 'utf8', env: { PATH: '/nonexistent' } })
  assert.deepEqual({ status: noNode.status, stdout: noNode.stdout, stderr: noNode.stderr },
    { status: expected.status, stdout: expected.stdout, stderr: expected.stderr })
  // The module API still loads from the installed package.
  const api = spawnSync(process.execPath, ['-e', "process.stdout.write(require('@okstra/native').safeSegment('A B'))"], { cwd: app, encoding: 'utf8' })
  assert.equal(api.stdout, 'a-b', api.stderr)

  // `okstra wizard` on a terminal is handed to Node's interactive wizard: its first prompt
  // shows, and Ctrl-C before the first answer exits 130 having written nothing.
  const project = makeOkstraProject(join(dir, 'shop')).root
  const state = join(dir, 'state.json')
  const tty = spawnSync('python3', [join(ROOT, '__test__', 'fixtures', 'pty_drive.py'), JSON.stringify([['Which phase', '\u0003']]), '--',
    bin, 'wizard', '--project-root', project, '--state', state, '--home', home, '--lang', 'en'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(tty.status, 130, tty.stdout + tty.stderr)
  assert.match(tty.stdout, /Which phase do you want to run\?/)
  assert.equal(existsSync(state), false, 'nothing is written before the first answer')

  // Without the platform package the JS shim stays and works.
  const shimOnly = install(dir, { '@okstra/native': main })
  const shim = realpathSync(join(shimOnly, 'node_modules', '.bin', 'okstra'))
  assert.ok(!isElf(shim))
  assert.match(readFileSync(shim, 'utf8'), /^#!\/usr\/bin\/env node/)
  const viaShim = spawnSync(shim, lookup, { encoding: 'utf8' })
  assert.equal(viaShim.stdout, expected.stdout, viaShim.stderr)
})
