//! The operating-system-specific calls, one function per feature, each with a Linux and a
//! macOS body (`linux.rs`, `macos.rs`). The rest of the crate calls these and holds no
//! `cfg(target_os)` of its own, so a new platform is one new file here.
//!
//! What a platform cannot do is said in the function's doc, never left to fail silently:
//! - Linux has no whole-directory clone ([`clone_tree`] returns `Ok(false)`; the caller
//!   clones file by file with `FICLONE`).
//! - On macOS, [`on_ram_fs`] knows only `tmpfs` by name (macOS ships no tmpfs by default;
//!   a RAM disk made with `hdiutil` is an ordinary APFS/HFS volume and counts as a disk).
//! - Windows is not supported at all (flock, symlinks, the Python helper): README, Install.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!(
    "okstra builds for Linux and macOS only: src/platform/ has no implementation for this \
     operating system (flock, symlinks and /proc-style process listing are needed)"
);

use std::io;
use std::path::Path;

/// Whether `dir` lies on a RAM file system (Linux: tmpfs or ramfs by `statfs` magic; macOS:
/// a file system whose type name is `tmpfs`). `false` when `dir` cannot be examined.
pub fn on_ram_fs(dir: &Path) -> bool {
    imp::on_ram_fs(dir)
}

/// Bytes that differ from one boot of the machine to the next and stay the same within one
/// (Linux: `/proc/sys/kernel/random/boot_id`; macOS: `kern.boottime`). Empty when the system
/// does not tell, which makes every boot look the same to the caller.
pub fn boot_id() -> Vec<u8> {
    imp::boot_id()
}

/// Processes other than this one whose working directory lies under `path`, whose command
/// line names `path`, or that hold a file under `path` open, read through `proc_pidinfo`
/// and the `KERN_PROCARGS2` sysctl (the current user's processes; all of them as root).
/// The Linux body, which reads `/proc`, is `worktree::holders` itself.
#[cfg(target_os = "macos")]
pub fn holders(path: &Path) -> Vec<u32> {
    imp::holders(path)
}

/// Clones the whole directory tree `src` to `dst` (which must not exist) in one call where
/// the system has one: macOS `clonefile(2)` on APFS. `Ok(false)` when it cannot (Linux has
/// no whole-tree clone; on macOS another file system, or another volume): the caller then
/// copies the tree itself. Symlinks inside are cloned as symlinks, never followed.
pub fn clone_tree(src: &Path, dst: &Path) -> io::Result<bool> {
    imp::clone_tree(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn boot_id_is_known_and_stable() {
        let id = boot_id();
        assert!(!id.is_empty(), "this system does not tell its boot");
        assert_eq!(id, boot_id());
    }

    #[test]
    fn holders_sees_a_process_working_inside() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut seen = false;
        for _ in 0..50 {
            if crate::worktree::holders::holders(dir.path()).contains(&pid) {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            seen,
            "pid {pid} works inside {} but was not found",
            dir.path().display()
        );
    }

    #[test]
    fn clone_tree_refuses_an_existing_destination_or_says_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
        std::fs::create_dir_all(src.join("a")).unwrap();
        std::fs::write(src.join("a/f"), b"x").unwrap();
        std::fs::create_dir(&dst).unwrap();
        // An existing destination is never written into.
        let r = clone_tree(&src, &dst);
        assert!(matches!(r, Ok(false)) || r.is_err());
        assert!(std::fs::read_dir(&dst).unwrap().next().is_none());
        std::fs::remove_dir(&dst).unwrap();
        match clone_tree(&src, &dst).unwrap() {
            // macOS on APFS: the whole tree, in one call.
            true => assert_eq!(std::fs::read(dst.join("a/f")).unwrap(), b"x"),
            // Linux: no whole-tree clone, and nothing made.
            false => assert!(!dst.exists()),
        }
    }
}
