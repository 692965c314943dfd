//! `poolbench`: size a Redis, PostgreSQL, SQLite or DuckDB connection pool
//! against your own server or file. Loads it through pool-redis
//! (pool-postgres for a `postgres://` URL, pool-sqlite for `sqlite://`,
//! pool-duckdb for `duckdb://`) at one or more pool
//! sizes, prints a
//! table and a recommendation, writes JSON and HTML reports; `poolbench
//! analyze` merges earlier reports. See `poolbench --help` and the README.

mod cli;
mod duckdb;
mod embedded;
mod html;
mod load;
mod pg;
mod report;
mod server;
mod sqlite;

fn main() -> std::process::ExitCode {
    cli::main()
}
