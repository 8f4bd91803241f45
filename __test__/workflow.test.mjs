// The release workflow (.github/workflows/release.yml) cannot run here; this checks what
// can be checked without GitHub: it parses as YAML (an unquoted `platform:: …` once made it
// invalid), every platform package.json builds has a build and a test on its own platform,
// the build runs the local commands, and publishing carries provenance.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { ROOT } from './helpers.mjs'

// js-yaml as @napi-rs/cli (a pinned devDependency) has it: no dependency of our own.
const require = createRequire(import.meta.url)
const yaml = createRequire(require.resolve('@napi-rs/cli/package.json'))('js-yaml')

const wf = yaml.load(readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** package.json's napi.targets as npm platform folder names (linux-x64-gnu, darwin-arm64, …). */
const platforms = pkg.napi.targets.map((t) => {
  const [arch, , sys, abi] = t.split('-')
  const a = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  return sys === 'darwin' ? `darwin-${a}` : `linux-${a}-${abi}`
})

test('every platform is built with the local commands and tested on its own platform', () => {
  const built = wf.jobs.build.strategy.matrix.include
  assert.deepEqual(built.map((m) => m.platform).sort(), [...platforms].sort())
  const runs = wf.jobs.build.steps.map((s) => s.run).filter(Boolean)
  assert.ok(runs.includes('npm run build'))
  assert.ok(runs.includes('npm run build:cross -- ${{ matrix.platform }}'))
  for (const m of built) {
    assert.equal(m.host.startsWith('macos') ? 'darwin' : 'linux', m.platform.split('-')[0], `${m.platform} built on ${m.host}`)
  }
  const tested = new Set(['linux-x64-gnu'])
  for (const job of ['test-linux', 'test-macos']) {
    for (const m of wf.jobs[job].strategy.matrix.include) tested.add(m.platform)
  }
  assert.deepEqual([...tested].sort(), [...platforms].sort())
  const arm = wf.jobs['test-linux'].strategy.matrix.include.filter((m) => m.platform.includes('arm64'))
  assert.ok(arm.every((m) => m.host.endsWith('-arm')), 'arm64 tested on arm64 runners')
})

test('publishing waits for every test and carries npm provenance', () => {
  const p = wf.jobs.publish
  assert.deepEqual([...p.needs].sort(), Object.keys(wf.jobs).filter((j) => j.startsWith('test')).sort())
  assert.equal(p.permissions['id-token'], 'write')
  const runs = p.steps.map((s) => s.run).filter(Boolean)
  assert.ok(runs.some((r) => /^npm publish .*--provenance/.test(r)), runs.join('\n'))
  assert.ok(runs.includes('npm config set provenance true'))
  assert.match(String(p.if), /refs\/tags\/v/)
})
