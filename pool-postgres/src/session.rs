//! Whether a connection may be inside a transaction, as far as the wrapper
//! can tell. tokio-postgres does not expose the server's transaction status,
//! so the wrapper follows what went through it:
//!
//! - SQL text sent through its methods is scanned for transaction control
//!   (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`,
//!   `PREPARE TRANSACTION`);
//! - a [`Transaction`](crate::Transaction) marks the session open until it
//!   is dropped (tokio-postgres rolls back an unfinished one on drop); one
//!   that is `mem::forget`-ed never clears the mark;
//! - any use of the raw `tokio_postgres::Client` (`&**client`, `&mut
//!   **client`, a method the wrapper does not shadow) marks the session
//!   unknown: what went through it cannot be seen.
//!
//! A session not known to be clean gets a `ROLLBACK` at its next checkout:
//! folded into the health check when the connection is due one (one round
//! trip that both ends any transaction and proves the connection alive),
//! else sent ahead of the next user's first statement without waiting for
//! its answer (`ClientWrapper::rollback_ahead`), so a checkout costs no
//! round trip either way.

use std::sync::atomic::{AtomicU8, Ordering};

const CLEAN: u8 = 0;
const OPEN: u8 = 1;
const UNKNOWN: u8 = 2;

/// The tracked state of one connection. Only the task holding the
/// connection writes it; the pool reads it after the connection came back
/// (the hand-off through the pool orders those), so `Relaxed` suffices.
#[derive(Debug, Default)]
pub(crate) struct Session(AtomicU8);

impl Session {
    pub(crate) fn is_clean(&self) -> bool {
        self.0.load(Ordering::Relaxed) == CLEAN
    }

    pub(crate) fn mark_clean(&self) {
        self.0.store(CLEAN, Ordering::Relaxed);
    }

    pub(crate) fn mark_open(&self) {
        self.0.store(OPEN, Ordering::Relaxed);
    }

    /// The raw client was borrowed: anything may have been sent.
    pub(crate) fn mark_unknown(&self) {
        if self.0.load(Ordering::Relaxed) != UNKNOWN {
            self.0.store(UNKNOWN, Ordering::Relaxed);
        }
    }

    /// A known-open session (not one whose state is unknown).
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.0.load(Ordering::Relaxed) == OPEN
    }

    /// Follows SQL text that was sent: its last transaction-control
    /// statement decides. Text without one leaves the state as it was.
    pub(crate) fn saw_sql(&self, sql: &str) {
        match last_transaction_control(sql) {
            Some(true) => self.mark_open(),
            Some(false) if self.0.load(Ordering::Relaxed) == OPEN => self.mark_clean(),
            _ => {}
        }
    }
}

/// `Some(true)` if the last transaction-control statement in `sql` opens a
/// transaction, `Some(false)` if it ends one, `None` if there is none. Naive
/// about quotes: a statement is recognised only by its first keyword after
/// `;`, whitespace and comments, so a keyword inside a string literal can
/// only cause a needless rollback, never a missed one... except for a `;`
/// inside a literal followed by `COMMIT`-like text, which is accepted.
pub(crate) fn last_transaction_control(sql: &str) -> Option<bool> {
    let mut last = None;
    for statement in sql.split(';') {
        let (first, second) = first_words(statement);
        let is = |word: &str, keyword: &str| word.eq_ignore_ascii_case(keyword);
        let verdict = if is(first, "begin") || is(first, "start") {
            Some(true)
        } else if is(first, "commit") || is(first, "end") || is(first, "abort") {
            Some(false)
        } else if is(first, "rollback") {
            // `ROLLBACK TO [SAVEPOINT] x` stays inside the transaction.
            (!is(second, "to")).then_some(false)
        } else if is(first, "prepare") && is(second, "transaction") {
            Some(false)
        } else {
            None
        };
        if verdict.is_some() {
            last = verdict;
        }
    }
    last
}

/// The first two words of a statement, after comments. Runs on every SQL
/// text sent through the wrapper: no allocation.
fn first_words(statement: &str) -> (&str, &str) {
    let mut text = statement.trim_start();
    loop {
        if let Some(rest) = text.strip_prefix("--") {
            text = rest.find('\n').map_or("", |i| &rest[i + 1..]).trim_start();
        } else if let Some(rest) = text.strip_prefix("/*") {
            text = rest.find("*/").map_or("", |i| &rest[i + 2..]).trim_start();
        } else {
            break;
        }
    }
    let mut words = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty());
    (words.next().unwrap_or(""), words.next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_transaction_control() {
        assert_eq!(last_transaction_control("BEGIN"), Some(true));
        assert_eq!(
            last_transaction_control("  begin isolation level serializable"),
            Some(true)
        );
        assert_eq!(
            last_transaction_control("START TRANSACTION READ ONLY"),
            Some(true)
        );
        assert_eq!(
            last_transaction_control("/* x */ -- y\n BEGIN;"),
            Some(true)
        );
        assert_eq!(
            last_transaction_control("BEGIN; INSERT INTO t VALUES (1); COMMIT"),
            Some(false)
        );
        assert_eq!(last_transaction_control("COMMIT; BEGIN"), Some(true));
        assert_eq!(last_transaction_control("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(last_transaction_control("rollback"), Some(false));
        assert_eq!(last_transaction_control("END"), Some(false));
        assert_eq!(
            last_transaction_control("PREPARE TRANSACTION 'x'"),
            Some(false)
        );
        assert_eq!(last_transaction_control("PREPARE q AS SELECT 1"), None);
        assert_eq!(last_transaction_control("SELECT 'begin'"), None);
        assert_eq!(last_transaction_control("SELECT 1"), None);
        assert_eq!(last_transaction_control(""), None);
    }

    #[test]
    fn session_follows_sql_and_raw_use() {
        let s = Session::default();
        assert!(s.is_clean());
        s.saw_sql("BEGIN");
        assert!(s.is_open());
        s.saw_sql("SELECT 1");
        assert!(s.is_open());
        s.saw_sql("COMMIT");
        assert!(s.is_clean());
        s.mark_unknown();
        s.saw_sql("COMMIT");
        assert!(
            !s.is_clean(),
            "text cannot clear what the raw client may have done"
        );
    }
}
