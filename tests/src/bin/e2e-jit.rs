//! The `jit` command, built inside the test package so the end-to-end tests can run it as a
//! real process through `CARGO_BIN_EXE_e2e-jit` (the same code as `jit`).

fn main() -> std::process::ExitCode {
    jit_cli::run(std::env::args())
}
