//! Passwords out of anything printed: URLs in `Debug` output and errors.
//!
//! The masks follow tokio-postgres's own parsers (its `Config::from_str`)
//! rule for rule, so whatever it would take as the password is what is
//! hidden: in a URL the credentials run to the *first* `@`, and a query
//! key is percent-decoded before it is compared; in a key-value string
//! `password = 'a b'` may have spaces around `=`, quotes and backslash
//! escapes. Text the parser would refuse is masked from where it stops
//! understanding it, when a password could be in the rest.

const MASK: &str = "***";

/// `s` (a `postgres://` URL or a key-value connection string) with every
/// password replaced by `***`.
pub fn masked_url(s: &str) -> String {
    for prefix in ["postgres://", "postgresql://"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return format!("{prefix}{}", mask_url_body(rest));
        }
    }
    mask_key_values(s)
}

/// After `postgres://`: `[user[:password]@]hosts[/db][?k=v&...]`.
fn mask_url_body(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    let mut rest = rest;
    // tokio-postgres: credentials are everything up to the first `@`.
    if let Some(at) = rest.find('@') {
        let creds = &rest[..at];
        match creds.split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
            }
            None => out.push_str(creds),
        }
        out.push('@');
        rest = &rest[at + 1..];
    }
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=q]);
    for (i, param) in rest[q + 1..].split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match param.split_once('=') {
            Some((key, _)) if is_password_key(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(MASK);
            }
            Some(_) => out.push_str(param),
            // The parser refuses a key without `=`; whatever follows may
            // be anything.
            None if param.is_empty() => {}
            None => out.push_str(MASK),
        }
    }
    out
}

/// A query key that is, or may decode to, `password`.
fn is_password_key(key: &str) -> bool {
    let decoded = percent_decode(key);
    decoded.eq_ignore_ascii_case("password") || decoded.is_none_or_invalid()
}

/// Percent-decoded as tokio-postgres decodes (`None`: not UTF-8).
fn percent_decode(s: &str) -> Decoded {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(hi)), Some(Some(lo))) = (
                bytes.get(i + 1).map(|&b| hex(b)),
                bytes.get(i + 2).map(|&b| hex(b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Decoded(String::from_utf8(out).ok())
}

struct Decoded(Option<String>);

impl Decoded {
    fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.0
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(other))
    }

    fn is_none_or_invalid(&self) -> bool {
        self.0.is_none()
    }
}

/// `key = value` pairs separated by whitespace; a value is `'quoted'`
/// (backslash escapes) or runs to the next whitespace (backslash escapes).
fn mask_key_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    let ws = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>, out: &mut String| {
        while let Some(&(_, c)) = it.peek() {
            if !c.is_whitespace() {
                break;
            }
            out.push(c);
            it.next();
        }
    };
    loop {
        ws(&mut it, &mut out);
        let Some(&(start, _)) = it.peek() else {
            return out;
        };
        let mut end = s.len();
        while let Some(&(i, c)) = it.peek() {
            if c.is_whitespace() || c == '=' {
                end = i;
                break;
            }
            it.next();
        }
        let key = &s[start..end];
        out.push_str(key);
        ws(&mut it, &mut out);
        if it.peek().map(|&(_, c)| c) != Some('=') {
            // Not a key-value string the parser takes: hide the rest if a
            // password could be in it.
            let rest = it.peek().map_or("", |&(i, _)| &s[i..]);
            out.push_str(
                if rest.to_ascii_lowercase().contains("pass")
                    || key.to_ascii_lowercase().contains("pass")
                {
                    MASK
                } else {
                    rest
                },
            );
            return out;
        }
        it.next();
        out.push('=');
        ws(&mut it, &mut out);
        let secret = key.eq_ignore_ascii_case("password");
        let mut value = String::new();
        let quoted = it.peek().map(|&(_, c)| c) == Some('\'');
        if quoted {
            it.next();
            value.push('\'');
            let mut closed = false;
            while let Some((_, c)) = it.next() {
                value.push(c);
                if c == '\\' {
                    if let Some((_, c2)) = it.next() {
                        value.push(c2);
                    }
                } else if c == '\'' {
                    closed = true;
                    break;
                }
            }
            if !closed {
                // An unterminated quote: the parser refuses it; the rest is
                // all value.
                out.push_str(MASK);
                return out;
            }
        } else {
            while let Some(&(_, c)) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                value.push(c);
                if c == '\\'
                    && let Some((_, c2)) = it.next()
                {
                    value.push(c2);
                }
            }
        }
        // A quoted value stays quoted: the next token may follow the
        // closing quote with no space, and must not run into the mask.
        out.push_str(match (secret, quoted) {
            (true, true) => "'***'",
            (true, false) => MASK,
            (false, _) => &value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn masks_every_place_a_password_can_be() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            ("postgres://app@db/x", "postgres://app@db/x"),
            (
                "postgres://db/x?user=a&password=s3cret&sslmode=disable",
                "postgres://db/x?user=a&password=***&sslmode=disable",
            ),
            ("postgres://app:pa/ss@db/x", "postgres://app:***@db/x"),
            (
                "postgresql://app:s3c@ret@db/x",
                "postgresql://app:***@ret@db/x",
            ),
            (
                "postgres://db/x?pass%77ord=s3cret",
                "postgres://db/x?pass%77ord=***",
            ),
            (
                "host=db password='s e c' dbname=x",
                "host=db password='***' dbname=x",
            ),
            // The next token right after the closing quote must not run
            // into the mask (found by fuzzing).
            (
                "host=db password='s3cret'user=a",
                "host=db password='***'user=a",
            ),
            (
                "host=db password = s3cret dbname=x",
                "host=db password = *** dbname=x",
            ),
            (
                "host=db password='it\\'s s3cret' user=a",
                "host=db password='***' user=a",
            ),
            ("host=db PASSWORD=s3cret", "host=db PASSWORD=***"),
            (
                "host=db password='unterminated s3cret",
                "host=db password=***",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(masked_url(url), shown, "{url}");
        }
    }

    proptest::proptest! {
        /// Whatever password tokio-postgres reads never shows in the
        /// masked text.
        #[test]
        fn no_password_tokio_postgres_accepts_survives_the_mask(
            user in "[a-z]{1,4}",
            password in "[A-Za-z0-9@:/?&=%' .!*~-]{6,16}",
            form in 0usize..4,
        ) {
            let quoted = password.replace('\\', "\\\\").replace('\'', "\\'");
            let text = match form {
                0 => format!("postgres://{user}:{password}@db:5432/x"),
                1 => format!("postgresql://{user}@db/x?sslmode=disable&password={password}"),
                2 => format!("host=db user={user} password = '{quoted}' dbname=x"),
                _ => format!("host=db password={password} user={user}"),
            };
            let Ok(config) = text.parse::<tokio_postgres::Config>() else {
                return Ok(());
            };
            let Some(seen) = config.get_password() else {
                return Ok(());
            };
            let seen = String::from_utf8_lossy(seen);
            let masked = masked_url(&text);
            if seen.len() >= 4 {
                proptest::prop_assert!(!masked.contains(&*seen), "{text} -> {masked} shows {seen}");
            }
        }
    }
}
