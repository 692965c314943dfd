//! Passwords out of anything printed: URLs in `Debug` output and errors.

/// `url` with its password replaced by `***`: the userinfo password of a
/// `postgres://user:password@host` URL, a `password=` query parameter, and a
/// `password=...` pair of a key-value connection string.
pub(crate) fn mask_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let at = rest_start + at;
            if let Some(colon) = out[rest_start..at].find(':') {
                out.replace_range(rest_start + colon + 1..at, "***");
            }
        }
    }
    mask_pairs(&out)
}

/// Replaces the value after every `password=` (URL query or key-value
/// string) up to the next separator.
fn mask_pairs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let value_start = i + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let tail = &rest[value_start..];
        let value_end = if let Some(quoted) = tail.strip_prefix('\'') {
            quoted.find('\'').map_or(tail.len(), |j| j + 2)
        } else {
            tail.find(['&', ' ']).unwrap_or(tail.len())
        };
        rest = &tail[value_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn masks_every_place_a_password_can_be() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(mask_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            mask_url("postgres://db/x?user=a&password=s3cret&sslmode=disable"),
            "postgres://db/x?user=a&password=***&sslmode=disable"
        );
        assert_eq!(
            mask_url("host=db password='s e c' dbname=x"),
            "host=db password=*** dbname=x"
        );
        assert_eq!(mask_url("host=db PASSWORD=s3cret"), "host=db PASSWORD=***");
    }
}
