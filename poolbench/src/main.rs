//! `poolbench`: size a Redis connection pool against your own server.
//! Loads the server through pool-redis at one or more pool sizes, prints a
//! table and a recommendation, writes JSON and HTML reports; `poolbench
//! analyze` merges earlier reports. See `poolbench --help` and the README.

mod cli;
mod html;
mod load;
mod report;
mod server;

fn main() -> std::process::ExitCode {
    cli::main()
}
