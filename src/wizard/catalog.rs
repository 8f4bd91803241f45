//! Prompt texts: `prompts/wizard/ko.json` (the default) and `en.json`, compiled in
//! with `include_str!` and parsed once. Keys are step ids; every step and every fixed option
//! value has text in every catalog (checked by a test).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A catalog language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Korean, the default (the Python wizard's language).
    #[default]
    Ko,
    /// English.
    En,
}

impl Lang {
    /// Parses `ko` / `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ko" => Some(Lang::Ko),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The texts of one step.
#[derive(Debug, Deserialize)]
pub struct StepText {
    /// The question.
    pub label: String,
    /// Variants of the label keyed by situation (`label_final_verification`, `label_executor`,
    /// `label_reused`, …).
    #[serde(flatten)]
    pub variants: BTreeMap<String, serde_json::Value>,
    /// Longer help shown under the question.
    pub help: String,
    /// What is printed once answered; `{value}` is the answer.
    pub echo: String,
    /// Labels of the fixed option values.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl StepText {
    /// The label variant `name` (e.g. `label_reused`), or the plain label.
    pub fn label_variant(&self, name: &str) -> &str {
        self.variants
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or(&self.label)
    }
}

/// One language's texts.
#[derive(Debug, Deserialize)]
pub struct Catalog {
    /// The language code.
    pub lang: String,
    /// Texts by step id.
    pub steps: BTreeMap<String, StepText>,
    /// Rejection messages by key.
    pub errors: BTreeMap<String, String>,
    /// Words used by the confirmation block.
    pub summary: BTreeMap<String, String>,
    /// Texts of the interactive terminal (`bin/wizard-interactive.mjs` reads them from the
    /// shipped JSON; kept here so the completeness test covers them).
    pub terminal: BTreeMap<String, String>,
}

const KO: &str = include_str!("../../prompts/wizard/ko.json");
const EN: &str = include_str!("../../prompts/wizard/en.json");

fn parse(text: &'static str, name: &str) -> Catalog {
    // The catalogs are compiled in and checked by the tests: a parse failure is a build
    // defect, never input.
    serde_json::from_str(text).unwrap_or_else(|e| panic!("prompts/wizard/{name} is invalid: {e}"))
}

/// The catalog of `lang`.
pub fn catalog(lang: Lang) -> &'static Catalog {
    static KO_CAT: OnceLock<Catalog> = OnceLock::new();
    static EN_CAT: OnceLock<Catalog> = OnceLock::new();
    match lang {
        Lang::Ko => KO_CAT.get_or_init(|| parse(KO, "ko.json")),
        Lang::En => EN_CAT.get_or_init(|| parse(EN, "en.json")),
    }
}

/// Replaces each `{name}` in `template` by its value in one pass (a value holding `{…}` is
/// not filled again); a placeholder without a value is left as is. The one template filler
/// of the wizard's texts: the interactive terminal uses it too (`wizardText`).
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let value = (after[name_len..].starts_with('}'))
            .then(|| vars.iter().find(|(k, _)| *k == &after[..name_len]))
            .flatten();
        match value {
            Some((_, v)) => {
                out.push_str(v);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Catalog {
    /// The texts of `step`. Every step id has texts (a test checks it); a missing one falls
    /// back to the id so a UI never shows nothing.
    pub fn step(&self, step: &str) -> Option<&StepText> {
        self.steps.get(step)
    }

    /// The message `key` with its placeholders filled.
    pub fn error(&self, key: &str, vars: &[(&str, &str)]) -> String {
        fill(self.errors.get(key).map_or(key, String::as_str), vars)
    }

    /// The interactive terminal's text `key` with its placeholders filled, if the catalog
    /// has it.
    pub fn terminal_text(&self, key: &str, vars: &[(&str, &str)]) -> Option<String> {
        self.terminal.get(key).map(|t| fill(t, vars))
    }

    /// The summary word `key`.
    pub fn word<'s>(&'s self, key: &'s str) -> &'s str {
        self.summary.get(key).map_or(key, String::as_str)
    }
}
