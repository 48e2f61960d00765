//! Pub-sub privilege levels (HIVE.md 8.4): `public` < `private` < `Max` (missing privilege string).

use crate::HiveError;

/// A requester's or a channel's privilege level.
///
/// A request with level `L` may operate on a target of level `T` iff `L >= T`. [`Privilege::Max`]
/// is what a hook or dispatcher without a `"privilege"` string gets (the original compares a
/// missing string as greater than any number, and the ping example relies on it) and what the
/// REST API uses; it skips the check entirely.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Privilege {
    /// `"public"` (level 0).
    Public,
    /// `"private"` (level 1).
    Private,
    /// No privilege string: passes every check.
    Max,
}

impl Privilege {
    /// Parse a configured privilege string; `None` (missing) is [`Privilege::Max`].
    ///
    /// # Errors
    /// [`HiveError::InvalidConfig`] for any string other than `public` / `private`.
    pub fn parse(v: Option<&str>) -> Result<Privilege, HiveError> {
        match v {
            None => Ok(Privilege::Max),
            Some("public") => Ok(Privilege::Public),
            Some("private") => Ok(Privilege::Private),
            Some(other) => Err(HiveError::InvalidConfig(format!(
                "Unknown Hive Pub-Sub privilege level: {other}"
            ))),
        }
    }

    /// True when a requester at `self` may operate on a target at `target`.
    pub fn allows(self, target: Privilege) -> bool {
        self >= target
    }

    /// The configuration spelling (`"max"` for the missing-string level).
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Public => "public",
            Privilege::Private => "private",
            Privilege::Max => "max",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_order() {
        assert_eq!(Privilege::parse(None), Ok(Privilege::Max));
        assert_eq!(Privilege::parse(Some("public")), Ok(Privilege::Public));
        assert_eq!(Privilege::parse(Some("private")), Ok(Privilege::Private));
        assert_eq!(
            Privilege::parse(Some("admin")).map_err(|e| e.code()),
            Err("invalid_config")
        );
        assert!(Privilege::Public < Privilege::Private && Privilege::Private < Privilege::Max);
        assert!(Privilege::Private.allows(Privilege::Public));
        assert!(!Privilege::Public.allows(Privilege::Private));
        assert!(Privilege::Max.allows(Privilege::Private));
    }
}
