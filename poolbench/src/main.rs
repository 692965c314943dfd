//! `poolbench`: size a Redis, PostgreSQL or SQLite connection pool against
//! your own server or file. Loads it through pool-redis (pool-postgres for a
//! `postgres://` URL, pool-sqlite for `sqlite://`) at one or more pool
//! sizes, prints a
//! table and a recommendation, writes JSON and HTML reports; `poolbench
//! analyze` merges earlier reports. See `poolbench --help` and the README.

mod cli;
mod html;
mod load;
mod pg;
mod report;
mod server;
mod sqlite;

fn main() -> std::process::ExitCode {
    cli::main()
}
