//! Hive's configuration: the eight JSON sections, typed (see HIVE.md section 2).

mod ordered;
mod sections;

pub use ordered::Ordered;
pub use sections::*;
