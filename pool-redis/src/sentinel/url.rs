//! `redis+sentinel://` addresses: where the role pools (and anything that
//! takes a URL string) say "ask these sentinels for this master".
//!
//! `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/MASTER_NAME[/DB][?tls_ca=...]`
//!
//! The login and database are the data nodes'; the sentinels are reached
//! without one (port 26379 when none is given). `rediss+sentinel://` uses
//! TLS to the sentinels and the nodes, with the certificate parameters of
//! `rediss://` URLs.

use redis::IntoConnectionInfo;

use super::{Manager, SentinelServerType, TlsMode};
use crate::config_error::ConfigError;
use crate::secret::masked_url;

const PLAIN: &str = "redis+sentinel://";
const TLS: &str = "rediss+sentinel://";

/// Whether `url` names sentinels rather than a server.
pub(crate) fn is_sentinel_url(url: &str) -> bool {
    url.starts_with(PLAIN) || url.starts_with(TLS)
}

/// A one-server manager that follows the sentinels `url` names, serving
/// `server_type`.
pub(crate) fn manager_from_url(
    url: &str,
    server_type: SentinelServerType,
) -> Result<crate::Manager, ConfigError> {
    let bad = |what: String| ConfigError::SentinelUrl(format!("{what} in {}", masked_url(url)));
    let (tls, rest) = match url.strip_prefix(TLS) {
        Some(rest) => (true, rest),
        None => (
            false,
            url.strip_prefix(PLAIN)
                .ok_or_else(|| bad("not a redis+sentinel:// address".into()))?,
        ),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, rest),
    };
    let (hosts, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("no master name (`/MASTER_NAME` after the sentinels)".into()))?;
    let mut path = path.split('/');
    let master_name = path
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("an empty master name".into()))?;
    let db = match path.next() {
        None | Some("") => 0,
        Some(db) => db
            .parse::<i64>()
            .map_err(|_| bad(format!("database `{db}` is not a number")))?,
    };
    if let Some(extra) = path.next() {
        return Err(bad(format!("an unexpected path part `{extra}`")));
    }
    let scheme = if tls { "rediss" } else { "redis" };
    let mut sentinels = Vec::new();
    for host in hosts.split(',') {
        if host.is_empty() {
            return Err(bad("an empty sentinel address".into()));
        }
        let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
            host.to_owned()
        } else {
            format!("{host}:26379")
        };
        let info = format!("{scheme}://{with_port}")
            .as_str()
            .into_connection_info()
            .map_err(|e| bad(format!("sentinel `{host}`: {e}")))?;
        sentinels.push(info);
    }
    // The certificate parameters, read as on a `rediss://` URL.
    let certs = match query {
        Some(query) => crate::tls::split_url(&format!("rediss://sentinel/?{query}"))?.1,
        None => None,
    };
    // The login and database, read (and percent-decoded) as on a
    // `redis://` URL.
    let login = match auth {
        Some(auth) => format!("redis://{auth}@sentinel-discovered/{db}"),
        None => format!("redis://sentinel-discovered/{db}"),
    };
    let settings = login
        .as_str()
        .into_connection_info()
        .map_err(|_| bad("a login that is not `user:password`".into()))?
        .redis_settings()
        .clone();
    let manager = Manager::follow(
        sentinels,
        master_name.to_owned(),
        tls.then_some(TlsMode::Secure),
        settings,
        server_type,
        certs,
    )?;
    Ok(manager.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        match manager_from_url(url, SentinelServerType::Master) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_addresses_are_accepted() {
        for url in [
            "redis+sentinel://127.0.0.1:26379/mymaster",
            "redis+sentinel://a:1,b:2,c/mymaster/3",
            "redis+sentinel://:s3cret@a:1/mymaster",
            "redis+sentinel://user:s3cret@a:1/mymaster/0",
        ] {
            assert_eq!(error(url), "accepted", "{url}");
        }
    }

    #[test]
    fn bad_addresses_name_the_bad_part_and_never_the_password() {
        let cases = [
            ("redis+sentinel://:s3cret@a:1", "no master name"),
            ("redis+sentinel://:s3cret@a:1/", "empty master name"),
            ("redis+sentinel://:s3cret@a:1/m/x", "database `x`"),
            (
                "redis+sentinel://:s3cret@a:1/m/0/z",
                "unexpected path part `z`",
            ),
            (
                "redis+sentinel://:s3cret@a:1,,b:2/m",
                "empty sentinel address",
            ),
            (
                "redis+sentinel://:s3cret@a:notaport/m",
                "sentinel `a:notaport`",
            ),
        ];
        for (url, expected) in cases {
            let e = error(url);
            assert!(e.contains(expected), "{url}: {e}");
            assert!(!e.contains("s3cret"), "{url}: {e}");
        }
    }
}
