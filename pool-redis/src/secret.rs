//! Keeping passwords out of every output: `Debug` of the configuration
//! types, stats, logs and errors show `***` where a password is.
//!
//! Masked, not omitted, so a reader still sees that a password is set.
//! `Serialize` keeps passwords (configurations must round-trip); this
//! module is only for what people read.

use std::fmt;

/// What a password is shown as.
pub(crate) const MASK: &str = "***";

/// `url` with its password masked: `redis://user:pass@host/0` shows as
/// `redis://user:***@host/0`, the `pass=`/`password=` query parameters of a
/// `redis+unix://` URL likewise. Works on strings that do not parse as a
/// URL too (it looks only for `://`, `@` and `?`): anything before the last
/// `@` is treated as credentials, so a malformed URL is over-masked rather
/// than leaked.
pub(crate) fn masked_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    let after_credentials = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                // `user:password`: keep the user unless it looks like more
                // than a name (a malformed URL).
                Some((user, _)) if !user.contains(['/', '?', '#']) => {
                    out.push_str(user);
                    out.push(':');
                }
                _ => {}
            }
            out.push_str(MASK);
            &rest[at..]
        }
        None => rest,
    };
    match after_credentials.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            for (i, param) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match param.split_once('=') {
                    Some((key, _))
                        if key.eq_ignore_ascii_case("pass")
                            || key.eq_ignore_ascii_case("password") =>
                    {
                        out.push_str(key);
                        out.push('=');
                        out.push_str(MASK);
                    }
                    _ => out.push_str(param),
                }
            }
        }
        None => out.push_str(after_credentials),
    }
    out
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
            ("redis://:pa@ss/w?rd@host/1", "redis://:***@host/1"),
            (
                "redis+unix:///tmp/r.sock?db=1&pass=s3cret",
                "redis+unix:///tmp/r.sock?db=1&pass=***",
            ),
            (
                "redis+unix:///tmp/r.sock?PASSWORD=s3cret&user=bob",
                "redis+unix:///tmp/r.sock?PASSWORD=***&user=bob",
            ),
            ("redis//:s3cret@host", "***@host"),
            ("redis://host:6379/0", "redis://host:6379/0"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(masked_url(url), shown, "{url}");
            assert!(!masked_url(url).contains("s3cret"));
        }
    }
}
