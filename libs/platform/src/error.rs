//! Building `tonic::Status` values the way ARCHITECTURE.md says: bad input is INVALID_ARGUMENT
//! with a `google.rpc.BadRequest` naming every violated field; internal failures are logged with
//! their cause chain and returned without it.
//!
//! Each service keeps its own error enum (`ClientError`, `LedgerError`) and maps it to `Status`
//! with these helpers.
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

/// INVALID_ARGUMENT whose message lists the fields and whose details carry a `BadRequest`.
pub fn invalid_argument(violations: &Violations) -> Status {
    let message = violations.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; ");
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
