//! What a refusal or failure means for the caller. Refused updates carry a
//! [`RefusalKind`] (see `jit_contract::refusal`): the status code comes from the kind, never
//! from the words, so rewording a message changes no code.

use jit_domain::{InvalidInput, RefusalKind};
use temporalio_client::errors::WorkflowUpdateError;
use tonic::Status;

pub(crate) fn invalid(e: InvalidInput) -> Status {
    invalid_argument(e.to_string())
}

pub(crate) fn field(name: &str, e: InvalidInput) -> Status {
    invalid_argument(format!("{name}: {}", e.problem))
}

/// The length of the field path `message` starts with (`targets[0].account_id: …`), if it
/// does.
fn field_path(message: &str) -> Option<&str> {
    let (path, rest) = message.split_once(": ")?;
    let ok = !path.is_empty()
        && !rest.is_empty()
        && path.starts_with(|c: char| c.is_ascii_lowercase())
        && path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    ok.then_some(path)
}

/// INVALID_ARGUMENT with `message`; when the message starts with a field's path (every
/// refusal at the door does), also a `google.rpc.BadRequest` field violation naming it, so
/// a form can show the problem on its field.
pub(crate) fn invalid_argument(message: impl Into<String>) -> Status {
    let message = message.into();
    match field_path(&message) {
        Some(path) => {
            let details = tonic_types::ErrorDetails::with_bad_request_violation(
                path,
                &message[path.len() + 2..],
            );
            use tonic_types::StatusExt;
            Status::with_error_details(tonic::Code::InvalidArgument, message.clone(), details)
        }
        None => Status::invalid_argument(message),
    }
}

/// The status of a refusal of `kind`: the wrong phase is FAILED_PRECONDITION, a bad value
/// INVALID_ARGUMENT, who may do what PERMISSION_DENIED, a missing thing NOT_FOUND, a check
/// that could not be made UNAVAILABLE (retry).
pub fn status_for(kind: RefusalKind, message: String) -> Status {
    match kind {
        RefusalKind::WrongPhase => Status::failed_precondition(message),
        RefusalKind::NotAllowed => Status::permission_denied(message),
        RefusalKind::BadValue => invalid_argument(message),
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

#[cfg(test)]
mod field_tests {
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn a_refusal_naming_a_field_carries_a_field_violation() {
        let s = invalid_argument("targets[0].account_id: \"12\" is not 12 digits");
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        let v = s.get_details_bad_request().expect("a BadRequest");
        assert_eq!(v.field_violations.len(), 1);
        assert_eq!(v.field_violations[0].field, "targets[0].account_id");
        assert_eq!(v.field_violations[0].description, "\"12\" is not 12 digits");
    }

    #[test]
    fn a_refusal_naming_no_field_has_no_violation() {
        for m in [
            "Duration: nope",
            "the plan refuses this",
            "x:y",
            "a b: c",
            "duration: ",
        ] {
            let s = invalid_argument(m);
            assert!(s.get_details_bad_request().is_none(), "{m}");
            assert_eq!(s.message(), m);
        }
    }
}
