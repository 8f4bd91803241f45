//! One id, one entry in the ledger: which `impl_task_key` a key text given by a caller
//! names. Provisioning registers keys slugged (`shop/pay/Checkout 500` is
//! `shop/pay/checkout-500`), so the ledger doors slug the same text the same way; rows the
//! Python helper appended under raw text stay that task's rows: when no row has the slugged
//! key but one has the raw text, the raw text is the key. The rule is in
//! `docs/formats.md` ("One id, one entry").

use std::collections::HashMap;

use serde_json::Value;

use super::{Ledger, LedgerError};
use crate::ids;

impl Ledger {
    /// The `impl_task_key` that `raw` names here: [`ids::normalize_key`] of it, unless no
    /// row has that and a row has `raw` as written. Text already slugged (or not shaped
    /// like a key) is returned at once, without reading the ledger.
    pub fn resolve_key(&self, raw: &str) -> Result<String, LedgerError> {
        let slug = ids::normalize_key(raw);
        if slug == raw || !self.path().is_file() {
            return Ok(slug);
        }
        let rows = self.read()?.rows;
        let has = |k: &str| {
            rows.iter()
                .any(|r| r.get("impl_task_key").and_then(Value::as_str) == Some(k))
        };
        Ok(if !has(&slug) && has(raw) {
            raw.to_string()
        } else {
            slug
        })
    }
}

/// A ledger's rows grouped by task under the same rule, for a reader that asks about many
/// keys after one read: [`TaskRows::of`] gives the rows of the task a key names.
#[derive(Debug, Default)]
pub struct TaskRows<'a> {
    /// Slugged key → every row whose `impl_task_key` slugs to it, with that key as written.
    by_slug: HashMap<String, Vec<(&'a str, &'a Value)>>,
}

impl<'a> TaskRows<'a> {
    /// Groups `rows` (rows without a string `impl_task_key` belong to no task).
    pub fn new(rows: &'a [Value]) -> TaskRows<'a> {
        let mut by_slug: HashMap<String, Vec<(&'a str, &'a Value)>> = HashMap::new();
        for r in rows {
            if let Some(k) = r.get("impl_task_key").and_then(Value::as_str) {
                by_slug
                    .entry(ids::normalize_key(k))
                    .or_default()
                    .push((k, r));
            }
        }
        TaskRows { by_slug }
    }

    /// The rows of the task `key` names, in file order: the rows under its slugged key when
    /// there are any (the slugged one wins, as in [`Ledger::resolve_key`]); else the rows
    /// under `key` as written, when it is raw text the rows use; else the rows under any
    /// raw text that slugs to the same key (a slugged key from the registry finds the rows
    /// the Python helper appended under raw text).
    pub fn of(&self, key: &str) -> Vec<&'a Value> {
        let slug = ids::normalize_key(key);
        let Some(group) = self.by_slug.get(&slug) else {
            return Vec::new();
        };
        let pick = |want: &str| -> Vec<&'a Value> {
            group
                .iter()
                .filter(|(k, _)| *k == want)
                .map(|(_, r)| *r)
                .collect()
        };
        let slugged = pick(&slug);
        if !slugged.is_empty() {
            return slugged;
        }
        let raw = pick(key);
        if !raw.is_empty() {
            return raw;
        }
        group.iter().map(|(_, r)| *r).collect()
    }
}
