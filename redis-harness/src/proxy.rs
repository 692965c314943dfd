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
    accept: tokio::task::JoinHandle<()>,
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
        let accept = tokio::spawn(accept_loop(listener, upstream, open.clone()));
        Self { port, open, accept }
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

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, open: Arc<watch::Sender<bool>>) {
    let mut gate = open.subscribe();
    loop {
        if !until_open(&mut gate).await {
            return;
        }
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let gate = open.subscribe();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return; // the client sees its connection close
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pipe(client_read, server_write, gate.clone()));
            tokio::spawn(pipe(server_read, client_write, gate));
        });
    }
}

/// Copies one direction, reading only while the network is open.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
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
        // Bytes read just before a cut are held here until it heals.
        if !until_open(&mut gate).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
