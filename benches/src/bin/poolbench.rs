//! `poolbench`: size a Redis connection pool against your own server. See
//! `poolbench --help` and the README.

fn main() -> std::process::ExitCode {
    poolbench::cli::main()
}
