//! `SharedPoolRegistry`: one process-wide table of pools, so many
//! clients asking for the same server share one pool (and so far fewer
//! server connections), with stats and an idle cleanup.
//!
//! Invariants: pools are keyed by address, database, user name, a hash of
//! the password, role and pool settings, so clients logged in as different
//! users never share connections; the password itself is never stored in
//! a key, a name, stats or a log. The registry holds only weak handles: a
//! pool whose last client handle is gone leaves the table at the next
//! cleanup. Cleanup never touches a checked-out connection.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::env::Role;
use crate::ext::RedisPoolExt;
use crate::pool::{CreatePoolError, Pool, WeakPool};

/// Identity of a shared pool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    addr: String,
    db: i64,
    username: Option<String>,
    /// Never the password: only whether two clients use the same one
    /// (keyed with this registry's random key, so the hash of a weak
    /// password cannot be looked up in a table).
    password_hash: u64,
    /// `None` for plaintext; a keyed hash of the TLS settings otherwise.
    tls: Option<u64>,
    role: Option<Role>,
    /// The pool settings that shape it.
    max_size: usize,
    min_idle: usize,
}

struct Entry {
    /// `role:addr/db[ user]`: what stats and logs show.
    name: String,
    pool: WeakPool,
}

/// Stats of one pool (`get_pool_stats`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PoolStats {
    /// How long since a connection of this pool was last used (zero while
    /// one is checked out).
    pub idle_time: Duration,
    /// `exclusive`: connections are checked out one caller at a time.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: &'static str,
    /// Connections that exist.
    pub size: usize,
    /// Checked out now.
    pub in_use: usize,
    /// Idle.
    pub available: usize,
    /// `max_size`.
    pub max_size: usize,
    /// Callers waiting.
    pub waiting: usize,
    /// The create breaker: closed, open (creates refused while the server
    /// keeps failing) or half-open (one probe allowed).
    pub breaker: pool_core::BreakerPhase,
    /// Times the breaker opened since the pool was built.
    pub breaker_opens: u64,
    /// The pool's shared-mode connections (`pool.shared()`).
    pub shared: crate::SharedStats,
    /// Reads retried after their connection broke, and how that went.
    pub retry: crate::RetryStats,
    /// Everything the pool recorded (`Pool::metrics`).
    pub metrics: pool_core::MetricsSnapshot,
}

/// Stats of every registered pool.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RegistryStats {
    /// Pools alive in the registry.
    pub total_pools: usize,
    /// Per pool, by name.
    pub pools: HashMap<String, PoolStats>,
    /// This process's memory, as the registry's stats report it (Linux
    /// `/proc/self/status`; `None` elsewhere).
    pub process: Option<ProcessMemory>,
}

/// Resident and virtual size of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ProcessMemory {
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Virtual memory size, bytes.
    pub vms_bytes: u64,
}

impl ProcessMemory {
    /// Now, from `/proc/self/status` (`VmRSS`, `VmSize`); `None` where that
    /// file does not exist or cannot be read.
    #[must_use]
    pub fn now() -> Option<Self> {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        let kib = |key: &str| -> Option<u64> {
            let line = text.lines().find(|l| l.starts_with(key))?;
            line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        Some(Self {
            rss_bytes: kib("VmRSS:")? * 1024,
            vms_bytes: kib("VmSize:")? * 1024,
        })
    }
}

/// The process-wide registry (see the module docs).
pub struct SharedPoolRegistry {
    pools: Mutex<HashMap<PoolKey, Entry>>,
    /// Keys the password hashes.
    password_key: RandomState,
    cleanup: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for SharedPoolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPoolRegistry").finish_non_exhaustive()
    }
}

/// Close connections unused this long (5 minutes).
pub const DEFAULT_IDLE_PERIOD: Duration = Duration::from_secs(300);
/// Run the cleanup this often (1 minute).
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

impl SharedPoolRegistry {
    /// An empty registry (tests; most code wants [`SharedPoolRegistry::global`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            pools: Mutex::new(HashMap::new()),
            password_key: RandomState::new(),
            cleanup: Mutex::new(None),
        }
    }

    /// The process-wide registry.
    pub fn global() -> &'static SharedPoolRegistry {
        static GLOBAL: OnceLock<SharedPoolRegistry> = OnceLock::new();
        GLOBAL.get_or_init(SharedPoolRegistry::new)
    }

    /// The shared pool for `config` (and `role`), created on first use.
    ///
    /// # Errors
    /// As [`Config::create_pool`].
    pub fn pool(&self, config: &Config, role: Option<Role>) -> Result<Pool, CreatePoolError> {
        let (info, certs) = config.target().map_err(CreatePoolError::Config)?;
        let settings = info.redis_settings();
        let pool_config = config.get_pool_config();
        let key = PoolKey {
            addr: info.addr().to_string(),
            db: settings.db(),
            username: settings.username().map(str::to_owned),
            password_hash: settings
                .password()
                .map_or(0, |p| self.password_key.hash_one(p)),
            // TLS or not, which CA, which client certificate (the identity
            // in mutual TLS): different pools.
            tls: match info.addr() {
                redis::ConnectionAddr::TcpTls { insecure, .. } => {
                    Some(self.password_key.hash_one((insecure, &certs)))
                }
                _ => None,
            },
            role,
            max_size: pool_config.max_size,
            min_idle: pool_config.min_idle,
        };
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&key).and_then(|e| e.pool.upgrade()) {
            return Ok(pool);
        }
        let pool = config.create_pool(None)?;
        // Entries of pools every handle has dropped go now, not only at a
        // cleanup: with rotating passwords or per-tenant URLs and no cleanup
        // task, the map would otherwise grow without bound.
        pools.retain(|_, e| e.pool.upgrade().is_some());
        let mut name = format!(
            "{}:{}{}/{}{}",
            role.map_or("default".to_string(), |r| format!("{r:?}").to_lowercase()),
            if key.tls.is_some() { "rediss://" } else { "" },
            key.addr,
            key.db,
            key.username
                .as_deref()
                .map(|u| format!(" user {u}"))
                .unwrap_or_default()
        );
        // Pools that differ only in what the name does not show (password,
        // certificates, sizes) get a number, so stats keep them apart.
        let base = name.clone();
        let mut n = 1;
        while pools
            .values()
            .any(|e| e.name == name && e.pool.upgrade().is_some())
        {
            n += 1;
            name = format!("{base} #{n}");
        }
        tracing::debug!(pool = %name, "shared pool created");
        pools.insert(
            key,
            Entry {
                name,
                pool: pool.weak(),
            },
        );
        Ok(pool)
    }

    /// Entries held: live pools, and pools dropped since the last prune
    /// (at the next pool created or the next cleanup).
    #[must_use]
    pub fn entries(&self) -> usize {
        self.pools.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// `{ total_pools, pools: { name: { idle_time, type, size, in_use, ... } } }`.
    #[must_use]
    pub fn get_pool_stats(&self) -> RegistryStats {
        let now = Instant::now();
        let pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = HashMap::new();
        for entry in pools.values() {
            let Some(pool) = entry.pool.upgrade() else {
                continue;
            };
            let st = pool.status();
            let breaker = pool.breaker();
            let in_use = st.size.saturating_sub(st.available);
            let idle_time = if in_use > 0 {
                Duration::ZERO
            } else {
                idle_for(&pool, now)
            };
            out.insert(
                entry.name.clone(),
                PoolStats {
                    idle_time,
                    kind: "exclusive",
                    size: st.size,
                    in_use,
                    available: st.available,
                    max_size: st.max_size,
                    waiting: st.waiting,
                    breaker: breaker.state.into(),
                    breaker_opens: breaker.opens,
                    shared: pool.shared_stats(),
                    retry: pool.retry_stats(),
                    metrics: pool.metrics(),
                },
            );
        }
        RegistryStats {
            total_pools: out.len(),
            pools: out,
            process: ProcessMemory::now(),
        }
    }

    /// One cleanup pass at `now`: closes idle connections unused for
    /// `idle_period`, and forgets pools with no live handle. Returns how
    /// many connections it closed.
    pub fn cleanup_once(&self, now: Instant, idle_period: Duration) -> usize {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools.retain(|_, e| e.pool.upgrade().is_some());
        let live: Vec<Pool> = pools.values().filter_map(|e| e.pool.upgrade()).collect();
        drop(pools);
        let mut closed = 0;
        for pool in live {
            // `retain` only ever sees idle connections: checked-out ones
            // are not in the idle store.
            let result = pool
                .retain(|_, m| now.saturating_duration_since(m.last_seen_healthy()) < idle_period);
            closed += result.removed.len();
        }
        closed
    }

    /// Starts the periodic cleanup (replacing a running one).
    pub fn start_cleanup_task(&'static self, interval: Duration, idle_period: Duration) {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let closed = self.cleanup_once(Instant::now(), idle_period);
                if closed > 0 {
                    tracing::debug!(closed, "registry cleanup closed idle connections");
                }
            }
        });
        if let Some(old) = self
            .cleanup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Stops the periodic cleanup.
    pub fn stop_cleanup_task(&self) {
        if let Some(task) = self
            .cleanup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Default for SharedPoolRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// Time since the pool's most recently used idle connection was used.
fn idle_for(pool: &Pool, now: Instant) -> Duration {
    let mut latest: Option<Instant> = None;
    // A read-only pass: every idle connection is kept.
    let _ = pool.retain(|_, m| {
        let seen = m.last_seen_healthy();
        latest = Some(latest.map_or(seen, |l: Instant| l.max(seen)));
        true
    });
    latest.map_or(Duration::ZERO, |l| now.saturating_duration_since(l))
}
