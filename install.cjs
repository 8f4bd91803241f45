'use strict'
// postinstall: replaces the JS shim `bin/okstra` with the native `okstra` executable from
// the per-platform package (as esbuild's install does), so the `okstra` command runs
// without starting Node (a few ms instead of 60-90 ms per call). The executable is used
// only when it runs here and reports this package's version; otherwise the shim stays and
// `okstra` keeps working through Node, and this script says why on stderr (npm shows it
// with --foreground-scripts; `node node_modules/@okstra/native/install.cjs` shows it too).
// On Windows, which okstra does not support, it fails the install with that message.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const here = __dirname
const shim = path.join(here, 'bin', 'okstra')
const { version } = require('./package.json')

const WINDOWS =
  'does not support Windows: it locks with flock(2), makes worktrees with ' +
  'symlinks inside, and runs beside the Python helper, which is POSIX-only too. Use it ' +
  'on Linux or macOS, or on Windows inside WSL 2 (a Linux install).'

function say(line) {
  process.stderr.write(`@okstra/native: ${line}\n`)
}

/** The per-platform package suffix of this machine (`linux-x64-gnu`, `darwin-arm64`, …), or null. */
function platform() {
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch]
  if (!arch) return null
  if (process.platform === 'darwin') return `darwin-${arch}`
  if (process.platform !== 'linux') return null
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

/** Puts the native executable in place of the shim, or returns why it kept the shim. */
function install() {
  if (fs.existsSync(path.join(here, 'Cargo.toml'))) {
    return 'a development checkout: `npm run build` puts the executable in npm/<platform>/; bin/okstra stays the JS shim'
  }
  const p = platform()
  if (!p) {
    return `no prebuilt okstra for ${process.platform}-${process.arch}; keeping the JS okstra command (it runs through Node)`
  }
  const pkg = `@okstra/native-${p}`
  let dir
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [here] }))
  } catch {
    return (
      `${pkg} is not installed (optional dependencies omitted, or a lock file made on another ` +
      `platform); keeping the JS okstra command. Fix: npm install ${pkg}@${version}`
    )
  }
  const exe = path.join(dir, 'okstra')
  if (!fs.existsSync(exe)) return `${pkg} has no okstra executable; keeping the JS okstra command`
  const r = spawnSync(exe, ['--version'], { encoding: 'utf8' })
  const got = (r.stdout ?? '').trim()
  if (r.error || r.status !== 0 || got !== `okstra ${version}`) {
    const why = r.error ? r.error.message : r.status !== 0 ? `exit ${r.status ?? r.signal}` : `it says '${got}'`
    return `${exe} does not run here as okstra ${version} (${why}); keeping the JS okstra command`
  }
  // Copy next to the shim and rename over it: a crash leaves either file, never half of one.
  const tmp = `${shim}.native-tmp`
  fs.copyFileSync(exe, tmp)
  fs.chmodSync(tmp, 0o755)
  fs.renameSync(tmp, shim)
  return null
}

function main() {
  if (process.platform === 'win32') {
    say(WINDOWS)
    process.exit(1)
  }
  let why
  try {
    why = install()
  } catch (e) {
    // Never fail the install on a supported system: the JS shim works everywhere Node does.
    why = `keeping the JS okstra command (${e.message})`
  }
  if (why) say(why)
  else say(`bin/okstra is the native executable from @okstra/native-${platform()}`)
}

main()
