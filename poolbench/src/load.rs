//! One load run: `concurrency` tasks against one pool size, recording every
//! operation's latency and, in exclusive mode, its wait for a connection.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pool_redis::RedisPoolExt;
use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How the load reaches Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A checkout per operation (`pool.get()`).
    Exclusive,
    /// No checkout: the pool's shared multiplexed connections.
    Shared,
}

/// What each operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Get,
    Set,
    /// GET this percentage of the time, else SET.
    Mixed {
        read_percent: u8,
    },
    /// A pipeline of this many GETs.
    Pipeline(usize),
    /// An aggregate over a million-row table (DuckDB only).
    Scan,
}

impl FromStr for Operation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected get, set, mixed[:READ_PERCENT], pipeline:N or scan");
        match s.split_once(':') {
            None if s == "get" => Ok(Operation::Get),
            None if s == "scan" => Ok(Operation::Scan),
            None if s == "set" => Ok(Operation::Set),
            None if s == "mixed" => Ok(Operation::Mixed { read_percent: 80 }),
            Some(("mixed", p)) => match p.parse::<u8>() {
                Ok(read_percent) if read_percent <= 100 => Ok(Operation::Mixed { read_percent }),
                _ => Err(format!("{s:?}: READ_PERCENT must be 0 to 100")),
            },
            Some(("pipeline", n)) => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Operation::Pipeline(n)),
                _ => Err(format!("{s:?}: N must be a positive number")),
            },
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Get => f.write_str("get"),
            Operation::Set => f.write_str("set"),
            Operation::Mixed { read_percent } => write!(f, "mixed:{read_percent}"),
            Operation::Pipeline(n) => write!(f, "pipeline:{n}"),
            Operation::Scan => f.write_str("scan"),
        }
    }
}

/// Keys the load uses (written before it starts, so GETs hit).
const KEYS: usize = 1000;

fn key(i: usize) -> String {
    format!("poolbench:{}", i % KEYS)
}

impl Operation {
    async fn run<C: ConnectionLike + Send>(self, conn: &mut C, i: usize, value: &str) -> bool {
        let read = match self {
            Operation::Get | Operation::Pipeline(_) | Operation::Scan => true,
            Operation::Set => false,
            // A fixed spread, the same for every run: i * 37 visits every
            // residue mod 100.
            Operation::Mixed { read_percent } => (i * 37) % 100 < usize::from(read_percent),
        };
        match self {
            Operation::Pipeline(n) => {
                let mut pipe = redis::pipe();
                for k in 0..n {
                    pipe.cmd("GET").arg(key(i + k));
                }
                pipe.query_async::<Vec<Option<String>>>(conn).await.is_ok()
            }
            _ if read => redis::cmd("GET")
                .arg(key(i))
                .query_async::<Option<String>>(conn)
                .await
                .is_ok(),
            _ => redis::cmd("SET")
                .arg(key(i))
                .arg(value)
                .query_async::<()>(conn)
                .await
                .is_ok(),
        }
    }
}

/// One pool size's load.
#[derive(Clone, Debug)]
pub struct Spec {
    pub url: String,
    pub mode: Mode,
    pub pool_size: usize,
    pub min_idle: usize,
    pub concurrency: usize,
    pub operation: Operation,
    pub value_size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Open loop: start this many operations per second on schedule
    /// (`concurrency` is then the most in flight at once).
    pub rate: Option<f64>,
}

/// What one task saw while measuring.
#[derive(Default)]
struct TaskSamples {
    latency_us: Vec<u32>,
    wait_us: Vec<u32>,
    /// Open loop: how late each operation started after its scheduled
    /// time.
    start_lag_us: Vec<u32>,
    /// Open loop: operations started in the measured window.
    started: u64,
    errors: u64,
}

/// Everything measured for one pool size, before summarising.
#[derive(Debug, Default)]
pub struct Measured {
    pub latency_us: Vec<u32>,
    pub wait_us: Vec<u32>,
    pub errors: u64,
    pub elapsed: Duration,
    pub connections_opened: u64,
    pub stopped_early: bool,
    /// Time to open a connection (a TLS one: handshake included), from the
    /// pool's create-time histogram: p50 and p99, microseconds.
    pub connect_p50_us: u32,
    pub connect_p99_us: u32,
    /// Open loop: the rate asked for, the operations that started in the
    /// measured window, and each one's start lag.
    pub rate: Option<f64>,
    pub started: u64,
    pub start_lag_us: Vec<u32>,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// `total_connections_received` from `INFO stats`.
async fn connections_received(admin: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(admin)
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes the keys the load reads.
pub async fn prepare(
    admin: &mut redis::aio::MultiplexedConnection,
    value_size: usize,
) -> redis::RedisResult<()> {
    let value = "x".repeat(value_size);
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.cmd("SET").arg(key(i)).arg(&value).ignore();
    }
    pipe.query_async::<()>(admin).await
}

/// One task's way to do an operation: `(ok, time waited for a
/// connection)`. Redis and PostgreSQL each have one; `drive` times them.
pub trait TaskOp: Send + 'static {
    fn op(&mut self, i: usize) -> impl std::future::Future<Output = (bool, Duration)> + Send;
}

/// What the load loop needs of a [`Spec`].
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub rate: Option<f64>,
}

impl From<&Spec> for Timing {
    fn from(spec: &Spec) -> Self {
        Timing {
            concurrency: spec.concurrency,
            duration: spec.duration,
            warmup: spec.warmup,
            rate: spec.rate,
        }
    }
}

/// The open loop's schedule: operation `k` is due at `start + k / rate`,
/// whether or not earlier ones finished. Tasks claim the next operation
/// from a shared counter, so at most `concurrency` are in flight; when all
/// are busy, due operations wait for a task and start late.
struct Schedule {
    start: Instant,
    period_ns: f64,
    next: AtomicU64,
}

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos((k as f64 * self.period_ns) as u64)
    }
}

/// How an open-loop operation's latency is counted, as wrk2 does against
/// coordinated omission: from the time it was due, so time spent waiting
/// for a free task (the system too slow for the rate) counts. A task that
/// was free early sleeps until the due time; tokio's timer wakes it up to
/// about 1 ms late, the generator's own lag, so then the latency counts
/// from the wake-up and the lag is reported apart.
fn counted_from(due: Instant, arrived: Instant, started: Instant) -> Instant {
    if arrived >= due { due } else { started }
}

/// Runs `concurrency` tasks, each with its own [`TaskOp`] from `make`,
/// until warm-up plus duration are over or `stop` (Ctrl-C) is set; records
/// latencies and waits of the measured part. `on_progress` is told the time
/// done.
pub async fn drive<T: TaskOp>(
    timing: Timing,
    stop: &Arc<AtomicBool>,
    on_progress: &(dyn Fn(Duration) + Sync),
    make: impl Fn(usize) -> T,
) -> Result<Measured, String> {
    let start = Instant::now();
    let schedule = timing.rate.map(|rate| {
        Arc::new(Schedule {
            start,
            period_ns: 1e9 / rate,
            next: AtomicU64::new(0),
        })
    });
    let measure_from = start + timing.warmup;
    let end = measure_from + timing.duration;
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..timing.concurrency)
        .map(|t| {
            let mut task_op = make(t);
            let stop = stop.clone();
            let concurrency = timing.concurrency;
            let done = done.clone();
            let schedule = schedule.clone();
            tokio::spawn(async move {
                let mut samples = TaskSamples::default();
                if let Some(schedule) = schedule {
                    open_loop(
                        &mut task_op,
                        &schedule,
                        &stop,
                        measure_from,
                        end,
                        &mut samples,
                    )
                    .await;
                    done.fetch_add(1, Ordering::Relaxed);
                    return samples;
                }
                let mut i = t;
                loop {
                    let t0 = Instant::now();
                    if t0 >= end || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let (ok, waited) = task_op.op(i).await;
                    if t0 >= measure_from {
                        if ok {
                            samples.latency_us.push(micros(t0.elapsed()));
                            samples.wait_us.push(micros(waited));
                        } else {
                            samples.errors += 1;
                        }
                    }
                    i = i.wrapping_add(concurrency);
                }
                done.fetch_add(1, Ordering::Relaxed);
                samples
            })
        })
        .collect();
    // Progress, once a tenth of a second, until every task is done.
    while done.load(Ordering::Relaxed) < timing.concurrency as u64 {
        on_progress(start.elapsed().min(timing.warmup + timing.duration));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut measured = Measured {
        stopped_early: stop.load(Ordering::Relaxed),
        elapsed: Instant::now()
            .min(end)
            .saturating_duration_since(measure_from),
        ..Measured::default()
    };
    measured.rate = timing.rate;
    for t in tasks {
        let s = t.await.map_err(|e| format!("a load task failed: {e}"))?;
        measured.latency_us.extend(s.latency_us);
        measured.wait_us.extend(s.wait_us);
        measured.start_lag_us.extend(s.start_lag_us);
        measured.started += s.started;
        measured.errors += s.errors;
    }
    Ok(measured)
}

/// One task of the open loop: claim the next due operation, wait for its
/// time if it is ahead, run it; until the window closes.
async fn open_loop<T: TaskOp>(
    task_op: &mut T,
    schedule: &Schedule,
    stop: &AtomicBool,
    measure_from: Instant,
    end: Instant,
    samples: &mut TaskSamples,
) {
    loop {
        // Relaxed: the counter only hands out numbers; nothing else is
        // published through it.
        let k = schedule.next.fetch_add(1, Ordering::Relaxed);
        let due = schedule.due(k);
        let arrived = Instant::now();
        if due >= end || arrived >= end || stop.load(Ordering::Relaxed) {
            break;
        }
        if arrived < due {
            tokio::time::sleep_until(due).await;
        }
        let started = Instant::now();
        if started >= end {
            // Due in the window but not started in it: not offered, which
            // the achieved rate shows.
            break;
        }
        let from = counted_from(due, arrived, started);
        let (ok, waited) = task_op.op(k as usize).await;
        // Counted by when it started: the achieved rate is what the window
        // really offered, and an operation due during the warm-up but
        // started in the window (a backlog) shows its wait.
        if started >= measure_from {
            samples.started += 1;
            samples
                .start_lag_us
                .push(micros(started.saturating_duration_since(due)));
            if ok {
                samples.latency_us.push(micros(from.elapsed()));
                samples.wait_us.push(micros(waited));
            } else {
                samples.errors += 1;
            }
        }
    }
}

/// The connect-time percentiles of a pool's create-time histogram.
pub fn connect_times(measured: &mut Measured, create: &pool_redis::pool_core::Summary) {
    measured.connect_p50_us = u32::try_from(create.p50_ns / 1_000).unwrap_or(u32::MAX);
    measured.connect_p99_us = u32::try_from(create.p99_ns / 1_000).unwrap_or(u32::MAX);
}

/// A Redis load task: a checkout per operation, or the shared connection.
struct RedisTask {
    pool: pool_redis::Pool,
    shared: Option<pool_redis::SharedConnection>,
    op: Operation,
    value: Arc<str>,
}

impl TaskOp for RedisTask {
    async fn op(&mut self, i: usize) -> (bool, Duration) {
        let t0 = Instant::now();
        match &mut self.shared {
            Some(conn) => (self.op.run(conn, i, &self.value).await, Duration::ZERO),
            None => match self.pool.get().await {
                Ok(mut conn) => {
                    let waited = t0.elapsed();
                    (self.op.run(&mut conn, i, &self.value).await, waited)
                }
                Err(_) => (false, t0.elapsed()),
            },
        }
    }
}

/// Runs the Redis load of `spec`; `stop` (Ctrl-C) ends it early.
pub async fn run(
    spec: &Spec,
    admin: &mut redis::aio::MultiplexedConnection,
    stop: &Arc<AtomicBool>,
    on_progress: &(dyn Fn(Duration) + Sync),
) -> Result<Measured, String> {
    let before = connections_received(admin).await;
    let mut cfg = pool_redis::Config::from_url(spec.url.clone());
    cfg.pool = Some(pool_redis::PoolConfig {
        max_size: spec.pool_size,
        min_idle: spec.min_idle.min(spec.pool_size),
        timeouts: pool_redis::Timeouts::wait_millis(30_000),
        ..pool_redis::PoolConfig::default()
    });
    let pool = cfg
        .create_pool(Some(pool_redis::Runtime::Tokio1))
        .map_err(|e| format!("{}: {e}", crate::report::redact(&spec.url)))?;
    let value: Arc<str> = "x".repeat(spec.value_size).into();
    let mut measured = drive(spec.into(), stop, on_progress, |_| RedisTask {
        pool: pool.clone(),
        shared: (spec.mode == Mode::Shared).then(|| pool.shared()),
        op: spec.operation,
        value: value.clone(),
    })
    .await?;
    connect_times(&mut measured, &pool.metrics().create_time);
    drop(pool);
    measured.connections_opened = connections_received(admin).await.saturating_sub(before);
    Ok(measured)
}
