//! The store's one error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Connecting or migrating failed at start-up.
    #[error("{0}")]
    Setup(String),
    /// The database did not answer or refused the statement (usually worth a retry).
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The job no longer belongs to this worker (rescued, or finished elsewhere): record
    /// nothing more.
    #[error("lease lost: the job was rescued or finished elsewhere")]
    LeaseLost,
    /// A stored value cannot be read back (an unknown state or action, broken JSON). Never
    /// defaulted: the caller reports it.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl StoreError {
    pub(super) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

/// Parses a stored name into its enum, or says which column held what.
pub(super) fn parse<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::corrupt(what, e))
}
