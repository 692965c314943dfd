//! A state-machine property test: random sequences of pool operations,
//! checked after every step against a plain model of what the pool must
//! hold. Single-threaded and without the background task, so the model is
//! exact; concurrency is the loom models' job.

mod common;

use common::{Mock, MockPool};
use pool_core::{Object, Pool, Store};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// `try_get`: an idle object, else a new one if below max, else refused.
    TryGet,
    /// Return the i-th held object (modulo the number held).
    Return(usize),
    /// Return it broken.
    ReturnBroken(usize),
    /// `Object::take` it.
    Take(usize),
    Resize(usize),
    /// Remove idle objects with an odd id.
    RetainEven,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::TryGet),
        3 => any::<usize>().prop_map(Op::Return),
        1 => any::<usize>().prop_map(Op::ReturnBroken),
        1 => any::<usize>().prop_map(Op::Take),
        1 => (0usize..6).prop_map(Op::Resize),
        1 => Just(Op::RetainEven),
    ]
}

/// What the pool must hold.
#[derive(Debug, Default)]
struct Model {
    max_size: usize,
    /// Ids of idle objects.
    idle: Vec<usize>,
    /// Number of objects that exist (idle or held).
    size: usize,
}

fn run(ops: Vec<Op>, store: Store) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool: MockPool = Pool::builder(Mock::new())
            .max_size(3)
            .store(store)
            .idle_timeout(None)
            .max_lifetime(None)
            .build()
            .unwrap();
        let mut model = Model {
            max_size: 3,
            ..Model::default()
        };
        let mut held: Vec<Object<Mock>> = Vec::new();
        for op in ops {
            match op {
                Op::TryGet => match pool.try_get().await {
                    Ok(obj) => {
                        if let Some(pos) = model.idle.iter().position(|id| *id == obj.id) {
                            model.idle.remove(pos);
                        } else {
                            prop_assert!(
                                model.idle.is_empty(),
                                "created while idle objects existed"
                            );
                            prop_assert!(model.size < model.max_size, "created above max_size");
                            model.size += 1;
                        }
                        held.push(obj);
                    }
                    Err(e) => {
                        prop_assert!(
                            model.idle.is_empty() && model.size >= model.max_size,
                            "refused wrongly: {e:?}"
                        );
                    }
                },
                Op::Return(i) | Op::ReturnBroken(i) | Op::Take(i) if !held.is_empty() => {
                    let mut obj = held.remove(i % held.len());
                    let id = obj.id;
                    match op {
                        Op::Return(_) if model.size <= model.max_size => {
                            drop(obj);
                            model.idle.push(id);
                        }
                        Op::Return(_) => {
                            drop(obj); // above max_size after a shrink: closed
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
                    pool.resize(n);
                    model.max_size = n;
                    // Idle objects above the new size are closed at once.
                    while model.size > n && !model.idle.is_empty() {
                        model.idle.remove(0);
                        model.size -= 1;
                    }
                }
                Op::RetainEven => {
                    let result = pool.retain(|conn, _| conn.id % 2 == 0);
                    let before = model.idle.len();
                    model.idle.retain(|id| id % 2 == 0);
                    prop_assert_eq!(result.removed.len(), before - model.idle.len());
                    model.size -= result.removed.len();
                }
            }
            let st = pool.status();
            prop_assert_eq!(st.size, model.size, "size; model {:?}", model);
            prop_assert_eq!(
                st.available,
                model.idle.len(),
                "available; model {:?}",
                model
            );
            prop_assert_eq!(st.waiting, 0);
            prop_assert_eq!(st.max_size, model.max_size);
            prop_assert_eq!(pool.manager().live(), model.size, "live objects");
        }
        drop(held);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lock_free_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, Store::LockFree)?;
    }

    #[test]
    fn mutex_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, Store::Mutex)?;
    }
}
