//! The engine over the step table: [`next`] is the first step of [`STEPS`] that applies and
//! is not answered yet; [`apply`] validates an answer with the step's record and applies it
//! to a copy of the state. Nothing here knows a step by name.

use super::catalog::fill;
use super::ctx::Ctx;
use super::state::WizardState;
use super::step_id::StepId;
use super::steps::{reject, Answer, Options, Refusal, Step, GROUP, STEPS};
use super::{Prompt, PromptKind, Rejection, WizardError};
use crate::error::InvalidArg;

/// A prompt of `kind` with the catalog's texts of `id` (the id itself when it has none).
fn text_prompt(cx: &Ctx<'_>, id: &str, kind: PromptKind) -> Prompt {
    let text = cx.cat.step(id);
    Prompt {
        step: id.into(),
        kind,
        label: text.map_or(id, |t| t.label.as_str()).into(),
        options: Vec::new(),
        help: text.map_or("", |t| t.help.as_str()).into(),
        echo_template: text.map_or("", |t| t.echo.as_str()).into(),
        prompts: Vec::new(),
        can_go_back: !cx.st.history.is_empty(),
    }
}

/// The prompt of `step`: its texts, its fixed options, then its prompt hook.
fn build(cx: &Ctx<'_>, step: &Step) -> Result<Prompt, WizardError> {
    let kind = match step.options {
        Options::Text => PromptKind::Text,
        Options::Pick(_) | Options::EditFields => PromptKind::Pick,
    };
    let mut p = text_prompt(cx, step.id.as_str(), kind);
    p.options = step
        .options
        .values()
        .iter()
        .map(|v| cx.opt(step.id, v))
        .collect();
    if let Some(hook) = step.prompt {
        hook(cx, &mut p)?;
    }
    Ok(p)
}

fn pending(cx: &Ctx<'_>, step: &Step) -> Result<bool, WizardError> {
    Ok(cx.st.answer(step.id).is_none() && (step.when)(cx)?)
}

/// The prompt to show for `st`.
pub fn next(st: &WizardState) -> Result<Prompt, WizardError> {
    let cx = Ctx::new(st);
    if st.now.aborted {
        return Ok(text_prompt(&cx, "aborted", PromptKind::Aborted));
    }
    if st.is(StepId::Confirm, "proceed") {
        return Ok(text_prompt(&cx, "done", PromptKind::Done));
    }
    for step in STEPS {
        if !pending(&cx, step)? {
            continue;
        }
        if st.groups && step.groupable {
            let mut members = Vec::new();
            for s in STEPS.iter().filter(|s| s.groupable) {
                if pending(&cx, s)? {
                    members.push(build(&cx, s)?);
                }
            }
            if members.len() > 1 {
                let mut group = text_prompt(&cx, GROUP, PromptKind::PickGroup);
                group.prompts = members;
                return Ok(group);
            }
        }
        return build(&cx, step);
    }
    Ok(text_prompt(&cx, "done", PromptKind::Done))
}

/// Applies `value` as the answer to `prompt` onto `draft` (a copy of `st`). `Ok(Err(..))` is
/// a rejected answer; `Err(..)` a failure to read or write the project.
pub fn apply(
    st: &WizardState,
    draft: &mut WizardState,
    prompt: &Prompt,
    value: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    if prompt.kind == PromptKind::PickGroup {
        return apply_group(draft, prompt, value);
    }
    apply_one(&Ctx::new(st), draft, prompt, value)
}

fn apply_group(
    draft: &mut WizardState,
    prompt: &Prompt,
    value: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    let allowed: Vec<&str> = prompt.prompts.iter().map(|p| p.step.as_str()).collect();
    let parsed: serde_json::Value = match serde_json::from_str(value) {
        Ok(v) => v,
        Err(e) => return Ok(Err(reject("bad_group_value").var("detail", &e.to_string()))),
    };
    let Some(obj) = parsed.as_object() else {
        return Ok(Err(reject("bad_group_value").var("detail", "not an object")));
    };
    if let Some(bad) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Ok(Err(reject("unknown_group_step")
            .var("value", bad)
            .var("allowed", &allowed.join(", "))));
    }
    let mut echoes = Vec::new();
    for p in &prompt.prompts {
        let v = match obj.get(&p.step) {
            None => "",
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(other) => {
                return Ok(Err(reject("bad_group_value")
                    .var("detail", &format!("{}: {other} is not a string", p.step))))
            }
        };
        // Each member is independent of the others: validate it against the state so far.
        let snapshot = draft.clone();
        let cx = Ctx::new(&snapshot);
        match apply_one(&cx, draft, p, v)? {
            Ok(echo) => echoes.push(echo),
            Err(r) => {
                let detail = r.message(cx.cat);
                return Ok(Err(Rejection::new("in_group", r.code)
                    .var("step", &p.step)
                    .var("detail", &detail)));
            }
        }
    }
    Ok(Ok(echoes.join("\n")))
}

/// The pick check (a value, one of the options), then the step's accept hook.
fn accept(cx: &Ctx<'_>, step: &Step, prompt: &Prompt, a: &mut Answer<'_>) -> Result<(), Refusal> {
    if prompt.kind == PromptKind::Pick {
        if a.value.is_empty() {
            return Err(reject("required").into());
        }
        if !prompt.options.iter().any(|o| o.value == a.value) {
            let allowed: Vec<&str> = prompt.options.iter().map(|o| o.value.as_str()).collect();
            return Err((step.unknown)(cx, a.value, &allowed.join(", ")).into());
        }
    }
    match step.accept {
        Some(hook) => hook(cx, a),
        None => Ok(()),
    }
}

fn apply_one(
    cx: &Ctx<'_>,
    draft: &mut WizardState,
    prompt: &Prompt,
    raw: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    let step = StepId::parse(&prompt.step)
        .and_then(|id| STEPS.iter().find(|s| s.id == id))
        .ok_or_else(|| {
            WizardError::InvalidArg(InvalidArg(format!("{} is not a step", prompt.step)))
        })?;
    let value = raw.trim();
    let mut a = Answer {
        draft,
        value,
        shown: value.to_string(),
        record: true,
    };
    match accept(cx, step, prompt, &mut a) {
        Ok(()) => {}
        Err(Refusal::Rejected(r)) => return Ok(Err(r)),
        Err(Refusal::Failed(e)) => return Err(e),
    }
    if a.record {
        a.draft
            .now
            .answers
            .insert(step.id.as_str().to_string(), a.shown.clone());
    }
    let display = if a.shown.is_empty() {
        cx.cat.word("default").to_string()
    } else {
        a.shown
    };
    Ok(Ok(fill(&prompt.echo_template, &[("value", &display)])))
}
