//! Child processes that are always stopped: on drop, and (optionally) when their parent dies.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::sys;

/// A running child process with its output in a log file. Dropping it stops it (SIGTERM to
/// its process group, then SIGKILL after a grace period).
#[derive(Debug)]
pub struct ManagedChild {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl ManagedChild {
    /// Starts `cmd` in its own process group, output appended to `log`. With
    /// `die_with_parent` the kernel kills it when the spawning thread exits (tests); without,
    /// it outlives us (`cargo xtask up --detach`).
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        die_with_parent: bool,
    ) -> anyhow::Result<Self> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        sys::prepare_child(&mut cmd, die_with_parent);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status)` if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// SIGKILL, no grace: a crash.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = sys::kill(c.id(), libc::SIGKILL);
            let _ = c.wait();
        }
    }

    /// SIGTERM to the process group, SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            stop_pid(c.id(), grace, || matches!(c.try_wait(), Ok(Some(_))));
            let _ = c.wait();
        }
    }

    /// Forgets the child without stopping it (it keeps running, detached).
    pub fn detach(mut self) -> u32 {
        self.child.take().map_or(0, |c| c.id())
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// Stops the process group led by `pid`: SIGTERM, wait up to `grace` for `gone()`, SIGKILL.
pub fn stop_pid(pid: u32, grace: Duration, mut gone: impl FnMut() -> bool) {
    let group = -(i32::try_from(pid).unwrap_or(i32::MAX));
    let signal_group = |sig| {
        let _ = sys::kill_raw(group, sig);
        let _ = sys::kill(pid, sig);
    };
    signal_group(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if gone() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group(libc::SIGKILL);
}

/// The last `lines` lines of a file ("" if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (bound and released; the OS will not hand it out again soon).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_tcp(addr: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("nothing listens on {addr} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
