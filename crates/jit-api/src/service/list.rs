//! Listing tickets: visibility queries over the contract's search attributes, page tokens,
//! and the list rows built from a record's attributes.

use jiff::Timestamp;
use jit_contract::search_attributes as sa;
use jit_domain::Phase;
use jit_proto::v1 as pb;
use temporalio_common::search_attributes::SearchAttributes;
use tonic::Status;

use super::TicketApi;
use crate::convert;

/// A value for a visibility query: refused if it could break out of the quotes.
pub(crate) fn query_value(name: &str, v: &str) -> Result<String, Status> {
    if v.contains(['\'', '"', '\\']) {
        return Err(Status::invalid_argument(format!(
            "{name}: {v:?} contains a quote or backslash"
        )));
    }
    Ok(format!("'{v}'"))
}

impl TicketApi {
    /// A page of tickets matching `query` (a visibility query over our search attributes).
    pub(super) async fn list(
        &self,
        query: String,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListTicketsResponse, Status> {
        use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
        let token = hex::decode(page_token)
            .map_err(|_| Status::invalid_argument("page_token: not a token we gave out"))?;
        let size = match page_size {
            0 => 50,
            n if (1..=500).contains(&n) => n,
            n => {
                return Err(Status::invalid_argument(format!(
                    "page_size: {n} is not between 1 and 500"
                )));
            }
        };
        let resp = self
            .client
            .connection()
            .workflow_service()
            .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
                namespace: self.namespace.clone(),
                page_size: size,
                next_page_token: token,
                query,
            }))
            .await?
            .into_inner();
        let tickets = resp.executions.iter().map(summary).collect();
        Ok(pb::ListTicketsResponse {
            tickets,
            next_page_token: hex::encode(&resp.next_page_token),
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
        requested_at: e.start_time.as_ref().map(|t| prost_types::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        }),
        expires_at,
        pending_approvers: list(&sa::PENDING_APPROVERS),
    }
}
