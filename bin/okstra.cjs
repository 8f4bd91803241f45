#!/usr/bin/env node
'use strict'
// The `okstra` CLI: argument parsing, JSON output and exit codes live in the native core
// (`runCli`); this file only connects it to the process. Interactive commands that need a
// terminal are dispatched to their own modules before that.
let binding
try {
  binding = require('../index.js')
} catch (e) {
  // The main package ships no binary: without its per-platform package (optional
  // dependencies omitted, or no build for this platform) there is nothing to run.
  const { version } = require('../package.json')
  process.stderr.write(
    `okstra: the native module for ${process.platform}-${process.arch} is not installed ` +
      `(${String(e.message).split('\n')[0]}). Install the package for this platform, e.g. ` +
      `npm install @okstra/native-linux-x64-gnu@${version} (linux-arm64-gnu, linux-x64-musl, ` +
      `linux-arm64-musl, darwin-x64, darwin-arm64 likewise); Windows is not supported.\n`,
  )
  process.exit(1)
}
const { runCli, wizardInteractiveOptions } = binding

function main(argv) {
  const out = runCli(argv)
  if (out.stdout) process.stdout.write(out.stdout)
  if (out.stderr) process.stderr.write(out.stderr)
  process.exitCode = out.exitCode
}

const argv = process.argv.slice(2)
// `okstra wizard` (with its flags, no subcommand, no --help) on a terminal is the interactive
// wizard; the CLI's own parser says whether it is and resolves its flags. Anything else, or
// no terminal, is the JSON CLI (which also reports bad flags).
function interactiveOptions() {
  if (argv[0] !== 'wizard' || !process.stdin.isTTY || !process.stdout.isTTY) return null
  return wizardInteractiveOptions(argv)
}

let options = null
try {
  options = interactiveOptions()
} catch (e) {
  process.stderr.write(`okstra: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`)
  process.exitCode = 1
}
if (options) {
  import('./wizard-interactive.mjs')
    .then((m) => m.main(options))
    .then((code) => { process.exitCode = code })
    .catch((e) => {
      process.stderr.write(`okstra: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`)
      process.exitCode = 1
    })
} else if (process.exitCode !== 1) {
  main(argv)
}
