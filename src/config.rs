//! Hive's configuration: loading, merging and validating the eight JSON sections (HIVE.md section 2).
//!
//! Pipeline ([`load`]): every file is read as order-preserving JSON, top-level sections given as
//! strings are read from files relative to the file that names them (HIVE.md 2.1), the documents are
//! merged in order with figment (later files override single keys), `HIVE_<SECTION>__<KEY>`
//! environment variables override single keys, and the merged document is validated as a whole:
//! every problem is collected with its dotted path before anything is deserialized into the typed
//! [`Config`]. Unknown keys are warnings, not errors. No network checks happen here.

mod descriptors;
mod env;
mod load;
mod names;
mod ordered;
mod schema;
mod sections;
mod validate;

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::HiveError;

pub use names::{
    ACTIONS, ActionName, CONNECTORS, ConnectorName, HOOKS, HookName, STATE_MANAGERS,
    StateManagerName,
};
pub use ordered::Ordered;
pub use sections::*;

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Non-fatal findings (unknown keys), each prefixed with its dotted path.
    pub warnings: Vec<String>,
    /// The merged JSON document the typed config was built from (key order preserved).
    pub raw: Value,
}

/// One configuration problem at a dotted path (`socketio.heartbeat_timeout`,
/// `clients.hooks.authorize[0].hook`), or at a file path for read/parse failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the offending value (empty for the whole document).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigErrors> for HiveError {
    fn from(e: ConfigErrors) -> Self {
        HiveError::InvalidConfig(e.to_string())
    }
}

/// Load `files` (merged in order), then apply `HIVE_` overrides from the process environment.
///
/// # Errors
/// Every read, parse and validation problem, each with its path.
pub fn load(files: &[PathBuf]) -> Result<Loaded, ConfigErrors> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(files, &env)
}

/// Like [`load`], with the environment given explicitly (for tests).
///
/// # Errors
/// Every read, parse and validation problem, each with its path.
pub fn load_with_env(files: &[PathBuf], env: &[(String, String)]) -> Result<Loaded, ConfigErrors> {
    let merged = load::merge_files(files)?;
    let overrides = env::overrides(&merged, env).map_err(ConfigErrors)?;
    let doc = match overrides {
        Some(o) => load::merge_documents(&[merged, o])?,
        None => merged,
    };
    from_value(doc)
}

/// Validate an in-memory document and build the typed config.
///
/// # Errors
/// Every validation problem, each with its dotted path.
pub fn from_value(v: Value) -> Result<Loaded, ConfigErrors> {
    let (errors, warnings) = validate::check(&v);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    match serde_json::from_value::<Config>(v.clone()) {
        Ok(config) => Ok(Loaded {
            config,
            warnings,
            raw: v,
        }),
        // Validation should have caught everything; this is the safety net.
        Err(e) => Err(ConfigErrors(vec![ConfigError::new("", e.to_string())])),
    }
}
