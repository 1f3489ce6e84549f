//! `jit`: see the library's documentation for the commands.

fn main() -> std::process::ExitCode {
    jit_cli::run(std::env::args())
}
