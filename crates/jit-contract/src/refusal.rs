//! How an update's refusal reaches its caller with its kind: a [`Refusal`] is the error an
//! update handler or validator returns. The Temporal failure the caller gets carries the
//! human message as its message and the [`RefusalKind`] as the type of its cause, so callers
//! act on [`kind_of`] and never on the words.

use jit_domain::{RefusalKind, Refused};
use temporalio_common::error::ApplicationFailure;
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};

/// A refusal as a handler error: the message shown as is, the kind in the failure's cause.
#[derive(Debug)]
pub struct Refusal {
    kind: RefusalKind,
    message: String,
    /// The cause the failure converter encodes: an application failure typed by the kind.
    tag: ApplicationFailure,
}

impl Refusal {
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            tag: ApplicationFailure::builder(format!("refusal: {}", kind.as_str()))
                .type_name(kind.as_str().to_owned())
                .non_retryable(true)
                .build(),
        }
    }

    pub fn kind(&self) -> RefusalKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.tag)
    }
}

impl From<Refused> for Refusal {
    fn from(r: Refused) -> Self {
        Self::new(r.kind, r.to_string())
    }
}

impl From<jit_domain::VoteRejected> for Refusal {
    fn from(e: jit_domain::VoteRejected) -> Self {
        Refused::from(e).into()
    }
}

impl From<jit_domain::DelegationRejected> for Refusal {
    fn from(e: jit_domain::DelegationRejected) -> Self {
        Refused::from(e).into()
    }
}

/// The kind of a refused update's failure, if it is a [`Refusal`].
pub fn kind_of(failure: &Failure) -> Option<RefusalKind> {
    let mut f = failure;
    loop {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && let Some(kind) = RefusalKind::from_name(&info.r#type)
        {
            return Some(kind);
        }
        f = f.cause.as_deref()?;
    }
}

/// The failure a caller receives for `refusal` returned by an update handler or validator:
/// the SDK's own encoding (its default failure converter), as the API sees it.
pub fn as_failure(refusal: Refusal) -> Failure {
    use temporalio_common::data_converters::{
        DataConverter, SerializationContextData, WorkflowSerializationContext,
    };
    use temporalio_common::error::{OutgoingError, OutgoingWorkflowError};
    let source: Box<dyn std::error::Error + Send + Sync> = Box::new(refusal);
    DataConverter::default().to_failure(
        &SerializationContextData::Workflow(WorkflowSerializationContext::new()),
        OutgoingError::Workflow(OutgoingWorkflowError::Application(Box::new(
            ApplicationFailure::new(source),
        ))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_survives_the_sdks_failure_encoding_and_the_words_stay_the_message() {
        for kind in RefusalKind::ALL {
            let f = as_failure(Refusal::new(kind, "not allowed: some words"));
            assert_eq!(f.message, "not allowed: some words");
            assert_eq!(kind_of(&f), Some(kind));
        }
        let plain = Failure {
            message: "the lease stopped before answering".into(),
            ..Default::default()
        };
        assert_eq!(kind_of(&plain), None);
    }

    #[test]
    fn domain_refusals_keep_their_text() {
        let r = Refusal::from(Refused::wrong_phase("the ticket is already Expired"));
        assert_eq!(r.kind(), RefusalKind::WrongPhase);
        assert_eq!(r.to_string(), "not allowed: the ticket is already Expired");
    }
}
