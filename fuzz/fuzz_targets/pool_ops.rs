//! Arbitrary operation sequences (one per byte) on a current-thread
//! runtime, checked against the same sequential model as pool-core's
//! proptest state machine (`pool-core/tests/common/model.rs`, included by
//! path so there is one model). The first byte's low bit picks the store.
#![no_main]

#[path = "../../pool-core/tests/common/mod.rs"]
mod common;

use common::model::{Op, run};
use libfuzzer_sys::fuzz_target;
use pool_core::Store;

fuzz_target!(|data: &[u8]| {
    let store = match data.first() {
        Some(b) if b & 1 == 1 => Store::Mutex,
        _ => Store::LockFree,
    };
    if let Err(e) = run(&Op::from_bytes(data), store) {
        panic!("the pool disagrees with the model: {e}");
    }
});
