//! `consumers.idx`: a hash table on disk beside `consumers.jsonl` that makes an append's
//! idempotency check independent of the ledger's length. It maps a hash of each row's
//! identity columns to the byte offset of the row's line; a hit is confirmed by reading that
//! one line, so a collision or a stale slot can never suppress an append, and a row the
//! table does not know is found because the table is checked against the ledger first.
//!
//! The table is a cache, rebuilt from the ledger whenever it cannot be trusted: another
//! device/inode (the ledger was replaced), the ledger shorter than the part indexed or
//! different in its last bytes there (rewritten), a different boot (pages written without
//! fsync may be lost by a crash of the machine; within one boot, the page cache is what
//! every process reads), or anything unreadable. Lines appended by other writers (the
//! Python helper, which knows nothing of the table) are indexed from the table's `covered`
//! offset on. Every access happens under `consumers.lock`.
//!
//! Layout (little-endian u64s): header `magic, dev, ino, covered, tail_fp, boot, slots,
//! used`, then `slots` × `(hash, offset + 1)` (0 = empty), linear probing, at most half full.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::OnceLock;

use serde_json::Value;

use super::Probe;

const MAGIC: u64 = u64::from_le_bytes(*b"OKLIDX01");
const HEADER: u64 = 64;
const SLOT: u64 = 16;
const MIN_SLOTS: u64 = 1024;
/// How many bytes before `covered` the fingerprint covers.
const FP_BYTES: u64 = 64;

/// FNV-1a 64: fixed, so tables written by one release are read by the next.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // 0xff never occurs in UTF-8, so the parts cannot run into each other.
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Never 0, so a zeroed header field cannot match by accident.
    h | 1
}

/// The identities an append asks about (and every row is filed under).
#[derive(Debug, Clone)]
pub enum Identity<'a> {
    /// `(impl_task_key, stage, status)`.
    Event(&'a str, u64, &'a str),
    /// The same plus the row's `head_commit` (a forced re-append).
    EventHead(&'a str, u64, &'a str, Option<&'a Value>),
    /// A `verified` row's `(impl_task_key, stage, report_path)`.
    Report(&'a str, u64, &'a str),
    /// A `pr` row's branch.
    PrBranch(&'a str),
}

impl Identity<'_> {
    fn hash(&self) -> u64 {
        match self {
            Identity::Event(k, s, st) => {
                fnv(&[b"E", k.as_bytes(), &s.to_le_bytes(), st.as_bytes()])
            }
            Identity::EventHead(k, s, st, head) => {
                let head = head.map(Value::to_string).unwrap_or_default();
                fnv(&[
                    b"H",
                    k.as_bytes(),
                    &s.to_le_bytes(),
                    st.as_bytes(),
                    head.as_bytes(),
                ])
            }
            Identity::Report(k, s, rp) => {
                fnv(&[b"R", k.as_bytes(), &s.to_le_bytes(), rp.as_bytes()])
            }
            Identity::PrBranch(b) => fnv(&[b"P", b.as_bytes()]),
        }
    }
}

/// The identity hashes a stored row is filed under.
fn row_hashes(p: &Probe) -> Vec<u64> {
    let mut out = Vec::with_capacity(2);
    let status = Probe::str(&p.status);
    if let (Some(k), Some(s), Some(st)) = (
        Probe::str(&p.impl_task_key),
        p.stage.as_ref().and_then(Value::as_u64),
        status,
    ) {
        out.push(Identity::Event(k, s, st).hash());
        let head = p.head_commit.as_ref().filter(|v| !v.is_null());
        out.push(Identity::EventHead(k, s, st, head).hash());
        if let (Some("verified"), Some(rp)) = (status, Probe::str(&p.report_path)) {
            out.push(Identity::Report(k, s, rp).hash());
        }
    }
    if let (Some("pr"), Some(b)) = (status, Probe::str(&p.branch)) {
        out.push(Identity::PrBranch(b).hash());
    }
    out
}

fn boot_id() -> u64 {
    static BOOT: OnceLock<u64> = OnceLock::new();
    *BOOT.get_or_init(|| fnv(&[&crate::platform::boot_id()]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    dev: u64,
    ino: u64,
    covered: u64,
    tail_fp: u64,
    boot: u64,
    slots: u64,
    used: u64,
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER as usize] {
        let mut b = [0u8; HEADER as usize];
        let fields = [
            MAGIC,
            self.dev,
            self.ino,
            self.covered,
            self.tail_fp,
            self.boot,
            self.slots,
            self.used,
        ];
        for (i, f) in fields.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
        }
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Header> {
        let f = |i: usize| -> Option<u64> {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_le_bytes)
        };
        (f(0)? == MAGIC).then_some(())?;
        Some(Header {
            dev: f(1)?,
            ino: f(2)?,
            covered: f(3)?,
            tail_fp: f(4)?,
            boot: f(5)?,
            slots: f(6)?,
            used: f(7)?,
        })
    }
}

/// The fingerprint of the ledger's last bytes before `covered`.
fn tail_fp(ledger: &File, covered: u64) -> io::Result<u64> {
    let start = covered.saturating_sub(FP_BYTES);
    let mut buf = vec![0u8; (covered - start) as usize];
    ledger.read_exact_at(&mut buf, start)?;
    Ok(fnv(&[&buf]))
}

/// The opened table of one ledger, brought up to date with it.
pub struct Index {
    file: File,
    head: Header,
}

impl Index {
    /// Takes the table `file` (`consumers.idx`, opened read-write by the caller through
    /// [`crate::safe_open`]) for `ledger`, rebuilt when it does not match, and indexes the
    /// lines appended since it was last written.
    pub fn open(file: File, ledger: &File) -> io::Result<Index> {
        let meta = ledger.metadata()?;
        let mut hb = [0u8; HEADER as usize];
        let head = match file.read_exact_at(&mut hb, 0) {
            Ok(()) => Header::from_bytes(&hb),
            Err(_) => None,
        };
        let trusted = head.filter(|h| {
            h.dev == meta.dev()
                && h.ino == meta.ino()
                && h.boot == boot_id()
                && h.covered <= meta.size()
                && h.slots >= MIN_SLOTS
                && h.slots.is_power_of_two()
                && h.used * 2 <= h.slots
                && file
                    .metadata()
                    .is_ok_and(|m| m.size() == HEADER + h.slots * SLOT)
                && tail_fp(ledger, h.covered).ok() == Some(h.tail_fp)
        });
        let mut index = match trusted {
            Some(head) => Index { file, head },
            None => {
                let head = Header {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    covered: 0,
                    tail_fp: 0,
                    boot: boot_id(),
                    slots: MIN_SLOTS,
                    used: 0,
                };
                file.set_len(0)?;
                file.set_len(HEADER + head.slots * SLOT)?;
                Index { file, head }
            }
        };
        index.catch_up(ledger, meta.size())?;
        Ok(index)
    }

    /// Files every whole line in `[covered, size)` and moves `covered` past the last one.
    fn catch_up(&mut self, ledger: &File, size: u64) -> io::Result<()> {
        if self.head.covered >= size {
            return self.write_header(ledger);
        }
        let start = self.head.covered;
        let mut buf = vec![0u8; (size - start) as usize];
        ledger.read_exact_at(&mut buf, start)?;
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return self.write_header(ledger);
        };
        let mut pos = 0usize;
        let mut entries = Vec::new();
        for line in buf[..end].split(|b| *b == b'\n') {
            if let Ok(p) = serde_json::from_slice::<Probe>(line) {
                for h in row_hashes(&p) {
                    entries.push((h, start + pos as u64));
                }
            }
            pos += line.len() + 1;
        }
        self.insert_all(&entries)?;
        self.head.covered = start + end as u64 + 1;
        self.write_header(ledger)
    }

    fn write_header(&mut self, ledger: &File) -> io::Result<()> {
        self.head.tail_fp = tail_fp(ledger, self.head.covered)?;
        self.file.write_all_at(&self.head.to_bytes(), 0)
    }

    fn slot(&self, i: u64) -> io::Result<(u64, u64)> {
        let mut b = [0u8; SLOT as usize];
        self.file.read_exact_at(&mut b, HEADER + i * SLOT)?;
        let h = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let o = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
        Ok((h, o))
    }

    /// Byte offsets of the lines filed under `id` (candidates, to be confirmed).
    pub fn candidates(&self, id: &Identity) -> io::Result<Vec<u64>> {
        let h = id.hash();
        let mask = self.head.slots - 1;
        let mut i = h & mask;
        let mut out = Vec::new();
        loop {
            let (sh, so) = self.slot(i)?;
            if so == 0 {
                return Ok(out);
            }
            if sh == h {
                out.push(so - 1);
            }
            i = (i + 1) & mask;
        }
    }

    fn insert_all(&mut self, entries: &[(u64, u64)]) -> io::Result<()> {
        if (self.head.used + entries.len() as u64) * 2 > self.head.slots {
            return self.grow(entries);
        }
        let mask = self.head.slots - 1;
        for &(h, off) in entries {
            let mut i = h & mask;
            loop {
                let (sh, so) = self.slot(i)?;
                if so == 0 {
                    break;
                }
                if sh == h && so == off + 1 {
                    // Already filed (a catch-up after a crash between table writes).
                    break;
                }
                i = (i + 1) & mask;
            }
            let mut b = [0u8; SLOT as usize];
            b[..8].copy_from_slice(&h.to_le_bytes());
            b[8..].copy_from_slice(&(off + 1).to_le_bytes());
            if self.slot(i)?.1 == 0 {
                self.file.write_all_at(&b, HEADER + i * SLOT)?;
                self.head.used += 1;
            }
        }
        Ok(())
    }

    /// Rehashes every slot plus `entries` into a table of at least twice the size.
    fn grow(&mut self, entries: &[(u64, u64)]) -> io::Result<()> {
        let mut all = vec![0u8; (self.head.slots * SLOT) as usize];
        self.file.read_exact_at(&mut all, HEADER)?;
        let mut items: Vec<(u64, u64)> = all
            .chunks_exact(SLOT as usize)
            .filter_map(|c| {
                let h = u64::from_le_bytes(c[..8].try_into().ok()?);
                let o = u64::from_le_bytes(c[8..].try_into().ok()?);
                (o != 0).then(|| (h, o - 1))
            })
            .collect();
        items.extend_from_slice(entries);
        let slots = ((items.len() as u64) * 4)
            .next_power_of_two()
            .max(MIN_SLOTS);
        let mask = slots - 1;
        let mut table = vec![0u8; (slots * SLOT) as usize];
        for (h, off) in items {
            let mut i = h & mask;
            while table[(i * SLOT + 8) as usize..(i * SLOT + 16) as usize] != [0u8; 8] {
                i = (i + 1) & mask;
            }
            let at = (i * SLOT) as usize;
            table[at..at + 8].copy_from_slice(&h.to_le_bytes());
            table[at + 8..at + 16].copy_from_slice(&(off + 1).to_le_bytes());
        }
        self.head.used = table
            .chunks_exact(SLOT as usize)
            .filter(|c| c[8..] != [0u8; 8])
            .count() as u64;
        self.head.slots = slots;
        // The header is rewritten by the caller; until then a crash leaves a table whose
        // size disagrees with its header, which is rebuilt.
        self.file.set_len(HEADER + slots * SLOT)?;
        self.file.write_all_at(&table, HEADER)
    }

    /// Files a row just appended at `offset` (the ledger now ends at `size`).
    pub fn add(&mut self, ledger: &File, row: &Probe, offset: u64, size: u64) -> io::Result<()> {
        let entries: Vec<(u64, u64)> = row_hashes(row).into_iter().map(|h| (h, offset)).collect();
        self.insert_all(&entries)?;
        self.head.covered = size;
        self.write_header(ledger)
    }
}

/// The line starting at `offset`, parsed for its identity columns (`None`: not a row).
pub fn probe_at(ledger: &File, offset: u64) -> io::Result<Option<Probe>> {
    let mut line = Vec::new();
    let mut chunk = vec![0u8; 4096];
    let mut at = offset;
    loop {
        let n = ledger.read_at(&mut chunk, at)?;
        if n == 0 {
            break;
        }
        if let Some(nl) = chunk[..n].iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&chunk[..nl]);
            break;
        }
        line.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Ok(serde_json::from_slice::<Probe>(&line).ok())
}
