use super::*;

/// Stage `number` titled `title`, depending on `depends_on`.
fn stage(number: u32, title: &str, depends_on: &[u32]) -> Stage {
    Stage {
        number,
        title: title.into(),
        depends_on: depends_on.to_vec(),
    }
}

const TABLE_REPORT: &str = r#"# 구현 계획 보고서 — 결제 재시도 (final-report-implementation-planning-002)

## 5. 구현 계획

### 5.1 배경
결제 실패 시 재시도 큐를 도입한다. 아래 Stage Map 은 승인된 순서를 따른다.

### 5.4 위험 요소
- Stage 3 은 배포 전에 마이그레이션 검증이 필요하다 (depends on 운영팀 확인)

## 5.5 Stage Map

각 stage 는 별도 worktree 에서 구현된다.

| Stage | 제목 | Depends on | 비고 |
|:-----:|------|------------|------|
| 1 | 재시도 테이블 스키마 추가 | (none) | DB 마이그레이션 |
| **2** | 재시도 워커 구현 | 1 | `worker/retry.rs` |
| 3 | 관리자 API | 1, 2 | |
| Stage 4 | Dashboard 위젯 | Stage 2 | |

## 5.6 Stage Validation
- Stage 1: `cargo test -p schema`
"#;

#[test]
fn reads_a_table_with_korean_text_around_it() {
    let map = parse_stage_map(TABLE_REPORT);
    assert_eq!(map.errors, Vec::<String>::new());
    assert_eq!(
        map.stages,
        vec![
            stage(1, "재시도 테이블 스키마 추가", &[]),
            stage(2, "재시도 워커 구현", &[1]),
            stage(3, "관리자 API", &[1, 2]),
            stage(4, "Dashboard 위젯", &[2]),
        ]
    );
    assert_eq!(dependency_order(&map.stages), Ok(vec![1, 2, 3, 4]));
}

const BULLET_REPORT: &str = r#"# 구현 계획

## 5.4 작업 분할
작업은 세 단계로 나눈다.

## 5.5 Stage Map (스테이지 맵)

- **Stage 1** — 로그인 폼 검증 (depends-on: (none))
- Stage 2: 세션 갱신 — depends-on: 1
- stage-3: 감사 로그 기록
  - depends-on: 1, 2
  - 파일: `src/audit.rs`
- Stage 4: 알림 (선행: 3)

```text
## 5.6 this heading is inside a code block and does not end the section
```
- S5: 정리 작업 — deps: Stage 4

## 5.6 검증 계획
- Stage 9: not part of the map
"#;

#[test]
fn reads_the_bullet_form_with_sub_items_and_korean_markers() {
    let map = parse_stage_map(BULLET_REPORT);
    assert_eq!(map.errors, Vec::<String>::new());
    let got: Vec<(u32, &str, Vec<u32>)> = map
        .stages
        .iter()
        .map(|s| (s.number, s.title.as_str(), s.depends_on.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "로그인 폼 검증", vec![]),
            (2, "세션 갱신", vec![1]),
            (3, "감사 로그 기록", vec![1, 2]),
            (4, "알림", vec![3]),
            (5, "정리 작업", vec![4]),
        ]
    );
}

#[test]
fn reads_a_numbered_list_without_the_word_stage() {
    let md = "## 5.5 Stage Map\n1. Schema (depends on: none)\n2. S3 upload path (depends on: 1)\n";
    let map = parse_stage_map(md);
    assert_eq!(map.errors, Vec::<String>::new());
    assert_eq!(map.stages[1], stage(2, "S3 upload path", &[1]));
}

#[test]
fn none_spellings_mean_no_dependencies() {
    for none in ["(none)", "none", "-", "—", "", "없음", "`(none)`", "N/A"] {
        let md = format!(
            "## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | A | {none} |\n"
        );
        let map = parse_stage_map(&md);
        assert_eq!(map.errors, Vec::<String>::new(), "{none}");
        assert_eq!(map.stages[0].depends_on, Vec::<u32>::new(), "{none}");
    }
}

#[test]
fn duplicate_numbers_keep_the_first_and_are_reported() {
    let md =
        "## 5.5 Stage Map\n- Stage 1: A — depends-on: (none)\n- Stage 1: B — depends-on: (none)\n";
    let map = parse_stage_map(md);
    assert_eq!(map.stages.len(), 1);
    assert_eq!(map.stages[0].title, "A");
    assert_eq!(
        map.errors,
        vec![
            "stage 1 is listed more than once in the Stage Map; the first entry is used"
                .to_string()
        ]
    );
}

#[test]
fn unknown_dependencies_are_reported_and_kept() {
    let md = "## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | A | (none) |\n| 2 | B | 1, 7 |\n";
    let map = parse_stage_map(md);
    assert_eq!(map.stages[1].depends_on, vec![1, 7]);
    assert_eq!(
        map.errors,
        vec!["stage 2 depends on stage 7, which is not in the Stage Map".to_string()]
    );
    // Outside the map, a dependency counts as satisfied for ordering.
    assert_eq!(dependency_order(&map.stages), Ok(vec![1, 2]));
}

#[test]
fn cycles_are_reported_with_their_path() {
    let md = "## 5.5 Stage Map\n- Stage 1: A — depends-on: 3\n- Stage 2: B — depends-on: 1\n- Stage 3: C — depends-on: 2\n- Stage 4: D — depends-on: (none)\n- Stage 5: E — depends-on: 5\n";
    let map = parse_stage_map(md);
    assert_eq!(
        map.errors,
        vec![
            "stage 5 depends on itself".to_string(),
            "stages 1 → 3 → 2 → 1 form a dependency cycle; one of them must not depend on the other".to_string(),
        ]
    );
    assert_eq!(dependency_order(&map.stages), Err(vec![1, 2, 3, 5]));
}

#[test]
fn a_missing_or_empty_section_is_an_error_not_a_panic() {
    let map = parse_stage_map("# 계획\n\n## 5.4 다른 절\n- Stage 1: x\n");
    assert!(map.stages.is_empty());
    assert!(
        map.errors[0].contains("no `## 5.5 Stage Map` section"),
        "{:?}",
        map.errors
    );
    let map = parse_stage_map("## 5.5 Stage Map\n\n설명만 있고 목록은 없다.\n## 5.6 다음\n");
    assert_eq!(
        map.errors,
        vec!["the Stage Map section lists no stages".to_string()]
    );
}

#[test]
fn unreadable_rows_are_reported() {
    let md = "## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | A | (none) |\n| x | B | 1 |\n| 3 | C | after the others |\n";
    let map = parse_stage_map(md);
    assert_eq!(map.stages.len(), 1);
    assert_eq!(map.errors.len(), 2, "{:?}", map.errors);
    assert!(map.errors[0].contains("has no stage number"));
    assert!(map.errors[1].starts_with("stage 3: cannot read its dependencies"));
}

#[test]
fn a_deeper_heading_level_and_a_later_sibling_end_the_section() {
    let md = "### 5.5 Stage map\n| # | Name | Deps |\n|--|--|--|\n| 1 | A | - |\n### 5.6 Next\n| # | Name | Deps |\n|--|--|--|\n| 2 | B | - |\n";
    let map = parse_stage_map(md);
    assert_eq!(map.errors, Vec::<String>::new());
    assert_eq!(map.stages.len(), 1);
}

#[test]
fn dependency_order_puts_lower_numbers_first_among_ready_stages() {
    let st = |n, d: &[u32]| stage(n, "", d);
    let stages = vec![st(3, &[]), st(1, &[2]), st(2, &[]), st(4, &[1, 3])];
    assert_eq!(dependency_order(&stages), Ok(vec![2, 1, 3, 4]));
}

#[test]
fn reads_bullets_that_start_with_the_bare_number() {
    let md = "## 5.5 Stage Map\n- 1: 준비 — depends-on: (none)\n- 2) 적용 — depends on: 1\n";
    let map = parse_stage_map(md);
    assert_eq!(map.errors, Vec::<String>::new());
    assert_eq!(
        map.stages,
        vec![stage(1, "준비", &[]), stage(2, "적용", &[1]),]
    );
}

fn chain(n: u32) -> String {
    let mut md = String::from("## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n");
    for i in 1..=n {
        let dep = if i == 1 {
            "(none)".to_string()
        } else {
            (i - 1).to_string()
        };
        md.push_str(&format!("| {i} | t{i} | {dep} |\n"));
    }
    md
}

#[test]
fn a_long_dependency_chain_is_walked_without_recursion() {
    // A 1,000-stage chain with a cycle closing it, parsed on a thread with a 32 KiB stack:
    // the recursive walk needed a frame per stage and overflowed.
    let mut md = chain(MAX_STAGES as u32);
    md = md.replace(
        "| 1 | t1 | (none) |",
        &format!("| 1 | t1 | {} |", MAX_STAGES),
    );
    let map = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(move || parse_stage_map(&md))
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(map.stages.len(), MAX_STAGES);
    assert_eq!(map.errors.len(), 1, "{:?}", map.errors);
    assert!(map.errors[0].contains("form a dependency cycle"));
}

#[test]
fn more_stages_than_the_limit_are_refused_with_a_clear_error() {
    // The attack's 80,000-stage chain (1.6 MB): bounded work and a readable error.
    let started = std::time::Instant::now();
    let map = parse_stage_map(&chain(80_000));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(map.stages.len(), MAX_STAGES);
    assert!(
        map.errors.iter().any(|e| e.contains("more than the 1000")),
        "{:?}",
        map.errors
    );
}

#[test]
fn an_oversized_plan_is_not_read() {
    let big = "x".repeat(MAX_PLAN_BYTES + 1);
    let map = parse_stage_map(&big);
    assert!(map.stages.is_empty());
    assert!(map.errors[0].contains("bytes"), "{:?}", map.errors);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plan.md");
    std::fs::write(&p, &big).unwrap();
    assert!(read_plan(&p).unwrap_err().contains("more than"));
    let e = read_plan(dir.path()).unwrap_err();
    assert!(
        e.starts_with("it is not a regular file (a directory"),
        "{e}"
    );
}
