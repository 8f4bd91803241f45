// `okstra wizard` on a terminal: the interactive face of the same state machine the JSON
// CLI drives. Arrow-key picks and text input come from @inquirer/prompts; every decision —
// what to ask, validation, edits, abort — is the native `Wizard`'s. The state is saved after
// every accepted answer, so Ctrl-C leaves a state file that `okstra wizard --state FILE`
// resumes. At the end the worktree can be provisioned right away (SPEC §5).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { input, select } from '@inquirer/prompts'
import { Wizard, provisionTaskWorktree } from '../index.js'

const BACK = '\u0000back'

const here = dirname(fileURLToPath(import.meta.url))

/** The terminal texts of the wizard's catalog (`prompts/wizard/<lang>.json`, `terminal`). */
function texts(lang) {
  const cat = JSON.parse(readFileSync(join(here, '..', 'prompts', 'wizard', `${lang}.json`), 'utf8'))
  return (key, vars = {}) => cat.terminal[key].replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m))
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
async function ask(prompt, t, canGoBack) {
  const message = prompt.help ? `${prompt.label}\n${prompt.help}` : prompt.label
  if (prompt.kind === 'pick') {
    const choices = prompt.options.map((o) => ({ name: o.label, value: o.value }))
    if (canGoBack) choices.push({ name: t('back'), value: BACK })
    return select({ message, choices, pageSize: 12, loop: false })
  }
  return input({ message: canGoBack ? `${message} ${t('back_hint')}` : message })
}

async function askGroup(prompt) {
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
  const resumed = existsSync(o.stateFile)
  if (resumed) {
    wizard = Wizard.load(o.stateFile)
  } else {
    wizard = Wizard.create({ projectRoot: o.projectRoot, projectId: o.projectId, lang: o.lang, home: o.home })
    wizard.save(o.stateFile)
  }
  const t = texts(JSON.parse(wizard.toJson()).lang)
  if (resumed) console.log(t('resumed', { file: o.stateFile }))
  const history = []
  try {
    for (;;) {
      const prompt = wizard.next()
      if (prompt.kind === 'aborted') {
        console.log(t('aborted'))
        return 0
      }
      if (prompt.kind === 'done') break
      const value = prompt.kind === 'pick_group' ? await askGroup(prompt) : await ask(prompt, t, history.length > 0)
      if (value === BACK || (prompt.kind === 'text' && value === '<')) {
        if (history.length === 0) {
          console.log(t('nothing_back'))
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
    console.log(t('args'))
    for (const [k, v] of Object.entries(args)) if (v !== '') console.log(`  --${k} ${JSON.stringify(v)}`)
    const go = await select({
      message: t('provision_ask'),
      choices: [{ name: t('provision_yes'), value: true }, { name: t('provision_no'), value: false }],
    })
    if (go) {
      const p = provisionTaskWorktree({
        taskType: args['task-type'], projectRoot: args['project-root'], projectId: args['project-id'],
        taskGroup: args['task-group'], taskId: args['task-id'], workCategory: args['work-category'],
        baseRef: args['base-ref'] || undefined,
        stageNumber: /^\d+$/.test(args.stage) ? Number(args.stage) : undefined,
        home: o.home,
      })
      console.log(t('provisioned', { status: p.status, path: p.path, branch: p.branch ? `(${p.branch})` : '' }))
    }
    return 0
  } catch (e) {
    if (e && e.name === 'ExitPromptError') {
      console.log(`\n${t('saved', { file: o.stateFile })}`)
      return 130
    }
    throw e
  }
}
