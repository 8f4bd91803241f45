// A release through a real npm registry: verdaccio (a devDependency) on 127.0.0.1 with a
// temp config and storage, started and stopped here. Every package is published the way a
// release publishes it: `npm publish` of the main package, whose prepublishOnly
// (`napi prepublish -t npm`) publishes each npm/<platform>/ package and writes the main
// package's optionalDependencies. Then plain `npm install @okstra/native` in an empty
// project (and `npm install -g` into a temp prefix) must give the native module from ESM and
// CJS and a native `okstra` in node_modules/.bin that runs in native time.
//
// The only registry traffic beyond 127.0.0.1 is verdaccio's uplink for the main package's
// third-party dependencies (@inquirer/prompts and its tree); @okstra/* never leaves it.
// The staged release lists the platforms whose artifacts exist here (linux-x64-gnu from
// `npm run build`, the others only after `npm run build:cross`): napi prepublish refuses a
// platform package without its .node, as a real release would.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, okstra, tempDir } from './helpers.mjs'
import { makeOkstraProject } from './fixtures/project.mjs'
import { PKG, publishRelease, startRegistry } from './fixtures/release.mjs'

const VERSION = PKG.version
const HERE = 'linux-x64-gnu'
const SHA = 'c'.repeat(40)
const KEY = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't']

let dir
let registry
let env

function npm(args, cwd, extra = {}) {
  const r = spawnSync('npm', args, { cwd, env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 })
  assert.equal(r.status, 0, `npm ${args.join(' ')}\n${r.stdout}\n${r.stderr}`)
  return r
}

function isElf(path) {
  const fd = openSync(path, 'r')
  const b = Buffer.alloc(4)
  readSync(fd, b, 0, 4, 0)
  closeSync(fd)
  return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
}

describe('through a registry', () => {
before(async () => {
  dir = tempDir('okstra-release-')
  registry = await startRegistry(dir)
  env = registry.env
})

after(() => {
  registry?.stop()
})

/** Median wall time of `n` runs of a command, in ms. */
function medianMs(cmd, args, n = 9) {
  const t = []
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint()
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    t.push(Number(process.hrtime.bigint() - s) / 1e6)
    assert.equal(r.status, 0, r.stderr)
  }
  return t.sort((a, b) => a - b)[n >> 1]
}

test('a release published to a registry installs the native module and the native okstra', { timeout: 300_000 }, () => {
  const platforms = publishRelease(dir, env)
  assert.ok(platforms.includes(HERE), `npm/${HERE} lacks its artifacts: run npm run build`)

  // The registry holds every platform package and the main package, which lists them all
  // at its own version and ships no binary.
  const meta = JSON.parse(npm(['view', '@okstra/native', '--json'], dir).stdout)
  assert.equal(meta.version, VERSION)
  assert.deepEqual(meta.optionalDependencies, Object.fromEntries(platforms.map((p) => [`@okstra/native-${p}`, VERSION]).sort()))
  for (const p of platforms) {
    const files = JSON.parse(npm(['pack', '--dry-run', '--json', `@okstra/native-${p}@${VERSION}`], dir).stdout)[0].files.map((f) => f.path).sort()
    assert.deepEqual(files, ['README.md', 'okstra', `okstra-native.${p}.node`, 'package.json'].sort())
  }
  const mainFiles = JSON.parse(npm(['pack', '--dry-run', '--json', `@okstra/native@${VERSION}`], dir).stdout)[0].files.map((f) => f.path)
  assert.ok(mainFiles.includes('LICENSE') && mainFiles.includes('index.js'), mainFiles.join(' '))
  assert.deepEqual(mainFiles.filter((f) => f.endsWith('.node') || f === 'okstra'), [])

  // Plain `npm install` in an empty project.
  const app = join(dir, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const inst = npm(['install', '--foreground-scripts', '@okstra/native'], app)
  assert.match(inst.stderr + inst.stdout, new RegExp(`bin/okstra is the native executable from @okstra/native-${HERE}`))
  assert.ok(existsSync(join(app, 'node_modules', '@okstra', `native-${HERE}`, `okstra-native.${HERE}.node`)))
  const bin = join(app, 'node_modules', '.bin', 'okstra')
  assert.ok(isElf(realpathSync(bin)), 'node_modules/.bin/okstra is not the native executable')
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH: '/nonexistent' } })
  assert.equal(v.stdout.trim(), `okstra ${VERSION}`, v.stderr)

  // The module loads from ESM and from CJS, from the platform package.
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { safeSegment } from '@okstra/native'; import { createRequire } from 'node:module'; process.stdout.write(safeSegment('A B') + ' ' + createRequire(import.meta.url).resolve('@okstra/native-linux-x64-gnu'))"], { cwd: app, encoding: 'utf8' })
  assert.match(esm.stdout, /^a-b .*native-linux-x64-gnu/, esm.stderr)
  const cjs = spawnSync(process.execPath, ['-e', "const n = require('@okstra/native'); process.stdout.write(n.safeSegment('C D'))"], { cwd: app, encoding: 'utf8' })
  assert.equal(cjs.stdout, 'c-d', cjs.stderr)

  // A call takes native time: well under what starting Node alone takes.
  const home = join(dir, 'home')
  const lookup = ['registry', 'lookup', ...KEY, '--home', home]
  assert.equal(spawnSync(bin, ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--home', home]).status, 0)
  const native = medianMs(bin, lookup)
  const nodeAlone = medianMs(process.execPath, ['-e', '0'])
  assert.ok(native < nodeAlone / 2, `okstra took ${native.toFixed(1)} ms per call; node -e 0 takes ${nodeAlone.toFixed(1)} ms`)
  const expected = okstra(lookup)
  const viaBin = spawnSync(bin, lookup, { encoding: 'utf8' })
  assert.deepEqual([viaBin.status, viaBin.stdout], [expected.status, expected.stdout])

  // `okstra wizard` on a terminal is handed to Node's interactive wizard: its first prompt
  // shows, and Ctrl-C before the first answer exits 130 having written nothing.
  const project = makeOkstraProject(join(dir, 'shop')).root
  const state = join(dir, 'state.json')
  const tty = spawnSync('python3', [join(ROOT, '__test__', 'fixtures', 'pty_drive.py'), JSON.stringify([['Which phase', '\u0003']]), '--',
    bin, 'wizard', '--project-root', project, '--state', state, '--home', home, '--lang', 'en'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(tty.status, 130, tty.stdout + tty.stderr)
  assert.match(tty.stdout, /Which phase do you want to run\?/)
  assert.equal(existsSync(state), false, 'nothing is written before the first answer')

  // `npm install -g` into a temp prefix: the global okstra is native too.
  const prefix = join(dir, 'global')
  npm(['install', '-g', '--prefix', prefix, '@okstra/native'], dir)
  const g = join(prefix, 'bin', 'okstra')
  assert.ok(isElf(realpathSync(g)), 'the global okstra is not the native executable')
  assert.equal(spawnSync(g, lookup, { encoding: 'utf8' }).stdout, expected.stdout)

  // Without the platform package (optional dependencies omitted) the install says why and
  // how to fix it, and the JS okstra says the same instead of a stack trace.
  const bare = join(dir, 'bare')
  mkdirSync(bare)
  writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', version: '1.0.0', private: true }))
  const omitted = npm(['install', '--foreground-scripts', '--omit=optional', '@okstra/native'], bare)
  assert.match(omitted.stderr + omitted.stdout, new RegExp(`@okstra/native-${HERE} is not installed .*npm install @okstra/native-${HERE}@${VERSION}`))
  const shim = realpathSync(join(bare, 'node_modules', '.bin', 'okstra'))
  assert.match(readFileSync(shim, 'utf8'), /^#!\/usr\/bin\/env node/)
  const noBinding = spawnSync(shim, lookup, { encoding: 'utf8' })
  assert.equal(noBinding.status, 1)
  assert.match(noBinding.stderr, /^okstra: the native module for linux-x64 is not installed .*npm install @okstra\/native-linux-x64-gnu@/)
  assert.doesNotMatch(noBinding.stderr, /\n\s+at /)

  // With install scripts held back the JS shim stays and works; running the install step
  // by hand (README's recovery) puts the native executable in place and says so.
  const held = join(dir, 'held')
  mkdirSync(held)
  writeFileSync(join(held, 'package.json'), JSON.stringify({ name: 'held', version: '1.0.0', private: true }))
  npm(['install', '--ignore-scripts', '@okstra/native'], held)
  const heldBin = join(held, 'node_modules', '.bin', 'okstra')
  assert.ok(!isElf(realpathSync(heldBin)))
  assert.equal(spawnSync(heldBin, lookup, { encoding: 'utf8' }).stdout, expected.stdout)
  const byHand = spawnSync(process.execPath, [join(held, 'node_modules', '@okstra', 'native', 'install.cjs')], { encoding: 'utf8' })
  assert.equal(byHand.status, 0)
  assert.match(byHand.stderr, /bin\/okstra is the native executable from @okstra\/native-linux-x64-gnu/)
  assert.ok(isElf(realpathSync(heldBin)))
})
})

test('on Windows the install step fails with a message, not a stack trace', () => {
  const d = tempDir('okstra-win-')
  // Node on this machine, told it runs on Windows before install.cjs starts.
  const preload = join(d, 'win32.cjs')
  writeFileSync(preload, "Object.defineProperty(process, 'platform', { value: 'win32' })\n")
  const r = spawnSync(process.execPath, ['-r', preload, join(ROOT, 'install.cjs')], { encoding: 'utf8' })
  assert.equal(r.status, 1)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /^@okstra\/native: does not support Windows: it locks with flock\(2\), .*symlinks.*Python helper.*WSL 2/)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace')
})
