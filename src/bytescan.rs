//! Byte-level scanning shared by the readers that check JSON text without decoding it (the
//! registry's layout scan, the ledger's row shapes).

/// Bytes that end a run of plain string content: `"`, `\\` and control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The length of the run of plain string content at the start of `s` (up to the first
/// `"`, `\\` or control character), eight bytes at a time; `None` when `s` has none of them.
pub fn plain_run(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A high bit in every byte below `n` (exact for the lowest such byte, which is the
    // only one used): the classic "has less than" word trick, valid for n <= 128.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&c| STOP[usize::from(c)])
        .map(|n| at + n)
}

/// The index of the first `byte` in `s`, eight bytes at a time (the ledger's line split).
pub fn find_byte(s: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word) ^ (ONES * u64::from(byte));
        // A high bit in every zero byte (exact for the lowest one, the only one used).
        let hits = w.wrapping_sub(ONES) & !w & HIGH;
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == byte)
        .map(|n| at + n)
}

/// The pieces of `s` between `\n` bytes, as `s.split(|b| *b == b'\n')` gives them.
pub fn lines(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_byte(r, b'\n') {
            Some(n) => {
                rest = Some(&r[n + 1..]);
                Some(&r[..n])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Whether `line` is shaped like exactly one JSON object: it opens with `{`, closes with
/// `}`, and its brackets (outside strings, read as JSON reads them: `\\` escapes the next
/// byte) return to depth zero only at its last byte, with no control character in a string.
/// It checks no tokens, so JSON text made of such lines joined by `,` inside `[` `]` that a
/// full parser accepts has exactly one element per line, each the line's own object.
pub fn one_object(line: &[u8]) -> bool {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return false;
    }
    let last = line.len() - 1;
    let mut depth = 0usize;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => loop {
                i += 1;
                let Some(n) = line.get(i..).and_then(plain_run) else {
                    return false;
                };
                i += n;
                match line[i] {
                    b'"' => break,
                    b'\\' => i += 1,
                    _ => return false,
                }
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = match depth.checked_sub(1) {
                    Some(d) => d,
                    None => return false,
                };
                if depth == 0 && i != last {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::Rng;

    #[test]
    fn plain_run_agrees_with_a_byte_loop() {
        let mut rng = Rng::new(7);
        let alphabet = b"ab\"\\\x01\x1f \x7f\xc3\xa9\x80~";
        for _ in 0..20_000 {
            let s: Vec<u8> = (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let naive = s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            assert_eq!(plain_run(&s), naive, "{s:?}");
        }
    }

    #[test]
    fn one_object_takes_one_object_per_line_and_nothing_that_could_merge() {
        for ok in [
            r#"{}"#,
            r#"{"a": [1, {"b": "}"}], "c": "\"{["}"#,
            r#"{"k": "\\"}"#,
        ] {
            assert!(one_object(ok.as_bytes()), "{ok}");
        }
        for bad in [
            r#"{"a": 1}, {"b": 2}"#,
            r#"{"a": [1"#,
            r#"2]}"#,
            r#"[{"a": 1}]"#,
            r#"{"a": "x}"#,
            r#"{"a": "\"}"#,
            "{\"a\": \"\t\"}",
            r#"{"a": 1}}"#,
            r#"1"#,
            "",
        ] {
            assert!(!one_object(bad.as_bytes()), "{bad}");
        }
    }
}

#[cfg(test)]
mod lines_tests {
    /// The fast split gives exactly what `split` gives, at every length and position.
    #[test]
    fn lines_split_as_split_does() {
        let mut rng = crate::fuzz::Rng::new(5);
        for len in 0..200 {
            for _ in 0..20 {
                let s: Vec<u8> = (0..len).map(|_| *rng.pick(b"ab\n\x8a\x0a\xff{")).collect();
                let fast: Vec<&[u8]> = super::lines(&s).collect();
                let slow: Vec<&[u8]> = s.split(|b| *b == b'\n').collect();
                assert_eq!(fast, slow, "{s:?}");
            }
        }
    }
}
