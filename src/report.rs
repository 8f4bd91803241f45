//! okstra reports on disk: a report is a markdown file (`….md`) with its data beside it
//! (`….data.json`, the source of truth the markdown is rendered from). The approved plan
//! the wizard checks and the final report handoff records are both read through here.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The data file of a report. A path ending in `.json` already is the data file and is
/// returned as given (so `….data.json` may be passed where a report is expected); any other
/// path has its extension (normally `.md`) replaced: `final-report-3.md` →
/// `final-report-3.data.json`, `plan` → `plan.data.json`.
pub fn data_path(report: &Path) -> PathBuf {
    if report.extension().is_some_and(|e| e == "json") {
        return report.to_path_buf();
    }
    let stem = report
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    report.with_file_name(format!("{stem}.data.json"))
}

/// Field `key` of report data: at the top level, else under `meta` (report writers put
/// the header fields in either place).
pub fn field<'a>(data: &'a Value, key: &str) -> Option<&'a Value> {
    data.get(key)
        .or_else(|| data.get("meta").and_then(|m| m.get(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_path_replaces_the_markdown_extension_and_keeps_a_data_file() {
        let cases = [
            ("/r/final-report-3.md", "/r/final-report-3.data.json"),
            ("/r/a.b.md", "/r/a.b.data.json"),
            ("/r/plan", "/r/plan.data.json"),
            ("/r/final-report-3.data.json", "/r/final-report-3.data.json"),
            ("/r/data.json", "/r/data.json"),
            ("rel/x.md", "rel/x.data.json"),
        ];
        for (report, want) in cases {
            assert_eq!(
                data_path(Path::new(report)),
                PathBuf::from(want),
                "{report}"
            );
        }
    }

    #[test]
    fn field_prefers_the_top_level_then_meta() {
        let d = json!({"taskType": "a", "meta": {"taskType": "b", "stage": 2}});
        assert_eq!(field(&d, "taskType"), Some(&json!("a")));
        assert_eq!(field(&d, "stage"), Some(&json!(2)));
        assert_eq!(field(&d, "verdict"), None);
        assert_eq!(field(&json!({"meta": 3}), "x"), None);
    }
}
