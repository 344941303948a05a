//! Errors shared by the storage ports.

/// Any error an adapter wants to keep as the source of an unexpected failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a storage adapter reports when an operation cannot be done.
///
/// Expected business outcomes (a duplicate credit, a missing row) are values of
/// the operation's own result type, not errors of this enum.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. a domain name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store could not be reached (pool exhausted, connection refused, timeout).
    #[error("storage unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or a broken invariant. Logged, never shown to users.
    #[error("unexpected storage error")]
    Unexpected(#[source] BoxError),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Unexpected`].
    pub fn unexpected(err: impl Into<BoxError>) -> Self {
        Self::Unexpected(err.into())
    }
}
