//! OTP-style supervision on ractor: static and dynamic supervisors, child specs, the tree.

pub mod report;
pub use report::{ChildReport, IntensityReport, SupervisorReport};
