//! Hands a call to the JVM plugin: `exec` of `jipam-jvm` beside this binary (a build tree, a
//! bundle's version folder), else of `jipam.d/current/bin/jipam-jvm` beside it (a CNI bin dir
//! with a bundle installed), resolved once so that one call runs one version. Stdin already read
//! is handed over in an unnamed temporary file (`O_TMPFILE`), so the JVM reads the same bytes.
//! The launcher gets `JIPAM_STORE_HINT` (see [`exec_with_hint`]) and never one from the caller.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `__O_TMPFILE | O_DIRECTORY`, whose value differs by architecture: only the one jipam is built
/// and tested for is given; elsewhere the build stops here rather than fail every call at run time.
#[cfg(target_arch = "x86_64")]
const O_TMPFILE: i32 = 0o20200000;
#[cfg(not(target_arch = "x86_64"))]
compile_error!("ipam-shim: O_TMPFILE is defined for x86_64 only; add this architecture's value (__O_TMPFILE | O_DIRECTORY)");

/// The launcher's hint of which store a direct-mode call is for (`lib/jvm.sh`).
const STORE_HINT: &str = "JIPAM_STORE_HINT";

/// Replaces this process by the JVM plugin with `args`; `read` is what was read from stdin (the
/// JVM then reads exactly that), `None` when stdin is untouched. Returns only on failure, after
/// printing the CNI error object (code 999: jipam is not installed completely) in `version`, the
/// config's `cniVersion` when it is one jipam supports (else the latest, as the JVM plugin answers).
pub fn exec(args: &[OsString], read: Option<&[u8]>, version: &str) -> ! {
    exec_with_hint(args, read, None, version)
}

/// As [`exec`], telling the launcher which store the config names (`JIPAM_STORE_HINT`, e.g.
/// `etcd`), so that it starts the JVM with that store's class path and start-up cache.
pub fn exec_with_hint(args: &[OsString], read: Option<&[u8]>, store: Option<&str>, version: &str) -> ! {
    let (launcher, dir) = match launcher() {
        Ok(l) => (l, PathBuf::new()),
        Err(dir) => (PathBuf::new(), dir),
    };
    let details = if launcher.as_os_str().is_empty() {
        format!("{}/jipam.d/current does not name a jipam version folder; run jipam-install again", dir.display())
    } else {
        let mut command = Command::new(&launcher);
        command.args(args);
        match store {
            Some(hint) => command.env(STORE_HINT, hint),
            None => command.env_remove(STORE_HINT),
        };
        if stdout_was_closed() {
            // the JVM plugin must fail to deliver, as it does with stdout closed: /dev/full
            // refuses every write
            if let Ok(full) = OpenOptions::new().write(true).open("/dev/full") {
                command.stdout(full);
            }
        }
        if let Some(bytes) = read {
            match staged(bytes) {
                Ok(file) => {
                    command.stdin(file);
                }
                Err(e) => not_run(&format!("cannot hand stdin to {}: {}", launcher.display(), e), version),
            }
        }
        let e = command.exec();
        format!("cannot run {}: {}", launcher.display(), e)
    };
    not_run(&details, version)
}

fn not_run(details: &str, version: &str) -> ! {
    let out = crate::json::error_object(version, 999, "jipam is not installed completely", Some(details));
    let _ = std::io::stdout().write_all(&out);
    let _ = std::io::stdout().flush();
    std::process::exit(1)
}

/// The JVM plugin's launcher, or the folder it was looked for in.
fn launcher() -> Result<PathBuf, PathBuf> {
    let exe = std::env::current_exe().map_err(|_| PathBuf::from("."))?;
    let dir = exe.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let beside = dir.join("jipam-jvm");
    if beside.is_file() {
        return Ok(beside);
    }
    match std::fs::canonicalize(dir.join("jipam.d/current")) {
        Ok(version) if version.join("bin/jipam-jvm").is_file() => Ok(version.join("bin/jipam-jvm")),
        _ => Err(dir),
    }
}

/// `bytes` in an unnamed file, positioned at its start.
fn staged(bytes: &[u8]) -> std::io::Result<File> {
    let mut last = None;
    let tmp = std::env::temp_dir();
    for dir in [Path::new("/dev/shm"), tmp.as_path(), Path::new("/tmp"), Path::new("/run")] {
        // a folder that is full (a container's small /dev/shm) is passed over like one that
        // cannot be opened: the next may take the config
        let written = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(O_TMPFILE)
            .open(dir)
            .and_then(|mut f| f.write_all(bytes).and_then(|_| f.seek(SeekFrom::Start(0))).map(|_| f));
        match written {
            Ok(f) => return Ok(f),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no temporary folder")))
}

/// Whether stdout was closed when the process started. Rust's runtime then opens /dev/null
/// read-write in its place; a runtime's or a shell's redirection to /dev/null is write-only. The
/// JVM plugin fails a call whose answer cannot be written; so does the shim.
///
/// Known limit: a stdout the caller opened on /dev/null read-write (`jipam 1<>/dev/null`) is
/// taken for a closed one (exit 1 where the JVM plugin exits 0). The two cannot be told apart
/// without `unsafe`: the runtime's /dev/null is opened as `<>` opens it (O_RDWR, O_CREAT is not
/// kept), and /proc shows the same path, flags, position and mount for both; the open happens
/// before `main`, so there is nothing to compare it with.
pub fn stdout_was_closed() -> bool {
    let target = std::fs::read_link("/proc/self/fd/1").ok();
    if target.as_deref() != Some(Path::new("/dev/null")) {
        return false;
    }
    let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
        .map_or(false, |flags| flags & 3 == 2)
}
