// `okstra wizard` on a terminal: the interactive face of the same state machine the JSON
// CLI drives. Arrow-key picks and text input come from @inquirer/prompts; every decision —
// what to ask, validation, edits, abort — is the native `Wizard`'s. The state is saved after
// every accepted answer, so Ctrl-C leaves a state file that `okstra wizard --state FILE`
// resumes. At the end the worktree can be provisioned right away (SPEC §5).
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { input, select } from '@inquirer/prompts'
import { Wizard, provisionTaskWorktree } from '../index.js'

const BACK = '\u0000back'

const TEXT = {
  ko: {
    resumed: (f) => `이어서 진행합니다: ${f}`,
    saved: (f) => `\n중단했습니다. 상태는 ${f} 에 저장되어 있습니다. \`okstra wizard --state ${f}\` 로 이어서 진행하세요.`,
    back: '← 뒤로',
    backHint: '(이전 질문으로 돌아가려면 < 를 입력하세요)',
    nothingBack: '더 돌아갈 질문이 없습니다.',
    provisionAsk: '지금 바로 worktree 를 준비할까요?',
    provisionYes: '예 — worktree 준비',
    provisionNo: '아니오 — 인자만 출력',
    provisioned: (p) => `worktree ${p.status}: ${p.path}${p.branch ? ` (브랜치 ${p.branch})` : ''}`,
    args: 'okstra render-bundle 인자:',
    aborted: '위저드가 중단되었습니다 (abort). 처음부터 하려면 상태 파일을 지우세요.',
  },
  en: {
    resumed: (f) => `Resuming: ${f}`,
    saved: (f) => `\nStopped. The state is saved in ${f}; resume with \`okstra wizard --state ${f}\`.`,
    back: '← Back',
    backHint: '(type < to go back to the previous question)',
    nothingBack: 'There is no earlier question to go back to.',
    provisionAsk: 'Provision the worktree right away?',
    provisionYes: 'Yes — provision the worktree',
    provisionNo: 'No — only print the arguments',
    provisioned: (p) => `worktree ${p.status}: ${p.path}${p.branch ? ` (branch ${p.branch})` : ''}`,
    args: 'okstra render-bundle arguments:',
    aborted: 'The wizard was aborted. Delete the state file to start over.',
  },
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      state: { type: 'string' },
      'project-root': { type: 'string' },
      'project-id': { type: 'string' },
      lang: { type: 'string' },
      home: { type: 'string' },
    },
  })
  const projectRoot = resolve(values['project-root'] ?? process.env.OKSTRA_PROJECT_ROOT ?? process.cwd())
  const stateFile = resolve(values.state ?? process.env.OKSTRA_WIZARD_STATE ?? `${projectRoot}/.okstra/wizard-state.json`)
  return { projectRoot, stateFile, projectId: values['project-id'], lang: values.lang, home: values.home }
}

/** Asks one prompt; returns the value to submit, or BACK. Text prompts validate inline. */
async function ask(prompt, wizard, t, canGoBack) {
  const message = prompt.help ? `${prompt.label}\n${prompt.help}` : prompt.label
  if (prompt.kind === 'pick') {
    const choices = prompt.options.map((o) => ({ name: o.label, value: o.value }))
    if (canGoBack) choices.push({ name: t.back, value: BACK })
    return select({ message, choices, pageSize: 12, loop: false })
  }
  return input({ message: canGoBack ? `${message} ${t.backHint}` : message })
}

async function askGroup(prompt, t) {
  const answers = {}
  for (const p of prompt.prompts) {
    const v = await input({ message: p.label })
    if (v === '<') return BACK
    answers[p.step] = v
  }
  return JSON.stringify(answers)
}

export async function main(argv) {
  const o = options(argv)
  let wizard
  const lang0 = o.lang === 'en' ? 'en' : 'ko'
  if (existsSync(o.stateFile)) {
    wizard = Wizard.load(o.stateFile)
    console.log(TEXT[JSON.parse(wizard.toJson()).lang === 'en' ? 'en' : 'ko'].resumed(o.stateFile))
  } else {
    wizard = Wizard.create({ projectRoot: o.projectRoot, projectId: o.projectId, lang: lang0, home: o.home })
    wizard.save(o.stateFile)
  }
  const t = TEXT[JSON.parse(wizard.toJson()).lang === 'en' ? 'en' : 'ko']
  const history = []
  try {
    for (;;) {
      const prompt = wizard.next()
      if (prompt.kind === 'aborted') {
        console.log(t.aborted)
        return 0
      }
      if (prompt.kind === 'done') break
      const value = prompt.kind === 'pick_group' ? await askGroup(prompt, t) : await ask(prompt, wizard, t, history.length > 0)
      if (value === BACK || (prompt.kind === 'text' && value === '<')) {
        if (history.length === 0) {
          console.log(t.nothingBack)
          continue
        }
        wizard = Wizard.fromJson(history.pop())
        wizard.save(o.stateFile)
        continue
      }
      const before = wizard.toJson()
      const r = wizard.submit(value)
      if (!r.ok) {
        console.log(`✗ ${r.error}`)
        continue
      }
      history.push(before)
      wizard.save(o.stateFile)
      if (r.echo) console.log(`✓ ${r.echo}`)
    }
    const args = wizard.renderArgs()
    console.log(t.args)
    for (const [k, v] of Object.entries(args)) if (v !== '') console.log(`  --${k} ${JSON.stringify(v)}`)
    const go = await select({ message: t.provisionAsk, choices: [{ name: t.provisionYes, value: true }, { name: t.provisionNo, value: false }] })
    if (go) {
      const p = provisionTaskWorktree({
        taskType: args['task-type'], projectRoot: args['project-root'], projectId: args['project-id'],
        taskGroup: args['task-group'], taskId: args['task-id'], workCategory: args['work-category'],
        baseRef: args['base-ref'] || undefined,
        stageNumber: /^\d+$/.test(args.stage) ? Number(args.stage) : undefined,
        home: o.home,
      })
      console.log(t.provisioned(p))
    }
    return 0
  } catch (e) {
    if (e && e.name === 'ExitPromptError') {
      console.log(t.saved(o.stateFile))
      return 130
    }
    throw e
  }
}
