//! Building `tonic::Status` values the way ARCHITECTURE.md says: bad input is INVALID_ARGUMENT
//! with a `google.rpc.BadRequest` naming every violated field; internal failures are logged with
//! their cause chain and returned without it.
//!
//! Every service answers with [`ApiError`]: the outcomes a caller can tell apart (the codes of
//! ARCHITECTURE.md → Contracts) and one `Internal` for what the caller cannot fix. A service keeps
//! only its own domain errors (the ledger's `PurchaseError`, say) and says once, in a `From` impl,
//! which outcome each one is — as Quickwit's `ServiceError::error_code` and GreptimeDB's `ErrorExt`
//! do.
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Collects every problem with a request before answering, so the caller fixes them in one go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` (a path such as `children[1].birth_date`) is wrong, and why.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push((field.into(), reason.into()));
    }

    /// Records a violation when `condition` holds.
    pub fn add_if(&mut self, condition: bool, field: &str, reason: &str) {
        if condition {
            self.add(field, reason);
        }
    }

    /// Keeps the value of a parse, recording its error under `field`.
    pub fn take<T, E: std::fmt::Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// Adds everything `other` recorded.
    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, r)| (f.as_str(), r.as_str()))
    }

    /// `Ok` when nothing was recorded, else the INVALID_ARGUMENT status listing everything.
    pub fn into_result(self) -> Result<(), Status> {
        if self.is_empty() { Ok(()) } else { Err(invalid_argument(&self)) }
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.iter().map(|(field, reason)| format!("{field}: {reason}")).collect::<Vec<_>>().join("; ");
        f.write_str(&text)
    }
}

/// What went wrong for a caller, as every service answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input: every violated field, with the reason in words.
    #[error("{0}")]
    InvalidArgument(Violations),
    /// Unknown, another tenant's, or outside the caller's store scope: all look the same.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    /// The state of what the call is about forbids it (a blocked client, too few points).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// A conflict worth retrying (an etag that no longer matches).
    #[error("{0}")]
    Aborted(String),
    /// A status decided by shared machinery (idempotency, auth, a peer service's answer).
    #[error("{0}")]
    Status(#[from] Status),
    /// What the caller cannot fix: logged with its cause chain, answered without it.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// INVALID_ARGUMENT for one field.
    pub fn field(field: &str, reason: &str) -> Self {
        let mut v = Violations::new();
        v.add(field, reason);
        ApiError::InvalidArgument(v)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        ApiError::FailedPrecondition(message.into())
    }

    pub fn denied(message: impl Into<String>) -> Self {
        ApiError::PermissionDenied(message.into())
    }

    /// The status code the caller receives.
    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidArgument(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::AlreadyExists(_) => Code::AlreadyExists,
            ApiError::FailedPrecondition(_) => Code::FailedPrecondition,
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::Aborted(_) => Code::Aborted,
            ApiError::Status(s) => s.code(),
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        ApiError::InvalidArgument(v)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Internal(anyhow::Error::from(e).context("taking a database connection"))
    }
}

impl From<prost::DecodeError> for ApiError {
    fn from(e: prost::DecodeError) -> Self {
        ApiError::Internal(anyhow::Error::from(e).context("decoding a stored answer"))
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::InvalidArgument(v) => invalid_argument(&v),
            ApiError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::FailedPrecondition(m) => Status::failed_precondition(m),
            ApiError::PermissionDenied(m) => Status::permission_denied(m),
            ApiError::Aborted(m) => Status::aborted(m),
            ApiError::Status(s) => s,
            ApiError::Internal(e) => from_infrastructure(&e),
        }
    }
}

/// The result every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

/// A handler's result as tonic wants it.
pub fn reply<T>(result: ApiResult<T>) -> Result<tonic::Response<T>, Status> {
    result.map(tonic::Response::new).map_err(Status::from)
}

/// INVALID_ARGUMENT whose message lists the fields and whose details carry a `BadRequest`.
pub fn invalid_argument(violations: &Violations) -> Status {
    let message = violations.to_string();
    let mut details = ErrorDetails::new();
    for (field, reason) in violations.iter() {
        details.add_bad_request_violation(field, reason);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// One-field INVALID_ARGUMENT.
pub fn invalid_field(field: &str, reason: &str) -> Status {
    let mut v = Violations::new();
    v.add(field, reason);
    invalid_argument(&v)
}

/// The field violations carried by a status (what a client reads back).
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|br| br.field_violations.into_iter().map(|v| (v.field, v.description)).collect())
        .unwrap_or_default()
}

/// A failure the caller cannot fix: logged with its whole cause chain, answered as INTERNAL with no
/// detail that could leak data.
pub fn internal(error: &anyhow::Error) -> Status {
    tracing::error!(error = format!("{error:#}"), "internal error");
    Status::internal("internal error; it has been logged")
}

/// Maps infrastructure failures that are worth a retry (pool exhausted, serialization failure,
/// deadlock, connection lost) to UNAVAILABLE/ABORTED, and everything else to INTERNAL.
pub fn from_infrastructure(error: &anyhow::Error) -> Status {
    for cause in error.chain() {
        if let Some(db) = cause.downcast_ref::<tokio_postgres::Error>() {
            if let Some(code) = db.code() {
                let code = code.code();
                // 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
                if code == "40001" || code == "40P01" || code == "55P03" {
                    return Status::aborted("conflicting concurrent change; retry");
                }
            }
            if db.is_closed() {
                return Status::unavailable("database connection lost; retry");
            }
        }
        if cause.downcast_ref::<deadpool_postgres::PoolError>().is_some() {
            return Status::unavailable("database busy; retry");
        }
    }
    internal(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_reported_at_once() {
        let mut v = Violations::new();
        v.add("email", "is not an email address");
        v.add_if(true, "phone", "phone or card number is required");
        v.add_if(false, "birth_date", "never recorded");
        let status = v.into_result().expect_err("violations make an error");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            field_violations(&status),
            vec![
                ("email".to_string(), "is not an email address".to_string()),
                ("phone".to_string(), "phone or card number is required".to_string())
            ]
        );
        assert!(status.message().contains("email: is not an email address"));
    }

    #[test]
    fn no_violations_is_ok() {
        assert!(Violations::new().into_result().is_ok());
    }
}
