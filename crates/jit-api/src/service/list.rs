//! Listing tickets: visibility queries over the contract's search attributes, page tokens,
//! and the list rows built from a record's attributes.

use jiff::Timestamp;
use jit_contract::search_attributes as sa;
use jit_domain::Phase;
use jit_proto::v1 as pb;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    ListWorkflowExecutionsRequest, ListWorkflowExecutionsResponse,
};
use temporalio_common::search_attributes::SearchAttributes;
use tonic::Status;

use super::TicketApi;
use crate::convert;

/// A value for a visibility query, in quotes. Refused (INVALID_ARGUMENT) if it holds a
/// quote, a backslash or a control character: the query language's escapes differ between
/// visibility stores (SQLite, PostgreSQL, Elasticsearch), so nothing that needs one goes in.
/// Callers check the value by its field's rule first; this is the last line.
pub(crate) fn query_value(name: &str, v: &str) -> Result<String, Status> {
    if let Some(c) = v
        .chars()
        .find(|c| matches!(c, '\'' | '"' | '\\') || c.is_control())
    {
        return Err(crate::service::errors::invalid_argument(format!(
            "{name}: {} contains {c:?}, which a ticket filter cannot hold",
            jit_domain::quoted(v)
        )));
    }
    Ok(format!("'{v}'"))
}

/// How many bytes of the query's digest lead a page token.
const TOKEN_TAG: usize = 8;

/// The digest a page token of `query` starts with: a token holds for the filters it was
/// given out for only.
fn token_tag(query: &str) -> [u8; TOKEN_TAG] {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(query.as_bytes());
    let mut tag = [0; TOKEN_TAG];
    tag.copy_from_slice(&d[..TOKEN_TAG]);
    tag
}

/// Our page token for Temporal's `next`: hex of the query's tag and Temporal's token.
pub(crate) fn our_token(query: &str, next: &[u8]) -> String {
    if next.is_empty() {
        return String::new();
    }
    let mut b = token_tag(query).to_vec();
    b.extend_from_slice(next);
    hex::encode(b)
}

/// Temporal's token inside `token`, if it is one we gave out for `query`.
pub(crate) fn temporal_token(query: &str, token: &str) -> Result<Vec<u8>, Status> {
    if token.is_empty() {
        return Ok(Vec::new());
    }
    let refused = || {
        crate::service::errors::invalid_argument(
            "page_token: not a token this list gave out (a token holds for the same filters only)",
        )
    };
    let b = hex::decode(token).map_err(|_| refused())?;
    match b.split_at_checked(TOKEN_TAG) {
        Some((tag, rest)) if tag == token_tag(query) && !rest.is_empty() => Ok(rest.to_vec()),
        _ => Err(refused()),
    }
}

impl TicketApi {
    /// A page of tickets matching `query` (a visibility query over our search attributes).
    pub(super) async fn list(
        &self,
        query: String,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<pb::TicketSummary>, String), Status> {
        let token = temporal_token(&query, page_token)?;
        let size = match page_size {
            0 => 50,
            n if (1..=500).contains(&n) => n,
            n => {
                return Err(crate::service::errors::invalid_argument(format!(
                    "page_size: {n} is not between 1 and 500"
                )));
            }
        };
        let resp = self
            .visibility(&query, size, token.clone())
            .await
            .map_err(|s| {
                if s.code() == tonic::Code::InvalidArgument && !token.is_empty() {
                    crate::service::errors::invalid_argument(
                        "page_token: no longer valid (the list moved on); start again without it",
                    )
                } else {
                    Status::unavailable("listing tickets failed; retry later")
                }
            })?;
        let tickets = resp.executions.iter().map(summary).collect();
        Ok((tickets, our_token(&query, &resp.next_page_token)))
    }

    /// One page of the executions `query` selects in this namespace, the one visibility call
    /// of the API (tickets and admin views). The server's words (SQL, store names) go to our
    /// log here; callers answer theirs.
    pub(super) async fn visibility(
        &self,
        query: &str,
        page_size: i32,
        next_page_token: Vec<u8>,
    ) -> Result<ListWorkflowExecutionsResponse, tonic::Status> {
        self.client
            .connection()
            .workflow_service()
            .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
                namespace: self.namespace.clone(),
                page_size,
                next_page_token,
                query: query.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
            .inspect_err(|s| {
                tracing::warn!(%query, code = ?s.code(), message = s.message(), "listing failed");
            })
    }
}

/// A list row from a visibility record's search attributes.
fn summary(
    e: &temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo,
) -> pb::TicketSummary {
    let attrs = e
        .search_attributes
        .as_ref()
        .map(SearchAttributes::from_proto)
        .unwrap_or_default();
    let text = |k| attrs.get(k).unwrap_or_default();
    let list = |k| attrs.get(k).unwrap_or_default();
    let workflow_id = e
        .execution
        .as_ref()
        .map(|x| x.workflow_id.as_str())
        .unwrap_or_default();
    let status = Phase::from_name(&text(&sa::STATUS))
        .map(jit_proto::status::of)
        .unwrap_or(pb::TicketStatus::Unspecified);
    let expires_at = attrs
        .get(&sa::EXPIRES_AT)
        .and_then(|t| Timestamp::new(t.seconds(), t.nanos()).ok())
        .map(convert::timestamp);
    pb::TicketSummary {
        ticket_id: workflow_id
            .strip_prefix("ticket-")
            .unwrap_or(workflow_id)
            .to_owned(),
        status: status as i32,
        requester: text(&sa::REQUESTER),
        principal: text(&sa::PRINCIPAL),
        account_ids: list(&sa::ACCOUNTS),
        permission_sets: list(&sa::PERMISSION_SETS),
        request_time: e.start_time.as_ref().map(|t| prost_types::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        }),
        expire_time: expires_at,
        pending_approvers: list(&sa::PENDING_APPROVERS),
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn page_tokens_hold_for_their_query_only() {
        let q = "WorkflowType = 'TicketWorkflow'";
        let t = our_token(q, b"temporal");
        assert_eq!(temporal_token(q, &t).unwrap(), b"temporal");
        assert_eq!(temporal_token(q, "").unwrap(), b"");
        assert_eq!(our_token(q, b""), "");
        for bad in [
            "deadbeef".to_owned(),
            "zz".to_owned(),
            hex::encode(token_tag(q)),
            our_token("another query", b"temporal"),
        ] {
            let e = temporal_token(q, &bad).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument);
            assert!(e.message().starts_with("page_token: "), "{}", e.message());
        }
    }

    #[test]
    fn query_values_never_leave_their_quotes() {
        assert_eq!(query_value("f", "ReadOnly").unwrap(), "'ReadOnly'");
        for bad in ["a'b", "a\"b", "a\\b", "Read\0Only", "x\n", "' OR 1=1 --"] {
            let e = query_value("permission_set", bad).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument);
            assert!(e.message().starts_with("permission_set: "));
        }
    }
}
