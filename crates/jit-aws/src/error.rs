//! Error classification: what a caller may retry and what is final.

use aws_sdk_ssoadmin::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Why a retryable error happened; the activity's retry policy handles all of them alike,
/// the kind is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    Throttling,
    Conflict,
    Server,
    Network,
    /// An asynchronous operation is still IN_PROGRESS after the polling bound.
    StillInProgress,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Try again later: throttling, 5xx, conflict, network, or still in progress.
    #[error("{op}: {message} (will retry: {kind:?})")]
    Retryable {
        op: &'static str,
        kind: RetryKind,
        message: String,
    },
    /// The thing asked about does not exist.
    #[error("{op}: not found: {message}")]
    NotFound { op: &'static str, message: String },
    /// Retrying cannot help: validation, access denied, or an asynchronous FAILED with AWS's
    /// reason.
    #[error("{op}: {message}")]
    Final { op: &'static str, message: String },
}

impl AwsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    pub(crate) fn still_in_progress(op: &'static str, message: String) -> Self {
        Self::Retryable {
            op,
            kind: RetryKind::StillInProgress,
            message,
        }
    }
}

/// Error codes that mean "not found" across Identity Center, identity store and
/// organizations.
const NOT_FOUND_CODES: &[&str] = &["ResourceNotFoundException", "AccountNotFoundException"];

/// Classifies any AWS SDK error by its code and HTTP status.
pub fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let retryable = |kind, message| AwsError::Retryable { op, kind, message };
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            retryable(RetryKind::Network, DisplayErrorContext(&err).to_string())
        }
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = format!("{code}: {}", e.message().unwrap_or("(no message)"));
            if code.contains("Throttling") || code == "TooManyRequestsException" {
                retryable(RetryKind::Throttling, message)
            } else if code == "ConflictException" {
                retryable(RetryKind::Conflict, message)
            } else if code == "InternalServerException" || code == "ServiceException" {
                retryable(RetryKind::Server, message)
            } else if NOT_FOUND_CODES.contains(&code.as_str()) {
                AwsError::NotFound { op, message }
            } else {
                AwsError::Final { op, message }
            }
        }
        _ => AwsError::Final {
            op,
            message: DisplayErrorContext(&err).to_string(),
        },
    }
}

/// [`classify`], treating any 5xx answer as retryable even when its body is not an AWS
/// error (a proxy's or load balancer's page).
pub(crate) fn aws<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let c = classify(op, err);
    match (status, c) {
        (Some(s), AwsError::Final { message, .. }) if s >= 500 => AwsError::Retryable {
            op,
            kind: RetryKind::Server,
            message,
        },
        (_, c) => c,
    }
}

/// `Ok(None)` for a "not found" answer, the error classified otherwise.
pub(crate) fn optional<T, E>(
    op: &'static str,
    r: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match aws(op, e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}
