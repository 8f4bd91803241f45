//! `okstra ledger read`'s output written straight from the bytes on disk.
//!
//! The command prints `{"rows": […], "skipped": […]}` as serde_json's pretty printer lays
//! out [`super::ReadResult`] (two-space indent). Building a `Value` per row only to print it
//! again cost most of the command's time, so each row is instead transcoded token by token
//! from its line into that layout: the same validation (a row is printed only where the full
//! parse accepts it) and the same normalisation the decode-and-print path applies (escapes
//! decoded and re-escaped as serde_json escapes, numbers printed as serde_json prints the
//! `u64`, `i64` or `f64` it parses them to, a repeated key kept at its first position with its
//! last value). A line the transcoder is not sure of — any that the full parse might refuse or
//! normalise in a way not handled here (a repeated key, an escape inside a key, deep
//! nesting, invalid UTF-8) — takes the decode-and-print path for that line alone, so the
//! output is byte for byte what printing [`super::Ledger::read`]'s result gives; a test
//! compares the two over varied and fuzzed ledgers.

use std::io::{self, Write};

use serde_json::Value;

use super::Skipped;
use crate::bytescan::plain_run;

/// Output is handed to the writer in chunks of about this size, so the reader of a pipe
/// works while the rest is transcoded and no output-sized buffer is held.
const CHUNK: usize = 128 * 1024;
/// Deeper rows take the decode-and-print path (serde_json's own limit is 128).
const MAX_DEPTH: usize = 64;
/// Objects with more keys take the decode-and-print path (the repeated-key check is
/// quadratic in the keys of one object).
const MAX_KEYS: usize = 64;

/// Writes what the CLI prints for a ledger whose file holds `bytes` (without the final
/// newline): the pretty JSON of its rows and skipped lines.
pub fn write_read_result(bytes: &[u8], w: &mut dyn Write) -> io::Result<()> {
    let all_utf8 = std::str::from_utf8(bytes).is_ok();
    let mut out = Vec::with_capacity(CHUNK + 4096);
    let mut skipped = Vec::new();
    let mut rows = 0usize;
    // The keys of the objects being transcoded, reused from line to line (no allocation).
    let mut keys = Vec::with_capacity(MAX_KEYS);
    out.extend_from_slice(b"{\n  \"rows\": [");
    for (n, raw) in crate::bytescan::lines(bytes).enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mark = out.len();
        out.extend_from_slice(if rows == 0 { b"\n    " } else { b",\n    " });
        let fast = (all_utf8 || std::str::from_utf8(raw).is_ok())
            && Transcoder::new(raw, &mut out, &mut keys).row().is_some();
        if !fast {
            out.truncate(mark);
            match super::row_value(raw) {
                Ok(v) => {
                    out.extend_from_slice(if rows == 0 { b"\n    " } else { b",\n    " });
                    write_indented(&v, 4, &mut out)?;
                }
                Err(reason) => {
                    skipped.push(Skipped {
                        line: n + 1,
                        reason,
                    });
                    continue;
                }
            }
        }
        rows += 1;
        if out.len() >= CHUNK {
            w.write_all(&out)?;
            out.clear();
        }
    }
    out.extend_from_slice(if rows == 0 { b"]" } else { b"\n  ]" });
    out.extend_from_slice(b",\n  \"skipped\": ");
    write_indented(&skipped, 2, &mut out)?;
    out.extend_from_slice(b"\n}");
    w.write_all(&out)
}

/// `v` pretty-printed as it appears `indent` spaces deep (every line after the first shifted).
fn write_indented<T: serde::Serialize + ?Sized>(
    v: &T,
    indent: usize,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(v).map_err(io::Error::other)?;
    // Pretty JSON has a raw newline only between tokens (never inside a string).
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
            out.resize(out.len() + indent, b' ');
        }
        out.extend_from_slice(line);
    }
    Ok(())
}

/// One line's JSON value re-laid out as serde_json's pretty printer lays out its decoded
/// value. Every method returns `None` when the line is not certainly printed that way.
struct Transcoder<'a, 'o> {
    s: &'a [u8],
    i: usize,
    out: &'o mut Vec<u8>,
    /// The keys of every object open at this point, outermost first.
    keys: &'o mut Vec<&'a [u8]>,
}

impl<'a, 'o> Transcoder<'a, 'o> {
    fn new(s: &'a [u8], out: &'o mut Vec<u8>, keys: &'o mut Vec<&'a [u8]>) -> Self {
        keys.clear();
        Transcoder { s, i: 0, out, keys }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// JSON's whitespace, as serde_json skips it.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// The whole line: one object, as a row two levels deep.
    fn row(mut self) -> Option<()> {
        self.ws();
        if self.peek() != Some(b'{') {
            return None;
        }
        self.value(2)?;
        self.ws();
        (self.i == self.s.len()).then_some(())
    }

    fn indent(&mut self, level: usize) {
        self.out.resize(self.out.len() + 2 * level, b' ');
    }

    /// A value at nesting `level` (its members are one level deeper).
    fn value(&mut self, level: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(level),
            b'[' => self.array(level),
            b'"' => self.string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.s[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        self.out.extend_from_slice(word);
        Some(())
    }

    fn object(&mut self, level: usize) -> Option<()> {
        if level > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            self.out.extend_from_slice(b"{}");
            return Some(());
        }
        self.out.push(b'{');
        let base = self.keys.len();
        loop {
            self.ws();
            let key = self.key()?;
            // serde_json keeps a repeated key at its first place with its last value.
            let mine = &self.keys[base..];
            if mine.len() >= MAX_KEYS || mine.contains(&key) {
                return None;
            }
            self.out
                .extend_from_slice(if mine.is_empty() { b"\n" } else { b",\n" });
            self.keys.push(key);
            self.indent(level + 1);
            self.out.extend_from_slice(key);
            self.out.extend_from_slice(b": ");
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            self.value(level + 1)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.keys.truncate(base);
        self.i += 1;
        self.out.push(b'\n');
        self.indent(level);
        self.out.push(b'}');
        Some(())
    }

    fn array(&mut self, level: usize) -> Option<()> {
        if level > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            self.out.extend_from_slice(b"[]");
            return Some(());
        }
        self.out.push(b'[');
        let mut first = true;
        loop {
            self.ws();
            self.out
                .extend_from_slice(if first { b"\n" } else { b",\n" });
            first = false;
            self.indent(level + 1);
            self.value(level + 1)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.i += 1;
        self.out.push(b'\n');
        self.indent(level);
        self.out.push(b']');
        Some(())
    }

    /// A key with its quotes, when it has no escape (its bytes are then its value, so keys
    /// compare as serde_json compares them).
    fn key(&mut self) -> Option<&'a [u8]> {
        let s = self.s;
        if s.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i;
        let len = plain_run(&s[start + 1..])?;
        let end = start + 1 + len;
        if s[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(&s[start..=end])
    }

    /// A string, re-escaped as serde_json writes the decoded text: `"` and `\` escaped,
    /// `\b \t \n \f \r`, other control characters as `\u00xx`, everything else as is.
    fn string(&mut self) -> Option<()> {
        let start = self.i;
        self.i += 1;
        self.i += plain_run(&self.s[self.i..])?;
        match self.s[self.i] {
            b'"' => {
                self.i += 1;
                self.out.extend_from_slice(&self.s[start..self.i]);
                Some(())
            }
            b'\\' => {
                self.out.extend_from_slice(&self.s[start..self.i]);
                self.escaped_rest()
            }
            _ => None, // a raw control character: refused by the parse
        }
    }

    /// The rest of a string from its first escape (what came before it is written).
    fn escaped_rest(&mut self) -> Option<()> {
        loop {
            let run = plain_run(&self.s[self.i..])?;
            self.out.extend_from_slice(&self.s[self.i..self.i + run]);
            self.i += run;
            match self.s[self.i] {
                b'"' => {
                    self.i += 1;
                    self.out.push(b'"');
                    return Some(());
                }
                b'\\' => {
                    let c = self.escape()?;
                    write_char(c, self.out);
                }
                _ => return None,
            }
        }
    }

    /// The character an escape sequence stands for (at its `\`).
    fn escape(&mut self) -> Option<char> {
        let kind = *self.s.get(self.i + 1)?;
        self.i += 2;
        Some(match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    if self.s.get(self.i..self.i + 2)? != b"\\u" {
                        return None;
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    // A lone trailing surrogate has no char: refused by the parse.
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16)?;
        }
        self.i += 4;
        Some(n)
    }

    /// A number as serde_json prints what it parses it to: a plain integer that fits `u64`
    /// or `i64` is its own text; anything else (fractions, exponents, `-0`, integers out of
    /// range, which become `f64`) is parsed and printed by serde_json itself.
    fn number(&mut self) -> Option<()> {
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.s.len() - start);
        let text = &self.s[start..start + len];
        self.i += len;
        let (neg, digits) = match text.split_first()? {
            (b'-', rest) => (true, rest),
            _ => (false, text),
        };
        let plain = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || digits.len() == 1)
            && if neg {
                digits.len() <= 18 && digits != b"0"
            } else {
                digits.len() <= 19
            };
        if plain {
            self.out.extend_from_slice(text);
            return Some(());
        }
        let n: serde_json::Number = serde_json::from_slice(text).ok()?;
        serde_json::to_writer(&mut *self.out, &Value::Number(n)).ok()
    }
}

/// `c` inside a string as serde_json writes it.
fn write_char(c: char, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        c if (c as u32) < 0x20 => {
            let b = c as usize;
            out.extend_from_slice(b"\\u00");
            out.push(HEX[b >> 4]);
            out.push(HEX[b & 0xF]);
        }
        c => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

#[cfg(test)]
#[path = "pretty_tests.rs"]
mod tests;
