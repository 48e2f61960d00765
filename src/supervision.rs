//! OTP-style supervision on ractor: static and dynamic supervisors, child specs, the tree.
