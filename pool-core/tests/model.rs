//! A state-machine property test: random sequences of pool operations
//! (get, return, broken return, take, a get dropped midway, resize, retain,
//! close, failing creates), checked after every step against a plain model
//! of what the pool must hold (`common/model.rs`, shared with the fuzz
//! target `pool_ops`), with each store. At the end every created object
//! must have been dropped.

mod common;

use common::model::{Op, run};
use pool_core::Store;
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        32 => Just(Op::TryGet),
        8 => Just(Op::TryGetFailingCreate),
        8 => Just(Op::GetDroppedMidway),
        24 => any::<usize>().prop_map(Op::Return),
        8 => any::<usize>().prop_map(Op::ReturnBroken),
        8 => any::<usize>().prop_map(Op::Take),
        8 => (0usize..6).prop_map(Op::Resize),
        8 => Just(Op::RetainEven),
        // Rare, so most sequences go on long enough before it.
        1 => Just(Op::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lock_free_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, Store::LockFree).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutex_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, Store::Mutex).map_err(TestCaseError::fail)?;
    }
}
