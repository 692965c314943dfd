//! A TCP proxy in the test's own process that can cut the network the way
//! a half-open partition does: both sockets stay open, nothing arrives.
//!
//! While cut, the proxy stops reading from every connection and stops
//! accepting (the kernel still completes new handshakes into the listen
//! backlog, so a client's connect succeeds and its first request goes
//! unanswered). Bytes already sent wait in the kernel's buffers, as they
//! would in TCP retransmission; when the partition heals they are
//! delivered, and new connections are forwarded again.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy from a free loopback port to `upstream`. Dropping it stops it
/// (its tasks end with the runtime or at their next read).
#[derive(Debug)]
pub struct PartitionProxy {
    port: u16,
    open: Arc<watch::Sender<bool>>,
    swallow: Arc<Swallow>,
    accept: tokio::task::JoinHandle<()>,
}

/// A reply to swallow: the next reply from the server is dropped and the
/// connection it came on closed, as when a connection dies after the
/// server executed a command but before its reply arrived.
#[derive(Debug, Default)]
struct Swallow {
    armed: std::sync::atomic::AtomicBool,
    replies: std::sync::atomic::AtomicU64,
    integer_replies: std::sync::atomic::AtomicU64,
}

impl PartitionProxy {
    /// Starts forwarding to `upstream` (an address such as
    /// `127.0.0.1:6379`). Must be called within a tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port for the proxy");
        let port = listener.local_addr().expect("the proxy's port").port();
        let open = Arc::new(watch::Sender::new(true));
        let swallow = Arc::new(Swallow::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            open.clone(),
            swallow.clone(),
        ));
        Self {
            port,
            open,
            swallow,
            accept,
        }
    }

    /// The proxy's loopback port (for a client of any protocol).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops forwarding (both directions, every connection, new ones too).
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.open.send_replace(true);
    }

    /// The next reply any connection receives from the server is dropped,
    /// and that connection closed (the server did execute the command).
    pub fn swallow_next_reply(&self) {
        self.swallow
            .armed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Reads swallowed so far, and the integer replies (`:n`, as `INCR`
    /// answers) they held.
    pub fn swallowed(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        (
            self.swallow.replies.load(SeqCst),
            self.swallow.integer_replies.load(SeqCst),
        )
    }
}

impl Drop for PartitionProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Waits while the network is cut.
async fn until_open(open: &mut watch::Receiver<bool>) -> bool {
    open.wait_for(|open| *open).await.is_ok()
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    open: Arc<watch::Sender<bool>>,
    swallow: Arc<Swallow>,
) {
    let mut gate = open.subscribe();
    loop {
        if !until_open(&mut gate).await {
            return;
        }
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let gate = open.subscribe();
        let swallow = swallow.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return; // the client sees its connection close
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pipe(client_read, server_write, gate.clone(), None));
            tokio::spawn(pipe(server_read, client_write, gate, Some(swallow)));
        });
    }
}

/// Copies one direction, reading only while the network is open; the
/// server-to-client direction may swallow a reply and close.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
    swallow: Option<Arc<Swallow>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !until_open(&mut gate).await {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Cut while waiting to read: stop reading.
            _ = gate.wait_for(|open| !*open) => continue,
        };
        if let Some(s) = &swallow {
            use std::sync::atomic::Ordering::SeqCst;
            if s.armed.swap(false, SeqCst) {
                s.replies.fetch_add(1, SeqCst);
                let integers = buf[..n]
                    .split(|&b| b == b'\n')
                    .filter(|line| line.first() == Some(&b':'))
                    .count();
                s.integer_replies.fetch_add(integers as u64, SeqCst);
                return; // dropping `to` closes the client's side
            }
        }
        // Bytes read just before a cut are held here until it heals.
        if !until_open(&mut gate).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
