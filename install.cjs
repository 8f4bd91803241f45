'use strict'
// postinstall: replaces the JS shim `bin/okstra` with the native `okstra` executable from
// the per-platform package (as esbuild's install does), so the `okstra` command runs
// without starting Node (about 2 ms instead of 60-90 ms per call). The executable is used
// only when it runs here and reports this package's version; otherwise the shim stays and
// `okstra` keeps working through Node. In a development checkout (Cargo.toml present) it
// does nothing: the build puts the executable in npm/<platform>/.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const here = __dirname
const shim = path.join(here, 'bin', 'okstra')

/** The per-platform package name suffix of this machine, or null when none is published. */
function platform() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime
  return glibc ? 'linux-x64-gnu' : null
}

function nativeExecutable() {
  const p = platform()
  if (!p) return null
  try {
    const dir = path.dirname(require.resolve(`@okstra/native-${p}/package.json`, { paths: [here] }))
    const exe = path.join(dir, 'okstra')
    return fs.existsSync(exe) ? exe : null
  } catch {
    return null
  }
}

function main() {
  if (fs.existsSync(path.join(here, 'Cargo.toml'))) return
  const exe = nativeExecutable()
  if (!exe) return
  const { version } = require('./package.json')
  const r = spawnSync(exe, ['--version'], { encoding: 'utf8' })
  if (r.status !== 0 || r.stdout.trim() !== `okstra ${version}`) return
  // Copy next to the shim and rename over it: a crash leaves either file, never half of one.
  const tmp = `${shim}.native-tmp`
  fs.copyFileSync(exe, tmp)
  fs.chmodSync(tmp, 0o755)
  fs.renameSync(tmp, shim)
}

try {
  main()
} catch (e) {
  // Never fail the install: the JS shim works everywhere Node does.
  process.stderr.write(`@okstra/native: keeping the JS okstra command (${e.message})\n`)
}
