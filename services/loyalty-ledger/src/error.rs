//! What can go wrong for a caller of the ledger, and the status each maps to.
use loyalty_platform::error::{Violations, from_infrastructure, invalid_argument};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("invalid argument")]
    InvalidArgument(Violations),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Blocked client, insufficient points, over the share: the caller's state forbids it.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl LedgerError {
    pub fn field(field: &str, reason: &str) -> Self {
        let mut v = Violations::new();
        v.add(field, reason);
        LedgerError::InvalidArgument(v)
    }
}

impl From<Violations> for LedgerError {
    fn from(v: Violations) -> Self {
        LedgerError::InvalidArgument(v)
    }
}

impl From<tokio_postgres::Error> for LedgerError {
    fn from(e: tokio_postgres::Error) -> Self {
        LedgerError::Internal(e.into())
    }
}

impl From<crate::ops::SpendError> for LedgerError {
    fn from(e: crate::ops::SpendError) -> Self {
        use crate::ops::SpendError;
        match e {
            SpendError::Blocked => {
                LedgerError::FailedPrecondition("the client is blocked: no earning or spending".into())
            }
            SpendError::Insufficient(i) => LedgerError::FailedPrecondition(format!(
                "insufficient points: {} available, {} wanted",
                i.available, i.wanted
            )),
            SpendError::Store(e) => LedgerError::Internal(e),
        }
    }
}

impl From<LedgerError> for Status {
    fn from(e: LedgerError) -> Status {
        match e {
            LedgerError::InvalidArgument(v) => invalid_argument(&v),
            LedgerError::NotFound(what) => Status::not_found(format!("{what} not found")),
            LedgerError::FailedPrecondition(m) => Status::failed_precondition(m),
            LedgerError::AlreadyExists(m) => Status::already_exists(m),
            LedgerError::Status(s) => s,
            LedgerError::Internal(e) => from_infrastructure(&e),
        }
    }
}

pub type Result<T> = std::result::Result<T, LedgerError>;
