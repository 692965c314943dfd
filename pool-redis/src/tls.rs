//! TLS (`rediss://`): certificates beyond the system's trust store, read
//! and checked when the pool is made, and the errors a TLS set-up can end
//! in, explained.
//!
//! Certificates come from the URL's query (`?tls_ca=FILE&tls_cert=FILE&
//! tls_key=FILE`: they pass through `Config::url`, `REDIS__URL` and serde
//! unchanged, and `Config` keeps deadpool-redis's fields) or as bytes
//! ([`Manager::new_with_tls`](crate::Manager::new_with_tls)). A file that is
//! missing, unreadable or not PEM, or a key that does not match its
//! certificate, is an error at pool creation naming the file; never a
//! fall-back to plaintext or to no verification.

use std::fmt;

use redis::{ErrorKind, RedisError};

use crate::config_error::ConfigError;

/// PEM certificates for TLS connections: a CA bundle to trust instead of
/// the system's store, and a client certificate with its key for mutual
/// TLS. `Debug` shows sizes only (the key is a secret).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsCertificates {
    /// CA certificates (PEM) that sign the server's certificate.
    pub root_cert: Option<Vec<u8>>,
    /// The client's certificate chain (PEM), for mutual TLS.
    pub client_cert: Option<Vec<u8>>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<Vec<u8>>,
}

impl fmt::Debug for TlsCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |b: &Option<Vec<u8>>| b.as_ref().map(|b| format!("{} bytes", b.len()));
        f.debug_struct("TlsCertificates")
            .field("root_cert", &size(&self.root_cert))
            .field("client_cert", &size(&self.client_cert))
            .field("client_key", &self.client_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The query parameters that name certificate files.
const CA: &str = "tls_ca";
const CERT: &str = "tls_cert";
const KEY: &str = "tls_key";

/// Splits the certificate parameters off `url` and reads their files: the
/// URL redis-rs should see, and the certificates (`None`: none named).
pub(crate) fn split_url(url: &str) -> Result<(String, Option<TlsCertificates>), ConfigError> {
    // A URL that does not parse is left to redis-rs, whose error says so.
    let Ok(mut parsed) = url::Url::parse(url) else {
        return Ok((url.to_owned(), None));
    };
    let mut files: [Option<String>; 3] = [None, None, None];
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(key, value)| {
            let slot = match &*key {
                CA => 0,
                CERT => 1,
                KEY => 2,
                _ => return Some((key.into_owned(), value.into_owned())),
            };
            files[slot] = Some(value.into_owned());
            None
        })
        .collect();
    if files.iter().all(Option::is_none) {
        return Ok((url.to_owned(), None));
    }
    if !matches!(parsed.scheme(), "rediss" | "valkeys") {
        return Err(ConfigError::Tls(format!(
            "{CA}/{CERT}/{KEY} given for a URL that is not rediss://: certificates need TLS"
        )));
    }
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    let clean = parsed.to_string();
    let [ca, cert, key] = files;
    let read = |param: &str, path: &Option<String>| -> Result<Option<Vec<u8>>, ConfigError> {
        path.as_ref()
            .map(|path| read_pem_file(param, path))
            .transpose()
    };
    let certs = TlsCertificates {
        root_cert: read(CA, &ca)?,
        client_cert: read(CERT, &cert)?,
        client_key: read(KEY, &key)?,
    };
    let name = |param: &str, path: &Option<String>| match path {
        Some(path) => format!("{param} file {path}"),
        None => param.to_owned(),
    };
    check(&certs, &name(CA, &ca), &name(CERT, &cert), &name(KEY, &key))?;
    Ok((clean, Some(certs)))
}

/// Checks certificates given as bytes ([`Manager::new_with_tls`]).
pub(crate) fn check_bytes(certs: &TlsCertificates) -> Result<(), ConfigError> {
    check(certs, "root_cert", "client_cert", "client_key")
}

/// Every certificate parses as PEM, a client certificate comes with its
/// key and the key matches it. `ca`, `cert`, `key` name the sources.
fn check(certs: &TlsCertificates, ca: &str, cert: &str, key: &str) -> Result<(), ConfigError> {
    match (&certs.client_cert, &certs.client_key) {
        (Some(_), None) => {
            return Err(ConfigError::Tls(format!(
                "{cert} given without {key}: mutual TLS needs both"
            )));
        }
        (None, Some(_)) => {
            return Err(ConfigError::Tls(format!(
                "{key} given without {cert}: mutual TLS needs both"
            )));
        }
        _ => {}
    }
    #[cfg(feature = "tls-rustls")]
    {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = |what: &str, pem: &[u8]| -> Result<Vec<CertificateDer<'static>>, ConfigError> {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| ConfigError::Tls(format!("{what}: not PEM certificates: {e}")))?;
            if certs.is_empty() {
                return Err(ConfigError::Tls(format!(
                    "{what}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"
                )));
            }
            Ok(certs)
        };
        if let Some(pem) = &certs.root_cert {
            chain(ca, pem)?;
        }
        if let (Some(cert_pem), Some(key_pem)) = (&certs.client_cert, &certs.client_key) {
            let chain = chain(cert, cert_pem)?;
            let private = PrivateKeyDer::from_pem_slice(key_pem)
                .map_err(|e| ConfigError::Tls(format!("{key}: not a PEM private key: {e}")))?;
            ensure_crypto_provider();
            let provider = rustls::crypto::CryptoProvider::get_default()
                .cloned()
                .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
            rustls::sign::CertifiedKey::from_der(chain, private, &provider).map_err(|e| {
                ConfigError::Tls(format!(
                    "{key} does not match the certificate in {cert}: {e}"
                ))
            })?;
        }
    }
    #[cfg(not(feature = "tls-rustls"))]
    let _ = (ca, certs);
    Ok(())
}

/// redis builds rustls without a crypto provider; a first TLS connection
/// would panic without one. Installs `ring`'s, unless the application
/// installed its own (that error is the expected outcome then).
///
/// This is process-wide: redis-rs builds its `rustls::ClientConfig` from
/// the process default (`ClientConfig::builder()`), so no per-connection
/// provider can be given to it. An application that installs its own
/// provider must do so before it builds its first TLS pool, or install it
/// with `let _ = provider.install_default();`: an
/// `install_default().expect(..)` after ours panics.
pub(crate) fn ensure_crypto_provider() {
    #[cfg(feature = "tls-rustls")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
    }
}

/// The same certificates as redis-rs wants them.
#[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
pub(crate) fn to_redis(certs: &TlsCertificates) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: match (&certs.client_cert, &certs.client_key) {
            (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
            _ => None,
        },
        root_cert: certs.root_cert.clone(),
    }
}

/// A connect error with what it most likely means added: a TLS handshake
/// that failed says so; a plaintext connection that the server closed at
/// once hints that the server may want TLS.
pub(crate) fn explain(error: RedisError, tls: bool, addr: &impl fmt::Display) -> RedisError {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    let hint = if tls {
        if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
            "the server does not speak TLS on this port (a plaintext server behind rediss://?)"
        } else if lower.contains("timed out") {
            "no TLS handshake answer in time: the server may not speak TLS on this port (a plaintext server behind rediss://?), or the network is slow"
        } else if lower.contains("certificate required") || lower.contains("certificaterequired") {
            "the server wants a client certificate (mutual TLS): give tls_cert and tls_key"
        } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
            "the server's certificate is not signed by a trusted CA (give its CA as tls_ca)"
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            "the server's certificate is not valid for this host name"
        } else if lower.contains("expired") {
            "the server's certificate has expired"
        } else if lower.contains("bad certificate")
            || lower.contains("badcertificate")
            || lower.contains("unknown ca")
            || lower.contains("unknownca")
        {
            "the server refused our client certificate"
        } else {
            return error;
        }
    } else if error.is_connection_dropped()
        && !lower.contains("refused")
        && !lower.contains("timed out")
    {
        "the server closed the connection at once: it may want TLS (rediss://)"
    } else {
        return error;
    };
    RedisError::from((
        error.kind(),
        "could not connect",
        format!("{addr}: {text}: {hint}"),
    ))
}

/// A `RedisError` that carries a config error's text.
pub(crate) fn config_error(e: &ConfigError) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, "TLS", e.to_string()))
}

/// The largest certificate or key file read: a system CA bundle is a few
/// hundred KiB; anything far larger (`/dev/zero`, a log file) is a mistake.
pub const MAX_PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a PEM file named by the URL's `param`, refusing one over
/// [`MAX_PEM_FILE_BYTES`] (checked while reading: a device or a pipe has
/// no size to look at first).
fn read_pem_file(param: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read as _;
    let cannot =
        |e: std::io::Error| ConfigError::Tls(format!("{param} file {path}: cannot be read: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(ConfigError::Tls(format!(
            "{param} file {path}: larger than {MAX_PEM_FILE_BYTES} bytes, not a certificate or key"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_endless_or_huge_file_is_refused_by_name() {
        let e = split_url("rediss://h:1/0?tls_ca=/dev/zero").unwrap_err();
        assert!(
            e.to_string().contains("tls_ca file /dev/zero: larger than"),
            "{e}"
        );
    }

    #[test]
    fn certificate_parameters_are_split_off_the_url() {
        let (url, certs) = split_url("redis://h:1/0?protocol=resp3").unwrap();
        assert_eq!(url, "redis://h:1/0?protocol=resp3");
        assert!(certs.is_none());
        let dir = std::env::temp_dir().join(format!("pool-redis-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("a b.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let encoded = ca.display().to_string().replace(' ', "%20");
        let split = split_url(&format!(
            "rediss://h:1/0?protocol=resp3&tls_ca={encoded}#insecure"
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let (url, _) = split.unwrap();
        assert_eq!(url, "rediss://h:1/0?protocol=resp3#insecure");
        let missing = split_url("rediss://h:1/0?tls_ca=/no/such/ca.pem#insecure").unwrap_err();
        assert!(
            missing.to_string().contains("tls_ca file /no/such/ca.pem"),
            "{missing}"
        );
        let plain = split_url("redis://h:1/0?tls_ca=/x.pem").unwrap_err();
        assert!(plain.to_string().contains("not rediss://"), "{plain}");
    }

    #[test]
    fn a_certificate_needs_its_key() {
        let certs = TlsCertificates {
            client_cert: Some(b"x".to_vec()),
            ..TlsCertificates::default()
        };
        let e = check_bytes(&certs).unwrap_err();
        assert!(e.to_string().contains("without client_key"), "{e}");
    }
}
