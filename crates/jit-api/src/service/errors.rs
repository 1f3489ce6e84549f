//! What a refusal or failure means for the caller. Refused updates carry a
//! [`RefusalKind`] (see `jit_contract::refusal`): the status code comes from the kind, never
//! from the words, so rewording a message changes no code.

use jit_domain::{InvalidInput, RefusalKind};
use temporalio_client::errors::WorkflowUpdateError;
use tonic::Status;

pub(crate) fn invalid(e: InvalidInput) -> Status {
    Status::invalid_argument(e.to_string())
}

pub(crate) fn field(name: &str, e: InvalidInput) -> Status {
    Status::invalid_argument(format!("{name}: {}", e.problem))
}

/// The status of a refusal of `kind`: the wrong phase is FAILED_PRECONDITION, a bad value
/// INVALID_ARGUMENT, who may do what PERMISSION_DENIED, a missing thing NOT_FOUND, a check
/// that could not be made UNAVAILABLE (retry).
pub fn status_for(kind: RefusalKind, message: String) -> Status {
    match kind {
        RefusalKind::WrongPhase => Status::failed_precondition(message),
        RefusalKind::NotAllowed => Status::permission_denied(message),
        RefusalKind::BadValue => Status::invalid_argument(message),
        RefusalKind::NotFound => Status::not_found(message),
        RefusalKind::Unavailable => Status::unavailable(message),
    }
}

pub(crate) fn update_status(ticket: &str, e: WorkflowUpdateError) -> Status {
    match e {
        WorkflowUpdateError::NotFound(_) => not_found(ticket),
        WorkflowUpdateError::Failed(f) => match jit_contract::refusal::kind_of(&f) {
            Some(kind) => status_for(kind, f.message.clone()),
            // Not a refusal (e.g. a worker without this update): nothing the caller can fix.
            None => Status::unknown(f.message.clone()),
        },
        WorkflowUpdateError::Rpc(s) => s,
        other => Status::internal(other.to_string()),
    }
}

pub(crate) fn not_found(ticket: &str) -> Status {
    Status::not_found(format!("ticket_id: there is no ticket {ticket}"))
}

#[cfg(test)]
mod tests {
    use jit_contract::Refusal;
    use jit_contract::refusal::as_failure;
    use tonic::Code;

    use super::*;

    fn code(kind: RefusalKind, words: &str) -> Code {
        let f = as_failure(Refusal::new(kind, words));
        update_status("t", WorkflowUpdateError::Failed(Box::new(f))).code()
    }

    #[test]
    fn the_kind_decides_the_code_whatever_the_words() {
        // The same kind with other words: the same code.
        assert_eq!(
            code(
                RefusalKind::WrongPhase,
                "not allowed: the ticket is Active, not waiting for approval"
            ),
            Code::FailedPrecondition
        );
        assert_eq!(
            code(RefusalKind::WrongPhase, "nothing to vote on right now"),
            Code::FailedPrecondition
        );
        // Words that used to decide a code decide nothing now.
        assert_eq!(
            code(
                RefusalKind::NotAllowed,
                "the ticket is too short, not waiting"
            ),
            Code::PermissionDenied
        );
        assert_eq!(
            code(
                RefusalKind::BadValue,
                "an extension of 30s: please ask for more"
            ),
            Code::InvalidArgument
        );
        assert_eq!(code(RefusalKind::NotFound, "x"), Code::NotFound);
        assert_eq!(code(RefusalKind::Unavailable, "x"), Code::Unavailable);
    }

    #[test]
    fn a_failure_without_a_kind_is_unknown() {
        let f = jit_contract::refusal::as_failure(Refusal::new(RefusalKind::NotAllowed, "x"));
        let plain = temporalio_client::errors::WorkflowUpdateError::Failed(Box::new(
            temporalio_common::protos::temporal::api::failure::v1::Failure {
                message: f.message,
                ..Default::default()
            },
        ));
        assert_eq!(update_status("t", plain).code(), Code::Unknown);
    }
}
