//! What a command does to the connection it runs on, told from its name.
//! This runs on every request (and on every command of a pipeline), so it
//! never allocates: the name is upper-cased into a stack buffer and matched
//! once.

pub(crate) mod read_only;
pub(crate) mod shared_policy;

use std::time::Duration;

/// What a command does to its connection's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing that outlives the command.
    Plain,
    /// `WATCH`: watches to reset before the next user.
    Watch,
    /// `UNWATCH`.
    Unwatch,
    /// `MULTI`: a transaction opens.
    Multi,
    /// `EXEC` or `DISCARD`: it closes.
    ExecOrDiscard,
    /// Changes the session for good (database, subscriptions, login,
    /// protocol, monitor mode, reset): the connection cannot be handed to
    /// another user as it is.
    Session,
    /// May block the connection server-side (`BLPOP`, `XREAD BLOCK`, ...);
    /// `blocking_timeout` says whether and for how long.
    Blocking,
}

/// The command's name (its first argument).
pub(crate) fn name(cmd: &redis::Cmd) -> &[u8] {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => name,
        _ => b"",
    }
}

/// What `name` does; no allocation.
pub(crate) fn kind(name: &[u8]) -> Kind {
    let mut buf = [0u8; 16];
    let Some(upper) = buf.get_mut(..name.len()) else {
        return Kind::Plain; // no command of interest is this long
    };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    match &*upper {
        b"WATCH" => Kind::Watch,
        b"UNWATCH" => Kind::Unwatch,
        b"MULTI" => Kind::Multi,
        b"EXEC" | b"DISCARD" => Kind::ExecOrDiscard,
        b"SELECT" | b"SUBSCRIBE" | b"PSUBSCRIBE" | b"SSUBSCRIBE" | b"UNSUBSCRIBE"
        | b"PUNSUBSCRIBE" | b"SUNSUBSCRIBE" | b"MONITOR" | b"RESET" | b"QUIT" | b"AUTH"
        | b"HELLO" | b"READONLY" | b"READWRITE" | b"SYNC" | b"PSYNC" => Kind::Session,
        b"BLPOP" | b"BRPOP" | b"BRPOPLPUSH" | b"BLMOVE" | b"BZPOPMIN" | b"BZPOPMAX" | b"BLMPOP"
        | b"BZMPOP" | b"XREAD" | b"XREADGROUP" | b"WAIT" | b"WAITAOF" => Kind::Blocking,
        _ => Kind::Plain,
    }
}

/// What `cmd` does, its arguments considered where the name is not
/// enough: `CLIENT SETNAME` (and `TRACKING`, `REPLY`, `NO-EVICT`,
/// `NO-TOUCH`) change the session, other `CLIENT` subcommands do not.
pub(crate) fn kind_of(cmd: &redis::Cmd) -> Kind {
    let name = name(cmd);
    match kind(name) {
        Kind::Plain if name.eq_ignore_ascii_case(b"CLIENT") => {
            let sub = match cmd.args_iter().nth(1) {
                Some(redis::Arg::Simple(sub)) => sub,
                _ => return Kind::Plain,
            };
            let changes = [
                b"SETNAME".as_slice(),
                b"TRACKING",
                b"REPLY",
                b"NO-EVICT",
                b"NO-TOUCH",
            ]
            .iter()
            .any(|s| sub.eq_ignore_ascii_case(s));
            if changes { Kind::Session } else { Kind::Plain }
        }
        kind => kind,
    }
}

/// A blocking command's own timeout.
pub(crate) enum Blocking {
    For(Duration),
    Forever,
}

/// The timeout a blocking command asks the server for, if `cmd` is one.
/// Allocation-free for every other command (it runs on each request).
pub(crate) fn blocking_timeout(cmd: &redis::Cmd) -> Option<Blocking> {
    let mut args = cmd.args_iter().filter_map(|a| match a {
        redis::Arg::Simple(bytes) => Some(bytes),
        _ => None,
    });
    let name = args.next()?;
    if kind(name) != Kind::Blocking {
        return None;
    }
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    let seconds =
        |arg: Option<&[u8]>| -> Option<f64> { std::str::from_utf8(arg?).ok()?.parse().ok() };
    let secs = if is(b"BLPOP")
        || is(b"BRPOP")
        || is(b"BRPOPLPUSH")
        || is(b"BLMOVE")
        || is(b"BZPOPMIN")
        || is(b"BZPOPMAX")
    {
        // The timeout (seconds) is the last argument.
        seconds(args.last())?
    } else if is(b"BLMPOP") || is(b"BZMPOP") {
        // The timeout (seconds) comes first.
        seconds(args.next())?
    } else if is(b"XREAD") || is(b"XREADGROUP") {
        // BLOCK <milliseconds>.
        args.find(|a| a.eq_ignore_ascii_case(b"BLOCK"))?;
        seconds(args.next())? / 1000.0
    } else if is(b"WAIT") {
        // WAIT numreplicas timeout(ms).
        seconds(args.nth(1))? / 1000.0
    } else if is(b"WAITAOF") {
        // WAITAOF numlocal numreplicas timeout(ms).
        seconds(args.nth(2))? / 1000.0
    } else {
        return None;
    };
    Some(blocking_for(secs))
}

/// The longest timeout a blocking command is taken to mean literally: past
/// it (or for `inf`, `NaN`, `0`, a negative number) the command is treated
/// as blocking for as long as the server lets it, and the server judges the
/// argument (it refuses what it cannot parse).
const LONGEST_BLOCKING: Duration = Duration::from_secs(365 * 24 * 3600);

fn blocking_for(secs: f64) -> Blocking {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() && d <= LONGEST_BLOCKING => Blocking::For(d),
        _ => Blocking::Forever,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_in_any_case() {
        assert_eq!(kind(b"get"), Kind::Plain);
        assert_eq!(kind(b"Watch"), Kind::Watch);
        assert_eq!(kind(b"select"), Kind::Session);
        assert_eq!(kind(b"hello"), Kind::Session);
        assert_eq!(kind(b"bLpOp"), Kind::Blocking);
        assert_eq!(kind(b"A_VERY_LONG_MODULE_COMMAND_NAME"), Kind::Plain);
    }

    #[test]
    fn client_subcommands_that_change_the_session_are_told_apart() {
        assert_eq!(
            kind_of(redis::cmd("CLIENT").arg("SETNAME").arg("x")),
            Kind::Session
        );
        assert_eq!(
            kind_of(redis::cmd("client").arg("tracking").arg("on")),
            Kind::Session
        );
        assert_eq!(kind_of(redis::cmd("CLIENT").arg("ID")), Kind::Plain);
        assert_eq!(kind_of(redis::cmd("CLIENT").arg("INFO")), Kind::Plain);
        assert_eq!(kind_of(redis::cmd("SELECT").arg(1)), Kind::Session);
    }

    #[test]
    fn blocking_timeouts_are_read_from_their_arguments() {
        let secs = |c: &redis::Cmd| match blocking_timeout(c) {
            Some(Blocking::For(d)) => Some(d.as_secs_f64()),
            Some(Blocking::Forever) => Some(f64::INFINITY),
            None => None,
        };
        assert_eq!(
            secs(redis::cmd("BLPOP").arg("a").arg("b").arg(2)),
            Some(2.0)
        );
        assert_eq!(
            secs(redis::cmd("BLMPOP").arg(1.5).arg(1).arg("a").arg("LEFT")),
            Some(1.5)
        );
        assert_eq!(
            secs(
                redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(500)
                    .arg("STREAMS")
                    .arg("s")
                    .arg("$")
            ),
            Some(0.5)
        );
        assert_eq!(
            secs(redis::cmd("XREAD").arg("STREAMS").arg("s").arg("0")),
            None
        );
        assert_eq!(
            secs(redis::cmd("BLPOP").arg("a").arg(0)),
            Some(f64::INFINITY)
        );
        assert_eq!(
            secs(redis::cmd("WAITAOF").arg(1).arg(0).arg(250)),
            Some(0.25)
        );
        assert_eq!(secs(redis::cmd("GET").arg("a")), None);
    }

    #[test]
    fn absurd_blocking_timeouts_block_as_the_server_says_and_never_panic() {
        for timeout in ["inf", "-inf", "NaN", "1e20", "1e300", "-1", "nonsense"] {
            let cmd = redis::cmd("BLPOP").arg("q").arg(timeout).clone();
            match blocking_timeout(&cmd) {
                Some(Blocking::Forever) | None => {}
                Some(Blocking::For(d)) => panic!("{timeout}: read as {d:?}"),
            }
        }
        for timeout in [f64::INFINITY, f64::NAN, 1e20, f64::MAX] {
            let cmd = redis::cmd("BLPOP").arg("q").arg(timeout).clone();
            assert!(matches!(blocking_timeout(&cmd), Some(Blocking::Forever)));
        }
    }

    #[test]
    fn replication_and_cluster_session_commands_are_session_changes() {
        for name in ["READONLY", "readwrite", "SYNC", "psync"] {
            assert_eq!(kind(name.as_bytes()), Kind::Session, "{name}");
        }
        assert_eq!(kind(b"waitaof"), Kind::Blocking);
    }
}
