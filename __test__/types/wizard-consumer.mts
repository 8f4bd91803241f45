// The Wizard class as a TypeScript user writes it, type-checked against index.d.ts.
import { Wizard, type Prompt, type SubmitResult } from '@okstra/native'

const w: Wizard = Wizard.create({ projectRoot: '/src/shop', lang: 'en', groups: true })
const p: Prompt = w.next()
const kind: 'pick' | 'text' | 'pick_group' | 'done' | 'aborted' = p.kind
const values: string[] = p.options.map((o) => o.value)
const members: Prompt[] | null = p.prompts
const r: SubmitResult = w.submit('implementation')
const error: string | null = r.ok ? null : r.error
const args: Record<string, string> = Wizard.fromJson(w.toJson()).renderArgs()
const text: string = Wizard.load('/tmp/s.json').confirmationBlock()
w.save('/tmp/s.json')
export { kind, values, members, error, args, text }
export const pending: Promise<SubmitResult> = w.submitAsync('x')
export const nextPending: Promise<Prompt> = w.nextAsync()
