//! The REST API's body parsers and the error and name helpers they use, compiled from
//! skylane-controlplane's `api/` sources as `skylane_controlplane::api::{body, error,
//! fields, names}`.

#[path = "../../controlplane/src/api/body.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod body;
#[path = "../../controlplane/src/api/error.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod error;
#[path = "../../controlplane/src/api/fields.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod fields;
#[path = "../../controlplane/src/api/names.rs"]
#[rustfmt::skip] // formatted in skylane-controlplane
pub mod names;
