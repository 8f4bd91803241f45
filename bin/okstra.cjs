#!/usr/bin/env node
'use strict'
// The `okstra` CLI: argument parsing, JSON output and exit codes live in the native core
// (`runCli`); this file only connects it to the process. Interactive commands that need a
// terminal are dispatched to their own modules before that.
const { runCli } = require('../index.js')

function main(argv) {
  const out = runCli(argv)
  if (out.stdout) process.stdout.write(out.stdout)
  if (out.stderr) process.stderr.write(out.stderr)
  process.exitCode = out.exitCode
}

const argv = process.argv.slice(2)
// `okstra wizard` (optionally with --state/--project-root/… flags) on a terminal is the
// interactive wizard; with a subcommand, or without a terminal, it is the JSON CLI.
const interactive =
  argv[0] === 'wizard' && (argv.length === 1 || argv[1].startsWith('--')) &&
  !argv.includes('--help') && process.stdin.isTTY && process.stdout.isTTY
if (interactive) {
  import('./wizard-interactive.mjs')
    .then((m) => m.main(argv.slice(1)))
    .then((code) => { process.exitCode = code })
    .catch((e) => {
      process.stderr.write(`okstra: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`)
      process.exitCode = 1
    })
} else {
  main(argv)
}
