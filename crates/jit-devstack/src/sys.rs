//! The few Unix calls the stack needs, in one place.
#![allow(unsafe_code)]

use std::io;

/// Takes an exclusive `flock` on `fd`, waiting for it.
pub(crate) fn flock_exclusive(fd: i32) -> io::Result<()> {
    // SAFETY: flock has no memory-safety preconditions; an invalid fd is reported as EBADF.
    let rc = unsafe { libc::flock(fd, libc::LOCK_EX) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `signal` to `pid`. `Ok(false)` if there is no such process.
pub fn kill(pid: u32, signal: i32) -> io::Result<bool> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether a process with `pid` exists (and is not a zombie we could reap).
pub fn alive(pid: u32) -> bool {
    matches!(kill(pid, 0), Ok(true))
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
}

/// Configures a child, between fork and exec: die with the parent (`die_with_parent`), and
/// start a new process group so a signal to the group reaches the child's own children.
pub(crate) fn prepare_child(cmd: &mut std::process::Command, die_with_parent: bool) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    if die_with_parent {
        // SAFETY: prctl is async-signal-safe; the closure touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// `kill(2)` with a raw pid (negative: a process group).
pub(crate) fn kill_raw(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Installs Debian's `package` with apt-get unless `ready()` already holds (as root, or with
/// password-less sudo; `apt-get update` first when the package lists are stale). Serialised
/// across processes by a lock file in `.jit/`. `why` says what needs it, for the error.
pub fn apt_install(
    root: &std::path::Path,
    package: &str,
    why: &str,
    ready: impl Fn() -> bool,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if ready() {
        return Ok(());
    }
    std::fs::create_dir_all(root.join(".jit"))?;
    let _lock = crate::tools::FileLock::acquire(&root.join(".jit/apt.lock"))?;
    if ready() {
        return Ok(());
    }
    eprintln!("installing Debian's {package} package ({why}) ...");
    let root_user = is_root();
    let apt = |args: &[&str]| -> anyhow::Result<bool> {
        let mut c = if root_user {
            std::process::Command::new("apt-get")
        } else {
            let mut c = std::process::Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        c.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null());
        Ok(c.status().context("running apt-get")?.success())
    };
    let install = ["install", "-y", "-q", "--no-install-recommends", package];
    let installed = apt(&install)? || (apt(&["update", "-q"])? && apt(&install)?);
    anyhow::ensure!(
        installed,
        "could not install Debian's {package} package (apt-get install {package}): {why}"
    );
    anyhow::ensure!(
        ready(),
        "apt-get installed {package}, but it is still missing"
    );
    Ok(())
}

/// Debian's Chromium for the browser tests (`JIT_CHROMIUM`, else `/usr/bin/chromium`),
/// installed with apt-get when missing.
pub fn ensure_chromium(root: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("JIT_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    apt_install(
        root,
        "chromium",
        "the console's browser tests; or set JIT_CHROMIUM to a Chromium",
        || path.exists(),
    )?;
    Ok(path)
}
