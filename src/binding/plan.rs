//! The stage-map export.

use napi_derive::napi;

use crate::plan;

/// One stage of a plan's `## 5.5 Stage Map`.
// Mirrors `plan::Stage` field by field: the core carries no Node-API types.
#[napi(object, js_name = "PlanStage")]
pub struct JsStage {
    /// The stage number (`Stage 2` → 2).
    pub number: u32,
    /// The title, markdown emphasis removed; empty when the plan gives none.
    pub title: String,
    /// The stages it depends on, in the order written; empty for `(none)`.
    pub depends_on: Vec<u32>,
}

/// The stages found and every problem found.
#[napi(object)]
pub struct StageMap {
    /// Stages in document order; a duplicated number keeps its first entry.
    pub stages: Vec<JsStage>,
    /// Readable sentences: a missing section, unreadable rows, duplicate numbers, unknown
    /// dependencies, dependency cycles. Empty when the map is sound.
    pub errors: Vec<String>,
}

/// Reads the `## 5.5 Stage Map` section of an implementation-planning report, as a
/// markdown table (`| Stage | Title | Depends on |`) or a list (`- Stage 2: Title —
/// depends-on: 1`); `(none)` means no dependencies. Never throws: problems are returned
/// in `errors`.
#[napi]
pub fn parse_stage_map(markdown: String) -> StageMap {
    let map = plan::parse_stage_map(&markdown);
    StageMap {
        stages: map
            .stages
            .into_iter()
            .map(|s| JsStage {
                number: s.number,
                title: s.title,
                depends_on: s.depends_on,
            })
            .collect(),
        errors: map.errors,
    }
}
