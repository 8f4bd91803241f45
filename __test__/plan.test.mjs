import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { parseStageMap } from '@okstra/native'

const PLAN = `# 구현 계획 보고서

## 5.4 작업 분할
세 단계로 나눈다.

## 5.5 Stage Map

| Stage | 제목 | Depends on |
|---|---|---|
| 1 | 스키마 추가 | (none) |
| 2 | 워커 구현 | 1 |
| 3 | 관리자 API | 1, 2 |

## 5.6 Stage Validation
- Stage 1: cargo test
`

test('parseStageMap reads a table with Korean text around it', () => {
  assert.deepEqual(parseStageMap(PLAN), {
    stages: [
      { number: 1, title: '스키마 추가', dependsOn: [] },
      { number: 2, title: '워커 구현', dependsOn: [1] },
      { number: 3, title: '관리자 API', dependsOn: [1, 2] },
    ],
    errors: [],
  })
})

test('parseStageMap reads the bullet form and reports duplicates, unknown deps and cycles', () => {
  const md = [
    '## 5.5 Stage Map',
    '- Stage 1: A — depends-on: 2',
    '- Stage 2: B — depends-on: 1',
    '- Stage 3: C — depends-on: 9',
    '- Stage 3: C again — depends-on: (none)',
  ].join('\n')
  const { stages, errors } = parseStageMap(md)
  assert.deepEqual(stages.map((s) => [s.number, s.dependsOn]), [[1, [2]], [2, [1]], [3, [9]]])
  assert.deepEqual(errors, [
    'stage 3 is listed more than once in the Stage Map; the first entry is used',
    'stage 3 depends on stage 9, which is not in the Stage Map',
    'stages 1 → 2 → 1 form a dependency cycle; one of them must not depend on the other',
  ])
})

test('parseStageMap is reachable from CommonJS and never throws on a plan without the section', () => {
  const require = createRequire(import.meta.url)
  const { parseStageMap: cjs } = require('@okstra/native')
  const r = cjs('# plan\nno map here\n')
  assert.deepEqual(r.stages, [])
  assert.match(r.errors[0], /no `## 5\.5 Stage Map` section/)
})
