//! The `api_*` tests' harness: the in-process API server of the testkit.
#![allow(unused_imports)]

pub use skylane_testkit::api::*;
