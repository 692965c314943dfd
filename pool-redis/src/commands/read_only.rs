//! Which requests may be sent twice: reads that change nothing on the
//! server, so that a read whose connection broke can be sent again on a
//! fresh one without the caller noticing.
//!
//! The table lists commands by name; a few are reads only without certain
//! arguments (`SORT ... STORE` writes, `XREAD BLOCK` blocks). Anything not
//! in the table is never sent twice: writes, scripts (even `EVAL_RO`: a
//! retry policy should not depend on what a script does), transactions,
//! blocking commands, commands that look like reads but write (`GETEX`,
//! `GETDEL`, `SPOP`, `XREADGROUP`, `PFCOUNT`, which may rewrite its cache,
//! `TOUCH`, which updates access times), and module commands.

/// Commands that only read, whatever their arguments (after the checks in
/// [`is_read_only`] for `SORT`, `GEORADIUS*` and `XREAD`). Upper case.
const READS: &[&[u8]] = &[
    // Keys and strings.
    b"GET",
    b"MGET",
    b"GETRANGE",
    b"SUBSTR",
    b"STRLEN",
    b"GETBIT",
    b"BITCOUNT",
    b"BITPOS",
    b"LCS",
    b"EXISTS",
    b"TTL",
    b"PTTL",
    b"EXPIRETIME",
    b"PEXPIRETIME",
    b"TYPE",
    b"DUMP",
    b"KEYS",
    b"SCAN",
    b"RANDOMKEY",
    b"DBSIZE",
    // Hashes.
    b"HGET",
    b"HMGET",
    b"HGETALL",
    b"HKEYS",
    b"HVALS",
    b"HLEN",
    b"HEXISTS",
    b"HSTRLEN",
    b"HRANDFIELD",
    b"HSCAN",
    // Lists.
    b"LRANGE",
    b"LLEN",
    b"LINDEX",
    b"LPOS",
    // Sets.
    b"SMEMBERS",
    b"SISMEMBER",
    b"SMISMEMBER",
    b"SCARD",
    b"SRANDMEMBER",
    b"SINTER",
    b"SINTERCARD",
    b"SUNION",
    b"SDIFF",
    b"SSCAN",
    // Sorted sets.
    b"ZRANGE",
    b"ZRANGEBYSCORE",
    b"ZRANGEBYLEX",
    b"ZREVRANGE",
    b"ZREVRANGEBYSCORE",
    b"ZREVRANGEBYLEX",
    b"ZSCORE",
    b"ZMSCORE",
    b"ZCARD",
    b"ZCOUNT",
    b"ZLEXCOUNT",
    b"ZRANK",
    b"ZREVRANK",
    b"ZRANDMEMBER",
    b"ZINTER",
    b"ZINTERCARD",
    b"ZUNION",
    b"ZDIFF",
    b"ZSCAN",
    // Streams (XREAD: see below).
    b"XRANGE",
    b"XREVRANGE",
    b"XLEN",
    b"XREAD",
    // Geo (GEORADIUS*: see below).
    b"GEOPOS",
    b"GEODIST",
    b"GEOHASH",
    b"GEOSEARCH",
    b"GEORADIUS",
    b"GEORADIUSBYMEMBER",
    b"GEORADIUS_RO",
    b"GEORADIUSBYMEMBER_RO",
    // Sort (SORT: see below).
    b"SORT",
    b"SORT_RO",
    // The connection and server, read only.
    b"PING",
    b"ECHO",
    b"TIME",
];

/// Whether `cmd` only reads, so it may be sent again after its connection
/// broke. Allocation-free.
pub(crate) fn is_read_only(cmd: &redis::Cmd) -> bool {
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return false;
    };
    let mut buf = [0u8; 24];
    let Some(upper) = buf.get_mut(..name.len()) else {
        return false;
    };
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    let upper = &*upper;
    if !READS.contains(&upper) {
        return false;
    }
    // Arguments that turn a read into a write (or a blocking read).
    let has = |word: &[u8]| {
        cmd.args_iter()
            .skip(1)
            .any(|a| matches!(a, redis::Arg::Simple(b) if b.eq_ignore_ascii_case(word)))
    };
    match upper {
        b"SORT" | b"GEORADIUS" | b"GEORADIUSBYMEMBER" => !has(b"STORE") && !has(b"STOREDIST"),
        b"XREAD" => !has(b"BLOCK"),
        _ => true,
    }
}

/// Whether every command of `pipeline` only reads. A transaction is never
/// sent twice, reads only or not: neither an atomic pipeline nor one with
/// its own `MULTI` (not in the table).
pub(crate) fn pipeline_is_read_only(pipeline: &redis::Pipeline) -> bool {
    if pipeline.is_transaction() {
        return false;
    }
    let mut any = false;
    for cmd in pipeline.cmd_iter() {
        if !is_read_only(cmd) {
            return false;
        }
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::cmd;

    #[test]
    fn reads_are_retryable_in_any_case() {
        for c in [
            cmd("GET").arg("k"),
            cmd("get").arg("k"),
            cmd("MGET").arg("a").arg("b"),
            cmd("HGETALL").arg("h"),
            cmd("HMGET").arg("h").arg("f"),
            cmd("EXISTS").arg("k"),
            cmd("TTL").arg("k"),
            cmd("PTTL").arg("k"),
            cmd("TYPE").arg("k"),
            cmd("STRLEN").arg("k"),
            cmd("LRANGE").arg("l").arg(0).arg(-1),
            cmd("LLEN").arg("l"),
            cmd("SMEMBERS").arg("s"),
            cmd("SISMEMBER").arg("s").arg("m"),
            cmd("SCARD").arg("s"),
            cmd("ZRANGE").arg("z").arg(0).arg(-1),
            cmd("ZSCORE").arg("z").arg("m"),
            cmd("ZCARD").arg("z"),
            cmd("SORT").arg("l").arg("ALPHA"),
            cmd("SORT_RO").arg("l"),
            cmd("XREAD")
                .arg("COUNT")
                .arg(1)
                .arg("STREAMS")
                .arg("s")
                .arg("0"),
            cmd("GEORADIUS_RO").arg("g").arg(0).arg(0).arg(1).arg("km"),
            cmd("GEORADIUSBYMEMBER_RO")
                .arg("g")
                .arg("m")
                .arg(1)
                .arg("km"),
        ] {
            assert!(is_read_only(c), "{:?}", c.args_iter().next());
        }
    }

    #[test]
    fn writes_and_look_alikes_are_never_retried() {
        for c in [
            cmd("SET").arg("k").arg(1),
            cmd("INCR").arg("k"),
            cmd("DEL").arg("k"),
            cmd("GETEX").arg("k").arg("EX").arg(5),
            cmd("GETEX").arg("k"),
            cmd("GETDEL").arg("k"),
            cmd("GETSET").arg("k").arg(1),
            cmd("SPOP").arg("s"),
            cmd("LPOP").arg("l"),
            cmd("SORT").arg("l").arg("STORE").arg("dst"),
            cmd("sort").arg("l").arg("store").arg("dst"),
            cmd("GEORADIUS")
                .arg("g")
                .arg(0)
                .arg(0)
                .arg(1)
                .arg("km")
                .arg("STORE")
                .arg("d"),
            cmd("GEORADIUSBYMEMBER")
                .arg("g")
                .arg("m")
                .arg(1)
                .arg("km")
                .arg("STOREDIST")
                .arg("d"),
            cmd("ZRANGESTORE").arg("d").arg("z").arg(0).arg(-1),
            cmd("XREADGROUP")
                .arg("GROUP")
                .arg("g")
                .arg("c")
                .arg("STREAMS")
                .arg("s")
                .arg(">"),
            cmd("XREAD")
                .arg("BLOCK")
                .arg(100)
                .arg("STREAMS")
                .arg("s")
                .arg("$"),
            cmd("BLPOP").arg("l").arg(1),
            cmd("PFCOUNT").arg("h"),
            cmd("TOUCH").arg("k"),
            cmd("EVAL").arg("return 1").arg(0),
            cmd("EVAL_RO").arg("return 1").arg(0),
            cmd("FCALL_RO").arg("f").arg(0),
            &mut cmd("MULTI"),
            &mut cmd("EXEC"),
            cmd("WATCH").arg("k"),
            cmd("SELECT").arg(1),
            cmd("JSON.GET").arg("k"),
            &mut cmd("A_VERY_LONG_MODULE_COMMAND_NAME_INDEED"),
        ] {
            assert!(!is_read_only(c), "{:?}", c.args_iter().next());
        }
    }

    #[test]
    fn a_pipeline_is_retryable_only_if_every_command_is() {
        let mut reads = redis::pipe();
        reads.get("a").hgetall("h").cmd("LLEN").arg("l");
        assert!(pipeline_is_read_only(&reads));
        let mut mixed = redis::pipe();
        mixed.get("a").incr("n", 1);
        assert!(!pipeline_is_read_only(&mixed));
        let mut atomic = redis::pipe();
        atomic.atomic().get("a");
        assert!(!pipeline_is_read_only(&atomic), "MULTI/EXEC is not a read");
        assert!(!pipeline_is_read_only(&redis::pipe()));
    }
}
