//! Unit tests of the snapshot table: lookups, zones, ENTs, children,
//! auto-PTR, policies, DOWN set, subtree answers, groups, and `apply` against fresh builds.

mod apply;
mod build;
mod group;
mod subtree;
mod support;
