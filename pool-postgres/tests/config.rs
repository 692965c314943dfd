//! Bad input gets an error naming the bad thing, and no password is ever
//! printed (no server needed).

use pool_postgres::{Config, ConfigError, Runtime, tokio_postgres::NoTls};

#[test]
fn malformed_url_names_the_field_not_the_password() {
    let cfg = Config {
        url: Some("postgres://app:hunter2-pw@db:notaport/app".into()),
        ..Config::default()
    };
    let err = cfg.get_pg_config().expect_err("bad port");
    assert!(matches!(err, ConfigError::InvalidUrl(_)));
    let text = format!("{err} / {err:?}");
    assert!(text.contains("\"url\""), "{text}");
    assert!(!text.contains("hunter2-pw"), "{text}");
    let err = cfg
        .create_pool(Some(Runtime::Tokio1), NoTls)
        .expect_err("bad url");
    assert!(!format!("{err} {err:?}").contains("hunter2-pw"));
}

#[test]
fn unknown_ssl_mode_is_named() {
    let cfg = Config {
        url: Some("postgres://app@db/app?sslmode=sometimes".into()),
        ..Config::default()
    };
    let err = cfg
        .get_pg_config()
        .expect_err("unknown sslmode")
        .to_string();
    assert!(err.contains("sslmode"), "{err}");
}

#[test]
fn missing_or_empty_dbname_is_named() {
    let cfg = Config {
        host: Some("db".into()),
        ..Config::default()
    };
    assert!(matches!(
        cfg.get_pg_config(),
        Err(ConfigError::DbnameMissing)
    ));
    assert!(ConfigError::DbnameMissing.to_string().contains("dbname"));
    let cfg = Config {
        url: Some("postgres://db/".into()),
        dbname: Some(String::new()),
        ..Config::default()
    };
    assert!(cfg.get_pg_config().is_err());
}

#[test]
fn debug_output_hides_passwords() {
    let cfg = Config {
        url: Some("postgres://app:url-secret-1@db/app?password=query-secret-2".into()),
        password: Some("field-secret-3".into()),
        dbname: Some("app".into()),
        ..Config::default()
    };
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let text = format!(
        "{cfg:?} {:?} {:?}",
        cfg.get_pg_config().unwrap(),
        pool.manager()
    );
    for secret in ["url-secret-1", "query-secret-2", "field-secret-3"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn statement_timeout_joins_the_options() {
    let cfg = Config {
        dbname: Some("app".into()),
        options: Some("-c search_path=app".into()),
        statement_timeout: Some(std::time::Duration::from_secs(300)),
        ..Config::default()
    };
    let pg = cfg.get_pg_config().unwrap();
    assert_eq!(
        pg.get_options(),
        Some("-c search_path=app -c statement_timeout=300000")
    );
}

/// The URL shapes tokio-postgres reads a password from that a simpler
/// mask would miss: a `/` inside the password (credentials run to the first
/// `@`), spaces around `=` in a key-value string, a quoted value with an
/// escaped quote.
#[test]
fn debug_output_hides_passwords_in_every_shape_the_parser_reads() {
    for (url, secret) in [
        ("postgres://app:pa/ss-secret-4@db/app", "pa/ss-secret-4"),
        ("host=db password = kv-secret-5 dbname=app", "kv-secret-5"),
        ("host=db password='it\\'s secret-6' dbname=app", "secret-6"),
        (
            "postgres://app@db/app?pass%77ord=enc-secret-7",
            "enc-secret-7",
        ),
    ] {
        let cfg = Config {
            url: Some(url.into()),
            ..Config::default()
        };
        assert!(cfg.get_pg_config().is_ok(), "{url} parses");
        let text = format!("{cfg:?}");
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
