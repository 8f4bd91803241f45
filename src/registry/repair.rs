//! `registry repair`: recovers a corrupt `registry.json` (moved aside, valid rows kept) and
//! restores the registry's invariants (one active row per branch, an exact branch index).

use serde::Serialize;

use super::store::Doc;
use super::{Registry, Result, REGISTRY_FILE};
use crate::fsio;

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairReport {
    /// Where the corrupt file was moved, or `None` when it was valid JSON.
    pub moved_to: Option<String>,
    pub salvaged: u32,
    pub dropped: u32,
    /// Keys that were a second active row on one branch and were released (the newest row
    /// of each branch keeps it).
    pub released: Vec<String>,
    /// Branch index entries dropped (to missing, released or moved keys), fixed or added.
    pub index_fixed: u32,
}

impl Registry {
    /// Recovers from a corrupt registry: copies it aside to
    /// `registry.json.corrupt-<timestamp>` (fsynced) and then atomically replaces it with
    /// the rows that are still valid, so a crash in between leaves the corrupt file in
    /// place. Then (and for a valid registry too) restores the invariants: one active row
    /// per branch (the newest; the others are released and listed) and a branch index that
    /// maps exactly the active rows. A sound registry is left untouched. A file that cannot
    /// be read is `E_IO` and is not touched.
    pub fn repair(&self) -> Result<RepairReport> {
        let _guard = self.lock()?;
        let file = self.file();
        let Some(bytes) = Doc::read_bytes(&file)? else {
            return Ok(RepairReport {
                moved_to: None,
                salvaged: 0,
                dropped: 0,
                released: Vec::new(),
                index_fixed: 0,
            });
        };
        if let Ok((mut doc, _)) = Doc::from_bytes(&file, &bytes) {
            let restored = doc.restore_invariants();
            if !restored.released.is_empty() || restored.index_fixed > 0 {
                doc.save(&file)?;
            }
            return Ok(RepairReport {
                moved_to: None,
                salvaged: doc.tasks().len() as u32,
                dropped: 0,
                released: restored.released,
                index_fixed: restored.index_fixed,
            });
        }
        let (mut doc, dropped) = Doc::salvage(&bytes);
        let restored = doc.restore_invariants();
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S");
        let mut aside = self.root.join(format!("{REGISTRY_FILE}.corrupt-{stamp}"));
        let mut n = 1;
        while aside.exists() {
            aside = self
                .root
                .join(format!("{REGISTRY_FILE}.corrupt-{stamp}-{n}"));
            n += 1;
        }
        fsio::atomic_write(&aside, &bytes)?;
        doc.save(&file)?;
        Ok(RepairReport {
            moved_to: Some(aside.to_string_lossy().into_owned()),
            salvaged: doc.tasks().len() as u32,
            dropped: dropped as u32,
            released: restored.released,
            index_fixed: restored.index_fixed,
        })
    }
}
