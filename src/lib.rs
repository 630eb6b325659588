//! skylane
