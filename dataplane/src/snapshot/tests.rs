//! Unit tests of the snapshot table: lookups, zones, ENTs, children,
//! auto-PTR, policies, DOWN set, subtree answers, and `apply` against fresh builds.

mod apply;
mod build;
mod subtree;
mod support;
