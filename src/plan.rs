//! The `## 5.5 Stage Map` of an approved implementation-planning report: which
//! stages the plan has, their titles, and which stages each depends on.
//!
//! Two forms are read, as plan writers use both:
//!
//! ```markdown
//! ## 5.5 Stage Map
//! | Stage | Title | Depends on |
//! |---|---|---|
//! | 1 | Schema | (none) |
//! | 2 | API | 1 |
//!
//! ## 5.5 Stage Map
//! - Stage 1: Schema — depends-on: (none)
//! - **Stage 2** — API (depends-on: 1)
//! ```
//!
//! Parsing never fails: what cannot be read becomes a readable sentence in
//! [`StageMap::errors`] (duplicate stage numbers, unknown dependencies, cycles, a missing
//! section), so a wizard can show the stages it did find next to what is wrong.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The most stages a Stage Map may list; rows beyond it are not read and the map reports
/// an error (a plan has a handful of stages; this bounds the work any input can cause).
pub const MAX_STAGES: usize = 1000;

/// The largest plan text read, in bytes; a larger one is reported as an error unread.
pub const MAX_PLAN_BYTES: usize = 8 * 1024 * 1024;

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage number as written (`Stage 2` → 2).
    pub number: u32,
    /// The stage title, markdown emphasis removed; empty when the plan gives none.
    pub title: String,
    /// Stages this one depends on, in the order written; empty for `(none)`.
    pub depends_on: Vec<u32>,
}

/// The parsed section: the stages in document order (a duplicate number keeps its first
/// row) and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageMap {
    pub stages: Vec<Stage>,
    pub errors: Vec<String>,
}

impl StageMap {
    /// The stage with this number.
    pub fn get(&self, number: u32) -> Option<&Stage> {
        self.stages.iter().find(|s| s.number == number)
    }
}

/// Reads a plan file as text, refusing (with a readable reason) one that is not a regular
/// file or is larger than [`MAX_PLAN_BYTES`], before reading it.
pub fn read_plan(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    // Never through a symlink at the file, never a FIFO or device (opening a FIFO for
    // reading would wait for a writer forever): see crate::safe_open.
    let file = match crate::safe_open::open_file(path, crate::safe_open::Access::Read) {
        Ok(Some(file)) => file,
        Ok(None) => return Err("cannot read it (it does not exist)".into()),
        Err(crate::fsio::FsError::Unsafe { what, .. }) => {
            return Err(format!(
                "it is not a regular file ({what}; okstra opens no symlink, FIFO or device \
                 there)"
            ))
        }
        Err(e) => return Err(format!("cannot read it ({e})")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it ({e})"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_PLAN_BYTES as u64 {
        return Err(format!(
            "it is {} bytes, more than the {MAX_PLAN_BYTES} bytes a plan may have",
            meta.len()
        ));
    }
    let mut text = String::new();
    file.take(MAX_PLAN_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it ({e})"))?;
    Ok(text)
}

/// Reads the `## 5.5 Stage Map` section (any heading level whose text mentions
/// "Stage Map") of a plan report. See the module docs for the accepted forms.
pub fn parse_stage_map(markdown: &str) -> StageMap {
    let mut map = StageMap::default();
    if markdown.len() > MAX_PLAN_BYTES {
        map.errors.push(format!(
            "the plan is {} bytes, more than the {MAX_PLAN_BYTES} bytes a plan may have; it \
             was not read",
            markdown.len()
        ));
        return map;
    }
    let Some(section) = find_section(markdown) else {
        map.errors.push(
            "the plan has no `## 5.5 Stage Map` section; add one listing every stage and \
             what it depends on"
                .to_string(),
        );
        return map;
    };
    let rows = match parse_table(&section) {
        Some(rows) => rows,
        None => parse_bullets(&section),
    };
    let mut rows = rows;
    if rows.len() > MAX_STAGES {
        map.errors.push(format!(
            "the Stage Map lists {} entries, more than the {MAX_STAGES} a plan may have; only \
             the first {MAX_STAGES} were read. Split the plan",
            rows.len()
        ));
        rows.truncate(MAX_STAGES);
    }
    let mut seen = BTreeSet::new();
    for row in rows {
        match row {
            Err(e) => map.errors.push(e),
            Ok(stage) => {
                if seen.insert(stage.number) {
                    map.stages.push(stage);
                } else {
                    map.errors.push(format!(
                        "stage {} is listed more than once in the Stage Map; the first entry \
                         is used",
                        stage.number
                    ));
                }
            }
        }
    }
    if map.stages.is_empty() && map.errors.is_empty() {
        map.errors
            .push("the Stage Map section lists no stages".to_string());
    }
    for s in &map.stages {
        for d in &s.depends_on {
            if *d == s.number {
                map.errors
                    .push(format!("stage {} depends on itself", s.number));
            } else if !seen.contains(d) {
                map.errors.push(format!(
                    "stage {} depends on stage {d}, which is not in the Stage Map",
                    s.number
                ));
            }
        }
    }
    for cycle in find_cycles(&map.stages) {
        let path: Vec<String> = cycle.iter().map(u32::to_string).collect();
        map.errors.push(format!(
            "stages {} form a dependency cycle; one of them must not depend on the other",
            path.join(" → ")
        ));
    }
    map
}

/// Orders `stages` so every stage comes after the stages it depends on, lowest number
/// first among equals. Dependencies outside `stages` count as satisfied (they are merged
/// already or not part of this selection). Returns the stages left in a cycle as `Err`.
pub fn dependency_order(stages: &[Stage]) -> Result<Vec<u32>, Vec<u32>> {
    let members: BTreeSet<u32> = stages.iter().map(|s| s.number).collect();
    let mut pending: BTreeMap<u32, BTreeSet<u32>> = stages
        .iter()
        .map(|s| {
            let deps = s
                .depends_on
                .iter()
                .copied()
                .filter(|d| members.contains(d))
                .collect();
            (s.number, deps)
        })
        .collect();
    let mut order = Vec::with_capacity(pending.len());
    // The maps are tiny (a plan has a handful of stages): a quadratic scan is clearest.
    while let Some(next) = pending
        .iter()
        .find(|(_, deps)| deps.is_empty())
        .map(|(n, _)| *n)
    {
        pending.remove(&next);
        for deps in pending.values_mut() {
            deps.remove(&next);
        }
        order.push(next);
    }
    if pending.is_empty() {
        Ok(order)
    } else {
        Err(pending.into_keys().collect())
    }
}

/// Each elementary cycle found by a depth-first walk, as `a → b → … → a`. The walk is
/// iterative (an explicit stack), and linear in stages plus dependencies, so no input can
/// exhaust the call stack.
fn find_cycles(stages: &[Stage]) -> Vec<Vec<u32>> {
    let edges: BTreeMap<u32, &[u32]> = stages
        .iter()
        .map(|s| (s.number, s.depends_on.as_slice()))
        .collect();
    let mut done = BTreeSet::new();
    let mut cycles = Vec::new();
    for &start in edges.keys() {
        if done.contains(&start) {
            continue;
        }
        // `path` is the current walk; `on_path` its positions; `stack` each step's next
        // dependency to visit.
        let mut path = vec![start];
        let mut on_path = HashMap::from([(start, 0usize)]);
        let mut stack = vec![(start, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let deps = edges.get(&node).copied().unwrap_or_default();
            let Some(&d) = deps.get(next) else {
                stack.pop();
                path.pop();
                on_path.remove(&node);
                done.insert(node);
                continue;
            };
            top.1 += 1;
            if !edges.contains_key(&d) || done.contains(&d) {
                continue;
            }
            if let Some(&pos) = on_path.get(&d) {
                // Self-dependencies are reported on their own.
                if path.len() - pos > 1 {
                    let mut cycle = path[pos..].to_vec();
                    cycle.push(d);
                    cycles.push(cycle);
                }
                continue;
            }
            on_path.insert(d, path.len());
            path.push(d);
            stack.push((d, 0));
        }
    }
    cycles
}

/// The lines of the Stage Map section, heading excluded; `None` without one. Headings
/// inside fenced code blocks do not count.
fn find_section(markdown: &str) -> Option<Vec<&str>> {
    let mut in_fence = false;
    let mut level_and_body: Option<(usize, Vec<&str>)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
        if is_fence {
            in_fence = !in_fence;
        }
        let heading = if in_fence || is_fence {
            None
        } else {
            heading_level(trimmed)
        };
        match (&mut level_and_body, heading) {
            (None, Some((_, text))) if is_stage_map_heading(text) => {
                level_and_body = heading.map(|(level, _)| (level, Vec::new()));
            }
            (Some((level, body)), Some((l, _))) if l <= *level => {
                return Some(std::mem::take(body));
            }
            (Some((_, body)), _) => body.push(line),
            _ => {}
        }
    }
    level_and_body.map(|(_, body)| body)
}

/// `## Text` → `(2, "Text")`.
fn heading_level(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[level..];
    if (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
        Some((level, rest.trim().trim_end_matches('#').trim()))
    } else {
        None
    }
}

fn is_stage_map_heading(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("stage map") || lower.contains("stage-map")
}

type Row = Result<Stage, String>;

/// Table rows, or `None` when the section holds no table with a header.
fn parse_table(section: &[&str]) -> Option<Vec<Row>> {
    let table: Vec<Vec<String>> = section
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('|'))
        .map(split_row)
        .collect();
    let sep = table.iter().position(|cells| is_separator(cells))?;
    let header = table.get(sep.checked_sub(1)?)?;
    let cols = Columns::from_header(header);
    let rows = table[sep + 1..]
        .iter()
        .filter(|cells| !is_separator(cells) && cells.iter().any(|c| !c.is_empty()))
        .map(|cells| cols.row(cells))
        .collect();
    Some(rows)
}

fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn is_separator(cells: &[String]) -> bool {
    !cells.is_empty()
        && cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

/// Which table column holds what.
struct Columns {
    number: usize,
    title: Option<usize>,
    depends: Option<usize>,
}

const DEPENDS_WORDS: &[&str] = &["depend", "deps", "prereq", "의존", "선행"];
const TITLE_WORDS: &[&str] = &[
    "title", "name", "goal", "summary", "scope", "제목", "이름", "목표", "내용", "설명", "범위",
];
const NUMBER_WORDS: &[&str] = &["stage", "#", "no", "id", "번호", "단계", "스테이지"];

impl Columns {
    fn from_header(header: &[String]) -> Columns {
        let lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
        let find = |words: &[&str], skip: &[Option<usize>]| {
            lower
                .iter()
                .enumerate()
                .position(|(i, h)| !skip.contains(&Some(i)) && words.iter().any(|w| h.contains(w)))
        };
        let depends = find(DEPENDS_WORDS, &[]);
        let title = find(TITLE_WORDS, &[depends]);
        let number = find(NUMBER_WORDS, &[depends, title]).unwrap_or(0);
        let title =
            title.or_else(|| (0..header.len()).find(|i| Some(*i) != depends && *i != number));
        Columns {
            number,
            title,
            depends,
        }
    }

    fn row(&self, cells: &[String]) -> Row {
        let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map_or("", String::as_str);
        let raw_number = cell(Some(self.number));
        let number = first_number(raw_number).ok_or_else(|| {
            format!(
                "Stage Map row `| {} |` has no stage number",
                cells.join(" | ")
            )
        })?;
        let depends_on = parse_depends(number, cell(self.depends))?;
        Ok(Stage {
            number,
            title: clean_title(cell(self.title)),
            depends_on,
        })
    }
}

/// Stage entries of a bullet or numbered list. An entry's dependencies may sit on the
/// entry line or on an indented sub-item (`  - depends-on: 1`).
fn parse_bullets(section: &[&str]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for line in section {
        let indented = line.starts_with([' ', '\t']);
        let Some((ordinal, text)) = list_item(line.trim()) else {
            continue;
        };
        let text = text.replace("**", "").replace("__", "");
        let text = text.trim();
        // `1. Title` (a numbered list without the word "Stage") counts only at the top;
        // `S2: Title` only where no list number competes with it.
        let top_ordinal = ordinal.filter(|_| !indented);
        let numbered = stage_prefix(text, false)
            .or_else(|| top_ordinal.map(|n| (n, text)))
            .or_else(|| stage_prefix(text, true))
            .or_else(|| leading_number(text));
        match numbered {
            Some((number, rest)) if !indented || rest_starts_like_entry(rest) => {
                let (title, deps) = split_depends(rest);
                rows.push(
                    parse_depends(number, deps.unwrap_or("")).map(|depends_on| Stage {
                        number,
                        title: clean_title(title),
                        depends_on,
                    }),
                );
            }
            _ => {
                // A sub-item of the previous entry carrying its dependencies.
                if let (Some(Ok(prev)), (_, Some(deps))) = (rows.last_mut(), split_depends(text)) {
                    if prev.depends_on.is_empty() {
                        match parse_depends(prev.number, deps) {
                            Ok(d) => prev.depends_on = d,
                            Err(e) => rows.push(Err(e)),
                        }
                    }
                }
            }
        }
    }
    rows
}

/// An indented `Stage N` item is an entry only when written like one (`: title`).
fn rest_starts_like_entry(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with([':', '—', '–', '-', '.', ')', ' '])
}

/// `- text`, `* text`, `+ text` → `(None, text)`; `3. text` / `3) text` → `(Some(3), text)`.
fn list_item(line: &str) -> Option<(Option<u32>, &str)> {
    if let Some(rest) = line
        .strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .or_else(|| line.strip_prefix("+ "))
    {
        return Some((None, rest.trim()));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = line.get(digits..)?;
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))?;
    Some((line[..digits].parse().ok(), rest.trim()))
}

/// `Stage 2: …`, `stage-2 …`, `Stage #2 …`, `스테이지 2 …`, `단계 2 …` → `(2, "…")`; with
/// `short`, also `S2: …`.
fn stage_prefix(text: &str, short: bool) -> Option<(u32, &str)> {
    let text = text.trim_start_matches('`');
    let lower = text.to_ascii_lowercase();
    let after = if let Some(w) = ["stage", "스테이지", "단계"]
        .iter()
        .find(|w| lower.starts_with(*w))
    {
        text[w.len()..].trim_start_matches([' ', '-', '#', '_'])
    } else if short && lower.starts_with('s') {
        &text[1..]
    } else {
        return None;
    };
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &after[digits..];
    if digits == 0 || rest.starts_with(|c: char| c.is_alphanumeric()) {
        return None;
    }
    let number = after[..digits].parse().ok()?;
    Some((number, rest.trim_start_matches('`')))
}

/// `- 2: Title` (a bullet starting with the bare stage number) → `(2, ": Title")`.
fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &text[digits..];
    if digits == 0 || !rest.starts_with([':', '.', ')', '—', '–']) {
        return None;
    }
    Some((text[..digits].parse().ok()?, rest))
}

/// Words that introduce the dependency list in a bullet entry.
const DEPENDS_MARKERS: &[&str] = &[
    "depends-on",
    "depends on",
    "depends_on",
    "dependencies",
    "dependency",
    "depends",
    "deps",
    "의존성",
    "의존",
    "선행",
];

/// Splits `Title (depends-on: 1, 2)` into the title part and the dependency text.
fn split_depends(text: &str) -> (&str, Option<&str>) {
    let lower = text.to_ascii_lowercase();
    let found = DEPENDS_MARKERS
        .iter()
        .filter_map(|m| lower.find(m).map(|at| (at, m.len())))
        .min_by_key(|(at, _)| *at);
    let Some((at, len)) = found else {
        return (text, None);
    };
    let title = text[..at].trim_end_matches(['(', '[', ' ', '—', '–', ',', ';', '|']);
    let rest = text[at + len..].trim_start_matches([':', '：', '=', ' ', '-']);
    // `(none)` is a value here, not the closing of the entry's parenthesis.
    for none in ["(none)", "(없음)"] {
        if rest.starts_with(none) {
            return (title, Some(none));
        }
    }
    let end = rest
        .find([')', ']', ';', '|', '—', '–'])
        .unwrap_or(rest.len());
    (title, Some(&rest[..end]))
}

const NONE_WORDS: &[&str] = &[
    "", "(none)", "none", "-", "—", "–", "n/a", "없음", "(없음)", "무",
];

/// `"1, 2"`, `"Stage 1, Stage 3"`, `"S1·S2"`, `"(none)"` → the numbers.
fn parse_depends(stage: u32, text: &str) -> Result<Vec<u32>, String> {
    let t = text.replace("**", "");
    let t = t.trim().trim_matches('`').trim();
    if NONE_WORDS.contains(&t.to_ascii_lowercase().as_str()) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for run in t
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
    {
        let n: u32 = run
            .parse()
            .map_err(|_| format!("stage {stage}: dependency `{run}` is not a stage number"))?;
        if seen.insert(n) {
            out.push(n);
        }
        if out.len() > MAX_STAGES {
            return Err(format!(
                "stage {stage}: more than {MAX_STAGES} dependencies; a plan has at most \
                 {MAX_STAGES} stages"
            ));
        }
    }
    if out.is_empty() {
        return Err(format!(
            "stage {stage}: cannot read its dependencies from `{t}`; write stage numbers \
             such as `1, 2` or `(none)`"
        ));
    }
    Ok(out)
}

fn first_number(text: &str) -> Option<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|r| !r.is_empty())
        .and_then(|r| r.parse().ok())
}

fn clean_title(text: &str) -> String {
    text.replace("**", "")
        .trim()
        .trim_start_matches([':', '—', '–', '-', '.', ')', ' '])
        .trim_end_matches([',', ';', '—', '–', ' '])
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests;
