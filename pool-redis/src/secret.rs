//! Keeping passwords out of every output: `Debug` of the configuration
//! types, stats, logs and errors show `***` where a password is.
//!
//! Masked, not omitted, so a reader still sees that a password is set.
//! `Serialize` keeps passwords (configurations must round-trip); this
//! module is only for what people read.

use std::fmt;

/// What a password is shown as.
pub(crate) const MASK: &str = "***";

/// `url` with its password masked, by the rules redis-rs parses it with
/// (`url::Url`, as `redis::parse_redis_url`): the userinfo password
/// (`redis://user:***@host/0`), a userinfo name with no password (a
/// token: `redis://***@host`), and the `pass`/`password` query parameters
/// of a `redis+unix://` URL, their names percent-decoded as redis-rs
/// decodes them. Where an `@` is left after the host (a password that
/// itself held `@`, `/` or `?`, which the parser cut short), or the text
/// does not parse, everything between the scheme and the last `@` is
/// masked too: a malformed URL is over-masked rather than leaked.
pub fn masked_url(url: &str) -> String {
    // The URL parser (WHATWG's rules) drops tabs and newlines anywhere and
    // trims spaces and control characters at the ends: `redis:\t//:pw@h`
    // is `redis://:pw@h` to it, so the mask works on the text it reads.
    let read: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let text = mask_query(&read);
    if let Ok(parsed) = url::Url::parse(&text) {
        let at_after_host = parsed.path().contains('@')
            || parsed.query().is_some_and(|q| q.contains('@'))
            || parsed.fragment().is_some_and(|f| f.contains('@'));
        if !at_after_host {
            return mask_parsed(parsed);
        }
    }
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text.as_str()),
    };
    match rest.rfind('@') {
        // What follows the last `@` may hold a `?` that was not the query's
        // start before (a `?` earlier in the cut part was): mask again.
        Some(at) => mask_query(&format!("{scheme}{MASK}{}", &rest[at..])),
        None => text.clone(),
    }
}

/// The parsed URL with its credentials and password parameters masked.
fn mask_parsed(mut parsed: url::Url) -> String {
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    if parsed.query_pairs().any(|(k, _)| is_password_key(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_password_key(&k) {
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

fn looks_like_password_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("pass") || key.ends_with("password") || key.contains('%')
}

fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("pass") || key.eq_ignore_ascii_case("password")
}

/// `pass=`/`password=` values masked as text, before any parsing: a key
/// that ends in either name or holds a `%` (it may decode to one) counts.
fn mask_query(text: &str) -> String {
    let Some((path, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if looks_like_password_key(key) => format!("{key}={MASK}"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// `Debug` of an optional password: `Some("***")` or `None`.
pub(crate) struct MaskedPassword<'a>(pub(crate) &'a Option<String>);

impl fmt::Debug for MaskedPassword<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_ref().map(|_| MASK).fmt(f)
    }
}

/// `Debug` of an optional URL, masked.
pub(crate) struct MaskedUrl<'a>(pub(crate) Option<&'a str>);

impl fmt::Debug for MaskedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.map(masked_url).fmt(f)
    }
}

/// `Debug` of an optional list of URLs, each masked.
#[cfg(any(feature = "cluster", feature = "sentinel"))]
pub(crate) struct MaskedUrls<'a>(pub(crate) &'a Option<Vec<String>>);

#[cfg(any(feature = "cluster", feature = "sentinel"))]
impl fmt::Debug for MaskedUrls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .as_ref()
            .map(|urls| urls.iter().map(|u| MaskedUrl(Some(u))).collect::<Vec<_>>())
            .fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn passwords_are_masked_in_every_url_shape() {
        let cases = [
            ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
            ("redis://bob:s3cret@host/2", "redis://bob:***@host/2"),
            ("rediss://bob:s3cret@host", "rediss://bob:***@host"),
            ("redis://tokenonly@host", "redis://***@host"),
            ("redis://:pa@ss/w?rd@host/1", "redis://***@host/1"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=s3cret",
                "redis+unix:///tmp/r.sock?db=1&pass=***",
            ),
            (
                "redis+unix:///tmp/r.sock?PASSWORD=s3cret&user=bob",
                "redis+unix:///tmp/r.sock?PASSWORD=***&user=bob",
            ),
            (
                "redis+unix:///tmp/r.sock?pass=s3@cret",
                "redis+unix:///tmp/r.sock?pass=***",
            ),
            (
                "redis+unix:///tmp/r.sock?pa%73s=s3cret",
                "redis+unix:///tmp/r.sock?pass=***",
            ),
            ("redis//:s3cret@host", "***@host"),
            // A `?` in the part cut before the last `@`: the query after it
            // is masked too (found by fuzzing).
            ("redis+unix:/x?y@h?pass=s3cret", "***@h?pass=***"),
            // Tabs and newlines the URL parser drops, and an `@` after the
            // host (found by fuzzing).
            ("redis:\t//:s3cret@h/x:/@y", "redis://***@y"),
            (" redis://:s3\ncret@host\r\n", "redis://:***@host"),
            ("redis://host:6379/0", "redis://host:6379/0"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(masked_url(url), shown, "{url}");
            assert!(!masked_url(url).contains("s3cret"));
        }
    }

    proptest::proptest! {
        /// Whatever password redis-rs reads from a URL never shows in the
        /// masked text, raw or percent-encoded.
        #[test]
        fn no_password_redis_accepts_survives_the_mask(
            user in "[a-z]{0,4}",
            password in "[A-Za-z0-9@:/?#&=%+ .!*~-]{6,16}",
            host in "[a-z]{1,6}",
            form in 0usize..4,
        ) {
            let url = match form {
                0 => format!("redis://{user}:{password}@{host}:6379/0"),
                1 => format!("rediss://{user}:{password}@{host}/1"),
                2 => format!("redis+unix:///tmp/{host}.sock?db=0&pass={password}"),
                _ => format!("redis://{host}/0?password={password}&user={user}"),
            };
            let Ok(info) = redis::IntoConnectionInfo::into_connection_info(url.as_str()) else {
                return Ok(());
            };
            let Some(seen) = info.redis_settings().password() else {
                return Ok(());
            };
            let masked = masked_url(&url);
            if seen.len() >= 4 {
                proptest::prop_assert!(!masked.contains(seen), "{url} -> {masked} shows {seen}");
                let encoded: String = url::form_urlencoded::byte_serialize(seen.as_bytes()).collect();
                proptest::prop_assert!(!masked.contains(&encoded), "{url} -> {masked}");
            }
        }
    }
}
