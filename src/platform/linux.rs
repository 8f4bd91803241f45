//! Linux bodies of [`super`]'s functions.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn on_ram_fs(dir: &Path) -> bool {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    const RAMFS_MAGIC: u64 = 0x8584_58f6;
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call and `st` is a zeroed
    // `statfs` buffer of the size the call writes.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    // `f_type` is i64 on glibc x86_64/aarch64 and c_ulong on musl: widen either to u64
    // (the magic numbers are positive, so no value changes meaning).
    #[allow(
        clippy::useless_conversion,
        reason = "f_type's type differs between glibc (i64) and musl (u64)"
    )]
    let kind = u64::try_from(st.f_type).ok();
    rc == 0 && matches!(kind, Some(TMPFS_MAGIC | RAMFS_MAGIC))
}

pub fn boot_id() -> Vec<u8> {
    std::fs::read("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

pub fn clone_tree(_src: &Path, _dst: &Path) -> io::Result<bool> {
    // FICLONE clones one file at a time; the caller does that per file.
    Ok(false)
}
