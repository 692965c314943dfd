//! A real `redis-server` per test (see the `redis-harness` crate).
#![allow(unused_imports)] // each test file uses a different subset

pub use redis_harness::{PartitionProxy, RedisServer, calls, other_client_ids};
