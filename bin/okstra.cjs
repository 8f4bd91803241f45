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

main(process.argv.slice(2))
