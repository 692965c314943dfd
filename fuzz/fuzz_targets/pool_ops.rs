//! Arbitrary sequences of pool operations on a current-thread runtime,
//! checking the pool's bookkeeping after every step. (The verification
//! issue grows this into a model check; this target proves the wiring.)
#![no_main]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use pool_core::{Manager, Metrics, Object, Pool, RecycleResult};

struct Counting(Arc<AtomicUsize>);

struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Manager for Counting {
    type Type = Tracked;
    type Error = Infallible;

    async fn create(&self) -> Result<Tracked, Infallible> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Tracked(self.0.clone()))
    }

    async fn recycle(&self, _: &mut Tracked, _: &Metrics) -> RecycleResult<Infallible> {
        Ok(())
    }
}

fuzz_target!(|ops: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async {
        let live = Arc::new(AtomicUsize::new(0));
        let pool: Pool<Counting> = Pool::builder(Counting(live.clone())).max_size(4).build().unwrap();
        let mut held: VecDeque<Object<Counting>> = VecDeque::new();
        let mut bound = 4;
        for op in ops {
            match op % 6 {
                0 => {
                    if let Ok(obj) = pool.try_get().await {
                        held.push_back(obj);
                    }
                }
                1 => drop(held.pop_front()),
                2 => drop(held.pop_back().map(Object::take)),
                3 => {
                    let size = (op / 6) as usize % 8;
                    bound = bound.max(size);
                    pool.resize(size);
                }
                4 => drop(pool.retain(|_, _| op & 0x80 == 0)),
                _ => {}
            }
            let st = pool.status();
            assert!(st.available <= st.size, "{st:?}");
            assert!(live.load(Ordering::SeqCst) <= bound, "{st:?}");
        }
        drop(held);
        let st = pool.status();
        assert_eq!(st.size, st.available, "{st:?}");
        assert_eq!(st.waiting, 0);
    });
});
