//! What can go wrong for a caller of the card service, and the status each maps to.
use loyalty_platform::error::{Violations, from_infrastructure, invalid_argument};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("invalid argument")]
    InvalidArgument(Violations),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CardError {
    pub fn field(field: &str, reason: &str) -> Self {
        let mut v = Violations::new();
        v.add(field, reason);
        CardError::InvalidArgument(v)
    }
}

impl From<Violations> for CardError {
    fn from(v: Violations) -> Self {
        CardError::InvalidArgument(v)
    }
}

impl From<tokio_postgres::Error> for CardError {
    fn from(e: tokio_postgres::Error) -> Self {
        CardError::Internal(e.into())
    }
}

impl From<CardError> for Status {
    fn from(e: CardError) -> Status {
        match e {
            CardError::InvalidArgument(v) => invalid_argument(&v),
            CardError::NotFound(what) => Status::not_found(format!("{what} not found")),
            CardError::AlreadyExists(m) => Status::already_exists(m),
            CardError::FailedPrecondition(m) => Status::failed_precondition(m),
            CardError::Status(s) => s,
            CardError::Internal(e) => from_infrastructure(&e),
        }
    }
}

pub type Result<T> = std::result::Result<T, CardError>;
