//! The memory claims of the Redis pooling guide, measured: what the pool itself allocates per
//! slot (a counting allocator), and what 100 clients cost when they share
//! one registry pool against 100 pools of their own: resident memory of
//! the process and connections the server sees (`CLIENT LIST`).
//!
//! `cargo run --release -p pool-benches --example memory`
//!
//! Each client scenario runs in a child process of its own (resident memory
//! never shrinks back, so two scenarios in one process would blur).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use pool_core::{Manager, Metrics, Pool, RecycleResult, Store};
use pool_redis::redis::AsyncCommands;

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; the counter is only
// arithmetic on the sizes it is given.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// A zero-sized object, so only the pool's own bytes are counted.
struct Unit;

impl Manager for Unit {
    type Type = ();
    type Error = std::convert::Infallible;
    async fn create(&self) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn recycle(&self, _: &mut (), _: &Metrics) -> RecycleResult<Self::Error> {
        Ok(())
    }
}

/// Bytes per slot of an empty pool and per idle object of a full one.
fn bytes_per_slot(rt: &tokio::runtime::Runtime, store: Store, max_size: usize) -> (f64, f64) {
    rt.block_on(async {
        let before = live();
        let pool: Pool<Unit> = Pool::builder(Unit)
            .max_size(max_size)
            .store(store)
            .build_without_task_for_bench();
        let empty = live() - before;
        let held: Vec<_> = futures(&pool, max_size).await;
        drop(held); // all idle now
        let full = live() - before;
        drop(pool);
        (
            empty as f64 / max_size as f64,
            (full - empty) as f64 / max_size as f64,
        )
    })
}

async fn futures(pool: &Pool<Unit>, n: usize) -> Vec<pool_core::Object<Unit>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(pool.get().await.expect("infallible"));
    }
    out
}

trait BuildForBench {
    fn build_without_task_for_bench(self) -> Pool<Unit>;
}

impl BuildForBench for pool_core::PoolBuilder<Unit> {
    /// No lifetimes or idle timeout: the background task is not started, so
    /// only the pool's own structures are counted.
    fn build_without_task_for_bench(self) -> Pool<Unit> {
        self.idle_timeout(None)
            .max_lifetime(None)
            .build()
            .expect("pool")
    }
}

/// Resident and virtual size of this process, in bytes (`/proc/self/statm`).
fn statm() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let size = fields.next()??;
    let resident = fields.next()??;
    Some((resident * 4096, size * 4096))
}

/// A child process: 100 clients, each doing 20 SETs, all at once, through
/// one registry pool (`shared`) or a pool each; prints the server's client
/// count and the growth of resident and virtual size while the pools are
/// alive.
fn client_scenario(url: &str, shared: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let registry = pool_redis::SharedPoolRegistry::new();
        // The balanced preset's master pool: at most 10 connections.
        let mut config = pool_redis::Config::from_url(url);
        config.pool = Some(pool_redis::PoolConfig::new(10));
        let (rss_before, vms_before) = statm().unwrap_or_default();
        let pools: Vec<pool_redis::Pool> = (0..100)
            .map(|_| {
                if shared {
                    registry.pool(&config, None).expect("registry pool")
                } else {
                    config.create_pool(None).expect("pool")
                }
            })
            .collect();
        let tasks: Vec<_> = pools
            .iter()
            .cloned()
            .enumerate()
            .map(|(c, pool)| {
                tokio::spawn(async move {
                    for i in 0..20 {
                        let mut conn = pool.get().await.expect("connection");
                        let _: () = conn.set(format!("client{c}:{i}"), i).await.expect("SET");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client");
        }
        let mut admin = redis::Client::open(url)
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("admin");
        let clients = redis_harness::other_client_ids(&mut admin).await.len();
        let (rss_after, vms_after) = statm().unwrap_or_default();
        println!(
            "{clients} {} {}",
            rss_after.saturating_sub(rss_before),
            vms_after.saturating_sub(vms_before)
        );
        drop(pools);
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    if let (Some(mode), Some(url)) = (args.next(), args.next()) {
        client_scenario(&url, mode == "shared");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("pool-core's own bytes (counting allocator, zero-sized objects):");
    for store in [Store::LockFree, Store::Mutex] {
        for max_size in [16, 1024] {
            let (slot, object) = bytes_per_slot(&rt, store, max_size);
            println!(
                "  {store:?} max_size {max_size:>5}: {slot:>6.1} bytes per slot (empty pool), {object:>5.1} bytes per idle object"
            );
        }
    }

    let server = redis_harness::RedisServer::start();
    let me = std::env::current_exe().expect("own path");
    println!("\n100 clients, each doing 20 SETs at once, pools of max_size 10:");
    for mode in ["separate", "shared"] {
        let out = std::process::Command::new(&me)
            .args([mode, &server.url()])
            .output()
            .expect("child process");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace();
        let clients = fields.next().unwrap_or("?");
        let mut mib = || {
            fields
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / (1024.0 * 1024.0)
        };
        let (rss, vms) = (mib(), mib());
        println!(
            "  {mode:>8} pools: {clients:>4} server connections, resident +{rss:.1} MiB, virtual +{vms:.1} MiB"
        );
        std::thread::sleep(Duration::from_millis(200)); // the server drops them
    }
}
