//! Unit tests of the snapshot table: lookups, zones, ENTs, children,
//! auto-PTR, policies, DOWN set, and `apply` against fresh builds.

mod apply;
mod build;
mod support;
