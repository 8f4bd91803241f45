//! One id, one entry in the ledger: which `impl_task_key` a key text given by a caller
//! names. Provisioning registers keys slugged (`shop/pay/Checkout 500` is
//! `shop/pay/checkout-500`), so the ledger doors slug the same text the same way; rows the
//! Python helper appended under raw text stay that task's rows: when no row has the slugged
//! key but one has the raw text, the raw text is the key. The rule is in
//! `docs/formats.md` ("One id, one entry").

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
