//! What can go wrong for a caller of the client service, and the status each maps to.
use loyalty_platform::error::{Violations, from_infrastructure, invalid_argument};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid argument")]
    InvalidArgument(Violations),
    /// Unknown, another tenant's, or outside the caller's store scope: all look the same.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Aborted(String),
    /// A status decided by shared machinery (idempotency, auth).
    #[error("{0}")]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ClientError {
    pub fn field(field: &str, reason: &str) -> Self {
        let mut v = Violations::new();
        v.add(field, reason);
        ClientError::InvalidArgument(v)
    }
}

impl From<Violations> for ClientError {
    fn from(v: Violations) -> Self {
        ClientError::InvalidArgument(v)
    }
}

impl From<tokio_postgres::Error> for ClientError {
    fn from(e: tokio_postgres::Error) -> Self {
        ClientError::Internal(e.into())
    }
}

impl From<ClientError> for Status {
    fn from(e: ClientError) -> Status {
        match e {
            ClientError::InvalidArgument(v) => invalid_argument(&v),
            ClientError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ClientError::AlreadyExists(m) => Status::already_exists(m),
            ClientError::FailedPrecondition(m) => Status::failed_precondition(m),
            ClientError::Aborted(m) => Status::aborted(m),
            ClientError::Status(s) => s,
            ClientError::Internal(e) => from_infrastructure(&e),
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;
