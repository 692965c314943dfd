//! A sequential model of the pool, and a runner that applies operations to
//! a real pool and to the model and compares them after every step. Used by
//! the proptest state machine (`tests/model.rs`) and by the fuzz target
//! `pool_ops` (which includes this file by path), so both check the same
//! thing. Single-threaded, no background task: the model is exact.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pool_core::{Object, Pool, PoolError, Store};

use super::Mock;

/// One step.
#[derive(Clone, Debug)]
pub enum Op {
    /// `try_get`: an idle object, else a new one if below max, else refused.
    TryGet,
    /// `try_get` while the backend refuses to create.
    TryGetFailingCreate,
    /// A `get()` polled once and dropped: cancelled while creating (creates
    /// take time here) or while queued; it must leave no trace.
    GetDroppedMidway,
    /// Return the i-th held object (modulo the number held).
    Return(usize),
    /// Return it broken.
    ReturnBroken(usize),
    /// `Object::take` it.
    Take(usize),
    Resize(usize),
    /// Remove idle objects with an odd id.
    RetainEven,
    Close,
}

impl Op {
    /// Decodes fuzzer bytes: one operation per byte.
    pub fn from_bytes(bytes: &[u8]) -> Vec<Op> {
        bytes
            .iter()
            .map(|&b| {
                let arg = usize::from(b >> 4);
                match b % 16 {
                    0..=3 => Op::TryGet,
                    4 => Op::TryGetFailingCreate,
                    5 => Op::GetDroppedMidway,
                    6..=8 => Op::Return(arg),
                    9 => Op::ReturnBroken(arg),
                    10 => Op::Take(arg),
                    11 => Op::Resize(arg % 6),
                    12 => Op::RetainEven,
                    13 if b == 13 => Op::Close, // rare: it ends the story
                    _ => Op::TryGet,
                }
            })
            .collect()
    }
}

/// What the pool must hold.
#[derive(Debug, Default)]
struct Model {
    max_size: usize,
    /// Ids of idle objects.
    idle: Vec<usize>,
    /// Objects that exist (idle or held).
    size: usize,
    closed: bool,
}

/// Runs `ops` on a fresh pool of 3 with `store`; `Err` describes the first
/// disagreement with the model.
pub fn run(ops: &[Op], store: Store) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let mock = Mock {
        create_delay: Duration::from_millis(1),
        ..Mock::new()
    };
    let counters = mock.counters.clone();
    rt.block_on(async {
        let pool: Pool<Mock> = Pool::builder(mock)
            .max_size(3)
            .store(store)
            .idle_timeout(None)
            .max_lifetime(None)
            // The model counts slots, not the breaker's timing (it has its
            // own tests): off, so failing creates never refuse a later get.
            .breaker(pool_core::BreakerConfig {
                threshold: 0,
                ..pool_core::BreakerConfig::default()
            })
            .build()
            .map_err(|e| e.to_string())?;
        let mut model = Model {
            max_size: 3,
            ..Model::default()
        };
        let mut held: Vec<Object<Mock>> = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            apply(&pool, &mut model, &mut held, op)
                .await
                .map_err(|e| format!("step {step} {op:?}: {e}; model {model:?}"))?;
            check(&pool, &model, &held)
                .map_err(|e| format!("after step {step} {op:?}: {e}; model {model:?}"))?;
        }
        drop(held);
        drop(pool);
        Ok::<(), String>(())
    })?;
    // Every object created was dropped, exactly once (a double drop would
    // take `live` below zero, which the counter would show as a wrap).
    let live = counters.live.load(std::sync::atomic::Ordering::SeqCst);
    if live != 0 {
        return Err(format!("{live} objects outlived the pool"));
    }
    Ok(())
}

async fn apply(
    pool: &Pool<Mock>,
    model: &mut Model,
    held: &mut Vec<Object<Mock>>,
    op: &Op,
) -> Result<(), String> {
    match op {
        Op::TryGet => match pool.try_get().await {
            Ok(obj) => {
                if model.closed {
                    return Err("served after close".into());
                }
                if let Some(pos) = model.idle.iter().position(|id| *id == obj.id) {
                    model.idle.remove(pos);
                } else {
                    if !model.idle.is_empty() {
                        return Err("created while idle objects existed".into());
                    }
                    if model.size >= model.max_size {
                        return Err("created above max_size".into());
                    }
                    model.size += 1;
                }
                held.push(obj);
            }
            Err(PoolError::Closed) if model.closed => {}
            Err(e) if !model.closed && model.idle.is_empty() && model.size >= model.max_size => {
                let _ = e;
            }
            Err(e) => return Err(format!("refused wrongly: {e:?}")),
        },
        Op::TryGetFailingCreate => {
            pool.manager()
                .fail_create
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let result = pool.try_get().await;
            pool.manager()
                .fail_create
                .store(false, std::sync::atomic::Ordering::SeqCst);
            match result {
                // An idle object needs no create.
                Ok(obj) => match model.idle.iter().position(|id| *id == obj.id) {
                    Some(pos) => {
                        model.idle.remove(pos);
                        held.push(obj);
                    }
                    None => return Err("served by a failing create".into()),
                },
                Err(_) if model.idle.is_empty() => {}
                Err(e) => return Err(format!("failed with idle objects: {e:?}")),
            }
        }
        Op::GetDroppedMidway => {
            let mut get = pin!(pool.get());
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(result) = get.as_mut().poll(&mut cx) {
                // Served at once: only possible from an idle object, or
                // refused because closed.
                match result {
                    Ok(obj) => match model.idle.iter().position(|id| *id == obj.id) {
                        Some(pos) => {
                            model.idle.remove(pos);
                            held.push(obj);
                        }
                        None => return Err("a create finished without waiting".into()),
                    },
                    Err(PoolError::Closed) if model.closed => {}
                    Err(e) => return Err(format!("failed at once: {e:?}")),
                }
            }
            // Else dropped here, pending: creating or queued.
        }
        Op::Return(i) | Op::ReturnBroken(i) | Op::Take(i) if !held.is_empty() => {
            let mut obj = held.remove(i % held.len());
            let id = obj.id;
            match op {
                Op::Return(_) if !model.closed && model.size <= model.max_size => {
                    drop(obj);
                    model.idle.push(id);
                }
                Op::Return(_) => {
                    drop(obj); // closed, or above max_size after a shrink
                    model.size -= 1;
                }
                Op::ReturnBroken(_) => {
                    obj.broken = true;
                    drop(obj);
                    model.size -= 1;
                }
                _ => {
                    let _ = Object::take(obj);
                    model.size -= 1;
                }
            }
        }
        Op::Return(_) | Op::ReturnBroken(_) | Op::Take(_) => {}
        Op::Resize(n) => {
            pool.resize(*n);
            if !model.closed {
                model.max_size = *n;
                // Idle objects above the new size are closed at once. Which
                // ones is the store's business (the lock-free store is FIFO
                // only within each of its segments), so the model learns
                // them from the drops and checks how many.
                let shed = (model.size.saturating_sub(*n)).min(model.idle.len());
                let live = pool.manager().counters.live_ids.lock().unwrap().clone();
                let before = model.idle.len();
                model.idle.retain(|id| live.contains(id));
                if before - model.idle.len() != shed {
                    return Err(format!(
                        "shrinking shed {} idle objects, not {shed}",
                        before - model.idle.len()
                    ));
                }
                model.size -= shed;
            }
        }
        Op::RetainEven => {
            let result = pool.retain(|conn, _| conn.id % 2 == 0);
            let before = model.idle.len();
            model.idle.retain(|id| id % 2 == 0);
            if result.removed.len() != before - model.idle.len() {
                let removed: Vec<usize> = result.removed.iter().map(|c| c.id).collect();
                let held: Vec<usize> = held.iter().map(|o| o.id).collect();
                return Err(format!("retain removed {removed:?} (held {held:?})"));
            }
            model.size -= result.removed.len();
        }
        Op::Close => {
            pool.close();
            model.closed = true;
            model.max_size = 0;
            model.size -= model.idle.len();
            model.idle.clear();
        }
    }
    Ok(())
}

fn check(pool: &Pool<Mock>, model: &Model, held: &[Object<Mock>]) -> Result<(), String> {
    // The idle objects are the live ones nobody holds.
    let mut idle: Vec<usize> = pool
        .manager()
        .counters
        .live_ids
        .lock()
        .unwrap()
        .iter()
        .copied()
        .collect();
    idle.retain(|id| !held.iter().any(|o| o.id == *id));
    let mut expected = model.idle.clone();
    expected.sort_unstable();
    if idle != expected {
        return Err(format!("idle ids are {idle:?}"));
    }
    let st = pool.status();
    let want = (model.size, model.idle.len(), 0, model.max_size);
    let got = (st.size, st.available, st.waiting, st.max_size);
    if got != want {
        return Err(format!(
            "(size, available, waiting, max_size) is {got:?}, model says {want:?}"
        ));
    }
    if pool.manager().live() != model.size {
        return Err(format!("{} live objects", pool.manager().live()));
    }
    if pool.is_closed() != model.closed {
        return Err("closed flag".into());
    }
    Ok(())
}
