//! `FloodError`: what can go wrong in the load tester, split by who is to blame.

/// A flood error. Scenario errors exit with status 2; network errors are counted per user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FloodError {
    /// The scenario file is unreadable or invalid (path to the offending part first).
    #[error("scenario error: {0}")]
    Scenario(String),
    /// Reading or writing a local file failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// A network or protocol failure talking to the server under test; `kind` is the error
    /// category reported in the result file (`connect`, `handshake_status`, `ws_upgrade`, ...).
    #[error("{kind}: {detail}")]
    Net {
        /// Error category.
        kind: &'static str,
        /// Human description.
        detail: String,
    },
}

impl FloodError {
    /// A scenario error at a JSON path.
    pub fn scenario(path: &str, why: impl std::fmt::Display) -> Self {
        Self::Scenario(format!("{path}: {why}"))
    }

    /// A network error of a category.
    pub fn net(kind: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Net {
            kind,
            detail: detail.to_string(),
        }
    }

    /// The error category used for the `errors` map of the result.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Scenario(_) => "scenario",
            Self::Io(_) => "io",
            Self::Net { kind, .. } => kind,
        }
    }
}
