//! One id, one entry: which registry row a key typed by a caller names.
//!
//! Provisioning registers every key slugged (`Checkout 500` → `checkout-500`), so every
//! other door slugs the same text the same way. The Python helper's registry calls stored
//! the key text as given, so a row may exist under raw text (`shop/pay/Checkout 500`): when
//! no row has the slugged key but one has the raw text, that row is the entry. The rule is
//! in `docs/formats.md` ("One id, one entry").

use super::{Registry, Result};
use crate::ids::KeyParts;
use crate::key_ref::Addressed;

impl Registry {
    /// The key `raw` (segments as the caller gave them) names: the slugged key, unless no
    /// row has it and a row has the raw text. Reads without a lock, like [`Registry::lookup`];
    /// a writer re-reads under the registry lock, so the answer is only a choice of key.
    pub fn resolve(&self, raw: &KeyParts) -> Result<KeyParts> {
        let slug = raw.slugged();
        if slug == *raw || self.lookup(&slug)?.is_some() || self.lookup(raw)?.is_none() {
            return Ok(slug);
        }
        Ok(raw.clone())
    }

    /// The key options address: an entry's exact `taskKey` as written, else the parts
    /// resolved ([`Registry::resolve`]).
    pub fn resolve_addressed(&self, a: &Addressed) -> Result<KeyParts> {
        match a {
            Addressed::Exact(k) => Ok(k.clone()),
            Addressed::Parts(k) => self.resolve(k),
        }
    }
}
