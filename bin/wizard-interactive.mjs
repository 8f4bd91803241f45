// `okstra wizard` on a terminal: the interactive face of the same state machine the JSON
// CLI drives. Arrow-key picks and text input come from @inquirer/prompts; every decision —
// what to ask, validation, edits, Back, abort — is the native `Wizard`'s. The state is
// saved after every accepted answer (with its Back history), so Ctrl-C leaves a state file
// that `okstra wizard` resumes, in the language `--lang` asks for. A finished or aborted run
// never blocks the next one: it asks whether to start a new run (`--new` starts one
// outright). At the end the worktree can be provisioned right away.
import { existsSync } from 'node:fs'
import { input, select } from '@inquirer/prompts'
import { Wizard, wizardText } from '../index.js'

const BACK = '\u0000back'

/** The terminal texts of the wizard's catalog in `lang`, filled by the core. */
function texts(lang) {
  return (key, vars = {}) => wizardText(lang, key, vars)
}

const langOf = (wizard) => JSON.parse(wizard.toJson()).lang

/** Asks one prompt; returns the value to submit, or BACK. */
async function ask(prompt, t) {
  const message = prompt.help ? `${prompt.label}\n${prompt.help}` : prompt.label
  if (prompt.kind === 'pick') {
    const choices = prompt.options.map((o) => ({ name: o.label, value: o.value }))
    if (prompt.canGoBack) choices.push({ name: t('back'), value: BACK })
    return select({ message, choices, pageSize: 12, loop: false })
  }
  const v = await input({ message: prompt.canGoBack ? `${message} ${t('back_hint')}` : message })
  return prompt.canGoBack && v === '<' ? BACK : v
}

async function askGroup(prompt) {
  const answers = {}
  for (const p of prompt.prompts) {
    const v = await input({ message: p.label })
    if (v === '<' && prompt.canGoBack) return BACK
    answers[p.step] = v
  }
  return JSON.stringify(answers)
}

/** The wizard to run: a new one, or the saved one (asking first when it is finished). */
async function open(o) {
  const fresh = () => Wizard.create({ projectRoot: o.projectRoot, projectId: o.projectId, lang: o.lang, home: o.home })
  if (o.fresh || !existsSync(o.stateFile)) return { wizard: fresh(), resumed: false }
  const saved = Wizard.load(o.stateFile)
  if (o.lang) saved.setLang(o.lang)
  const t = texts(langOf(saved))
  const finished = saved.finished()
  if (!finished) {
    console.log(t('resumed', { file: o.stateFile }))
    return { wizard: saved, resumed: true }
  }
  console.log(t(`finished_${finished}`, { file: o.stateFile }))
  const again = await select({
    message: t('new_run_ask'),
    choices: [{ name: t('new_run_yes'), value: true }, { name: t(`new_run_no_${finished}`), value: false }],
  })
  if (!again) return { wizard: saved, resumed: true }
  const wizard = Wizard.create({ projectRoot: o.projectRoot, projectId: o.projectId, lang: o.lang ?? langOf(saved), home: o.home })
  console.log(texts(langOf(wizard))('started_new', { file: o.stateFile }))
  return { wizard, resumed: false }
}

/**
 * Runs the interactive wizard with the options `wizardInteractiveOptions` parsed (the
 * project root found from the start directory, the absolute state file, `fresh` for --new).
 */
export async function main(o) {
  let t = texts(o.lang === 'en' ? 'en' : 'ko')
  try {
    const { wizard } = await open(o)
    t = texts(langOf(wizard))
    // Saved from the first accepted answer on (and now, when --lang changed a resumed one).
    if (existsSync(o.stateFile)) wizard.save(o.stateFile)
    for (;;) {
      const prompt = wizard.next()
      if (prompt.kind === 'aborted') {
        console.log(t('aborted'))
        return 0
      }
      if (prompt.kind === 'done') break
      const value = prompt.kind === 'pick_group' ? await askGroup(prompt) : await ask(prompt, t)
      if (value === BACK) {
        if (!wizard.back()) console.log(t('nothing_back'))
        else wizard.save(o.stateFile)
        continue
      }
      const r = wizard.submit(value)
      if (!r.ok) {
        console.log(`✗ ${r.error}`)
        continue
      }
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
      const p = wizard.provision()
      const key = `provisioned_${p.status.replace(/-/g, '_')}`
      console.log(t(key, { path: p.path, branch: p.branch, base: p.baseRef.slice(0, 12) }))
    }
    return 0
  } catch (e) {
    if (e && e.name === 'ExitPromptError') {
      console.log(existsSync(o.stateFile) ? `\n${t('saved', { file: o.stateFile })}` : '')
      return 130
    }
    throw e
  }
}
