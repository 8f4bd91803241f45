//! The primitives over every kind of hostile entry: each refused with its code, quickly,
//! without touching what a symlink points at.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::error::{Code, Coded};

/// The hostile kinds the table-driven tests place at a repository-controlled path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hostile {
    SymlinkOutside,
    SymlinkDevZero,
    Fifo,
    Directory,
    Huge,
}

pub(crate) const HOSTILE: [Hostile; 5] = [
    Hostile::SymlinkOutside,
    Hostile::SymlinkDevZero,
    Hostile::Fifo,
    Hostile::Directory,
    Hostile::Huge,
];

/// Puts `kind` at `path` (parents created); `outside` is the file a symlink points at.
pub(crate) fn plant(path: &Path, kind: Hostile, outside: &Path) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    match kind {
        Hostile::SymlinkOutside => symlink(outside, path).unwrap(),
        Hostile::SymlinkDevZero => symlink("/dev/zero", path).unwrap(),
        Hostile::Fifo => {
            let c = CString::new(path.as_os_str().as_bytes()).unwrap();
            // SAFETY: NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        }
        Hostile::Directory => std::fs::create_dir(path).unwrap(),
        // Sparse: 1 GiB of length, no blocks.
        Hostile::Huge => std::fs::File::create(path)
            .unwrap()
            .set_len(1 << 30)
            .unwrap(),
    }
}

#[test]
fn every_hostile_kind_is_refused_by_read_and_open() {
    for kind in HOSTILE {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep\n").unwrap();
        let root = dir.path().join("root");
        let at = root.join("f");
        plant(&at, kind, &outside);
        let start = Instant::now();
        let e = read_in(&root, Path::new("f"), LEDGER).unwrap_err();
        let want = match kind {
            Hostile::Huge => Code::FileTooLarge,
            _ => Code::UnsafeFile,
        };
        assert_eq!(e.code(), want, "{kind:?}: {e}");
        assert!(e.to_string().contains(&at.display().to_string()), "{e}");
        for access in [Access::ReadWriteCreate, Access::AppendCreate] {
            let r = open_in(&root, Path::new("f"), access);
            match kind {
                Hostile::Huge => assert!(r.is_ok()),
                _ => assert_eq!(r.unwrap_err().code(), Code::UnsafeFile, "{kind:?}"),
            }
        }
        assert!(start.elapsed() < Duration::from_secs(1), "{kind:?}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep\n");
    }
}

#[test]
fn a_symlinked_directory_on_the_way_is_refused_and_nothing_is_created_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    symlink("../outside", root.join(".okstra")).unwrap();
    let rel = Path::new(".okstra/project.json");
    assert_eq!(
        open_in(&root, rel, Access::ReadWriteCreate)
            .unwrap_err()
            .code(),
        Code::UnsafeFile
    );
    assert_eq!(
        dir_in(&root, Path::new(".okstra/sub")).unwrap_err().code(),
        Code::UnsafeFile
    );
    assert_eq!(
        read_in(&root, rel, LEDGER).unwrap_err().code(),
        Code::UnsafeFile
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // `..` never leads out either.
    assert_eq!(
        read_in(&root, Path::new("../outside/x"), LEDGER)
            .unwrap_err()
            .code(),
        Code::UnsafeFile
    );
}

#[test]
fn regular_files_read_create_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(read_in(root, Path::new("a/b"), LEDGER).unwrap().is_none());
    dir_in(root, Path::new("a")).unwrap();
    use std::io::Write;
    let mut f = open_in(root, Path::new("a/b"), Access::AppendCreate)
        .unwrap()
        .unwrap();
    f.write_all(b"one\n").unwrap();
    let mut f = open_in(root, Path::new("a/b"), Access::AppendCreate)
        .unwrap()
        .unwrap();
    f.write_all(b"two\n").unwrap();
    assert_eq!(
        read_in(root, Path::new("a/b"), LEDGER).unwrap().unwrap(),
        b"one\ntwo\n"
    );
    assert_eq!(
        read_file(&root.join("a/b"), LEDGER).unwrap().unwrap(),
        b"one\ntwo\n"
    );
    let small = Bound {
        bytes: 4,
        purpose: "a test",
    };
    let e = read_file(&root.join("a/b"), small).unwrap_err();
    assert_eq!(e.code(), Code::FileTooLarge);
    assert!(e.to_string().contains("4 bytes"), "{e}");
}
