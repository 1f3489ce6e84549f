//! The pinned local tools (`temporal`, `moto_server`) in the repository's own `.venv/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Paths of the installed tools.
#[derive(Debug, Clone)]
pub struct Tools {
    pub temporal: PathBuf,
    pub moto_server: PathBuf,
    /// The venv's Python (with pycasbin, to check the compiled policy in another Casbin).
    pub python: PathBuf,
}

/// The repository root (where `Cargo.toml` of the workspace and `temporal-dev.yaml` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Makes sure `.venv/` holds exactly the pinned tools, installing them with pip if not.
///
/// Idempotent and safe to call from several processes at once (a file lock serialises the
/// install). The stamp file records the pins the venv was built from; a change of pins
/// reinstalls.
pub fn ensure_tools(root: &Path) -> anyhow::Result<Tools> {
    let venv = root.join(".venv");
    let reqs = root.join("deploy/local/requirements.txt");
    let constraints = root.join("deploy/local/constraints.txt");
    let pins = format!(
        "{}\n{}",
        std::fs::read_to_string(&reqs).with_context(|| format!("reading {}", reqs.display()))?,
        std::fs::read_to_string(&constraints)
            .with_context(|| format!("reading {}", constraints.display()))?
    );
    let stamp = venv.join(".jit-pins");
    let tools = Tools {
        temporal: venv.join("bin/temporal"),
        moto_server: venv.join("bin/moto_server"),
        python: venv.join("bin/python"),
    };
    let ready = |t: &Tools| {
        t.temporal.exists()
            && t.moto_server.exists()
            && std::fs::read_to_string(&stamp).ok().as_deref() == Some(pins.as_str())
    };
    if ready(&tools) {
        return Ok(tools);
    }
    std::fs::create_dir_all(root.join(".jit"))?;
    let _lock = FileLock::acquire(&root.join(".jit/venv.lock"))?;
    if ready(&tools) {
        return Ok(tools);
    }
    eprintln!(
        "installing the pinned local tools into {} ...",
        venv.display()
    );
    if !venv.join("bin/python").exists() {
        let python = find_python()?;
        run(Command::new(&python).args(["-m", "venv"]).arg(&venv))
            .context("creating .venv (python3 -m venv)")?;
    }
    run(Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&reqs)
        .arg("-c")
        .arg(&constraints))
    .context("pip install of deploy/local/requirements.txt")?;
    if !tools.temporal.exists() || !tools.moto_server.exists() {
        bail!("pip finished but .venv/bin/temporal or .venv/bin/moto_server is missing");
    }
    std::fs::write(&stamp, pins)?;
    Ok(tools)
}

fn find_python() -> anyhow::Result<String> {
    for p in ["python3", "python"] {
        if Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Ok(p.to_owned());
        }
    }
    bail!(
        "no python3 on PATH: the local stack's tools are installed with it (apt-get install python3 python3-venv)"
    )
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// An exclusive advisory lock on a file, released on drop.
#[derive(Debug)]
pub struct FileLock {
    // Held for its lock; closing the file releases it.
    _file: std::fs::File,
}

impl FileLock {
    pub fn acquire(path: &Path) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        crate::sys::flock_exclusive(f.as_raw_fd())
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Self { _file: f })
    }
}
