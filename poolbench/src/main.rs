//! `poolbench`: size a Redis or PostgreSQL connection pool against your own
//! server. Loads the server through pool-redis (or pool-postgres, for a
//! `postgres://` URL) at one or more pool sizes, prints a
//! table and a recommendation, writes JSON and HTML reports; `poolbench
//! analyze` merges earlier reports. See `poolbench --help` and the README.

mod cli;
mod html;
mod load;
mod pg;
mod report;
mod server;

fn main() -> std::process::ExitCode {
    cli::main()
}
