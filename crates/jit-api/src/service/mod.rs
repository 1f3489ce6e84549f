//! `jit.v1.TicketService` on Temporal: each call authenticates, validates what it was sent
//! (INVALID_ARGUMENT names the field), and turns into a workflow start, query, update or
//! visibility query — all by `jit-contract`'s definitions. Votes and ends run as workflow
//! *updates*: the workflow's validators decide, and their refusal's kind decides the status.
//!
//! - [`rpc`]: the RPCs; [`list`]: visibility queries and list rows; [`errors`]: statuses;
//!   [`semantic`]: refusals decided without a ticket (what does not exist, over the cap).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jit_contract::ticket::{self, DelegateInput, EndInput, VoteInput};
use jit_contract::user_lookup;
use jit_domain::{
    AccountId, BundleName, EndKind, Limits, PermissionSetName, Principal, Target, Ticket, TicketId,
    TicketRequest, UserName,
};
use jit_policy::PolicyStore;
use jit_proto::v1 as pb;
use temporalio_client::errors::{WorkflowQueryError, WorkflowUpdateError};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowQueryOptions, WorkflowStartOptions,
};
use tonic::{Request, Status};

use crate::auth::{Authenticator, Caller};
use crate::{convert, door};

mod admin;
pub(crate) mod errors;
mod list;
mod rpc;
mod semantic;

pub use errors::status_for;
use errors::{field, invalid, not_found, update_status};

/// The service's state: a Temporal client and what it needs to decide who may call what.
#[derive(Clone)]
pub struct TicketApi {
    pub(crate) client: Client,
    pub(crate) namespace: String,
    pub(crate) task_queue: String,
    pub(crate) limits: Limits,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) policy: Arc<PolicyStore>,
    pub(crate) known: Arc<crate::known::KnownTargets>,
    /// The client's codec: opens refusals whose messages it encrypted.
    pub(crate) codec: jit_temporal::codec::Codec,
}

type Handle = temporalio_client::WorkflowHandle<Client, ticket::Workflow>;

/// `r-` and 24 hex digits of sha256(caller, request id): the same caller and request id
/// always name the same ticket.
pub fn ticket_id_for(caller: &str, request_id: &str) -> TicketId {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{caller}\n{request_id}").as_bytes());
    TicketId::parse(&format!("r-{}", hex::encode(&d[..12])))
        .expect("r- and hex digits make a ticket id")
}

fn check_request_id(id: &str) -> Result<(), Status> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(crate::service::errors::invalid_argument(format!(
            "request_id: {id:?} must be 1 to 64 of A-Z a-z 0-9 - _ (e.g. a UUID)"
        )))
    }
}

impl TicketApi {
    async fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        self.auth.authenticate(header).await
    }

    fn user(caller: &Caller) -> Result<UserName, Status> {
        UserName::parse(&caller.subject)
            .map_err(|e| Status::unauthenticated(format!("subject: {e}")))
    }

    fn handle(&self, ticket_id: &str) -> Result<(TicketId, Handle), Status> {
        let id = TicketId::parse(ticket_id).map_err(|e| field("ticket_id", e))?;
        let h = self
            .client
            .get_workflow_handle::<ticket::Workflow>(id.workflow_id());
        Ok((id, h))
    }

    async fn status(&self, ticket_id: &str, h: &Handle) -> Result<Ticket, Status> {
        h.query(ticket::Status, (), WorkflowQueryOptions::default())
            .await
            .map_err(|e| match e {
                WorkflowQueryError::NotFound(_) => not_found(ticket_id),
                WorkflowQueryError::Rpc(s) if s.code() == tonic::Code::NotFound => {
                    not_found(ticket_id)
                }
                other => Status::unavailable(format!("ticket {ticket_id}: {other}")),
            })
    }

    pub(crate) fn is_admin(&self, user: &UserName) -> bool {
        let mut dir = jit_policy::Directory::new();
        dir.add_user(user.clone());
        dir.person(user)
            .is_some_and(|p| self.policy.current().is_admin(&p).allowed)
    }

    /// Tickets are readable by their parties, their approvers (and delegates), and admins.
    fn may_read(&self, user: &UserName, t: &Ticket) -> Result<(), Status> {
        let party = t.is_party(user);
        let approver = t.plan.as_ref().is_some_and(|p| {
            p.admins.contains(user)
                || p.steps.iter().any(|s| s.approvers.contains(user))
                || p.escalation
                    .as_ref()
                    .is_some_and(|e| e.approvers.contains(user))
        });
        let delegate = t
            .approval
            .as_ref()
            .is_some_and(|a| a.delegations.iter().any(|d| d.to == *user));
        if party || approver || delegate || self.is_admin(user) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{user} is neither a party, an approver nor an admin of ticket {}",
                t.request.ticket_id
            )))
        }
    }

    async fn read(&self, caller: &Caller, ticket_id: &str) -> Result<pb::Ticket, Status> {
        let user = Self::user(caller)?;
        let (_, h) = self.handle(ticket_id)?;
        let t = self.status(ticket_id, &h).await?;
        self.may_read(&user, &t)?;
        Ok(convert::ticket(&t, Timestamp::now()))
    }

    /// The request as the domain knows it, every field checked at the door (see [`door`]).
    fn request_from(
        &self,
        caller: &Caller,
        r: &pb::CreateTicketRequest,
    ) -> Result<TicketRequest, Status> {
        check_request_id(&r.request_id)?;
        let requester = if r.requester.is_empty() || r.requester == caller.subject {
            Self::user(caller)?
        } else {
            let requester = door::user("requester", &r.requester)?;
            let v = self
                .policy
                .current()
                .may_act_as(&caller.subject, &requester);
            if !v.allowed {
                return Err(Status::permission_denied(v.reason));
            }
            requester
        };
        let principal = match r.principal.as_ref().map(|p| p.kind.as_ref()) {
            // Left out: the requester.
            None => Principal::User(requester.clone()),
            Some(None) => {
                return Err(crate::service::errors::invalid_argument(
                    "principal: set user or group (leave principal out to mean the requester)",
                ));
            }
            Some(Some(pb::principal::Kind::User(u))) => {
                Principal::User(door::user("principal.user", u)?)
            }
            Some(Some(pb::principal::Kind::Group(g))) => {
                Principal::Group(door::group("principal.group", g)?)
            }
        };
        let mut targets = Vec::new();
        for (i, t) in r.targets.iter().enumerate() {
            targets.push(Target {
                account: AccountId::parse(&t.account_id)
                    .map_err(|e| field(&format!("targets[{i}].account_id"), e))?,
                permission_set: PermissionSetName::parse(&t.permission_set)
                    .map_err(|e| field(&format!("targets[{i}].permission_set"), e))?,
            });
            if !t.account_name.is_empty() {
                return Err(crate::service::errors::invalid_argument(format!(
                    "targets[{i}].account_name: set by the server; send account_id only"
                )));
            }
        }
        let bundle = if r.bundle.is_empty() {
            None
        } else {
            Some(BundleName::parse(&r.bundle).map_err(|e| field("bundle", e))?)
        };
        let Some(duration) = r.duration.as_ref() else {
            return Err(crate::service::errors::invalid_argument(
                "duration: missing",
            ));
        };
        let duration = door::duration("duration", duration)?;
        let now = Timestamp::now();
        let start_at = r
            .start_time
            .as_ref()
            .map(|t| door::start_at(t, now))
            .transpose()?
            // A time a moment ago (clocks differ) means now.
            .filter(|t| *t > now);
        let req = TicketRequest {
            ticket_id: ticket_id_for(&caller.subject, &r.request_id),
            requester,
            principal,
            targets,
            bundle,
            duration,
            justification: door::justification(&r.justification)?,
            start_at,
            break_glass: r.break_glass,
        };
        req.validate(&self.limits).map_err(invalid)?;
        Ok(req)
    }

    /// Runs an update; the ticket after it.
    async fn after_update<T>(
        &self,
        ticket_id: &str,
        h: &Handle,
        out: Result<T, WorkflowUpdateError>,
    ) -> Result<(T, pb::Ticket), Status> {
        let v = out.map_err(|e| update_status(ticket_id, self.codec.open_update_error(e)))?;
        let t = self.status(ticket_id, h).await?;
        Ok((v, convert::ticket(&t, Timestamp::now())))
    }

    /// Relinquish, revoke or cancel `ticket_id` as the caller of `request`.
    async fn end<R>(
        &self,
        request: &Request<R>,
        ticket_id: &str,
        reason: &str,
        kind: EndKind,
    ) -> Result<pb::Ticket, Status> {
        let caller = self.caller(request).await?;
        let by = Self::user(&caller)?;
        let (_, h) = self.handle(ticket_id)?;
        let input = EndInput {
            by,
            reason: door::note("reason", reason)?,
        };
        let o = WorkflowExecuteUpdateOptions::default();
        let out = match kind {
            EndKind::Relinquish => h.execute_update(ticket::Relinquish, input, o).await,
            EndKind::Revoke => h.execute_update(ticket::Revoke, input, o).await,
            EndKind::Cancel => h.execute_update(ticket::Cancel, input, o).await,
        };
        let ((), t) = self.after_update(ticket_id, &h, out).await?;
        Ok(t)
    }

    /// An approval or a denial of `ticket_id` by the caller of `request`.
    async fn vote<R>(
        &self,
        request: &Request<R>,
        ticket_id: &str,
        comment: &str,
        approve: bool,
    ) -> Result<Voted, Status> {
        let caller = self.caller(request).await?;
        let approver = Self::user(&caller)?;
        let comment = door::note("comment", comment)?;
        self.vote_as(approver, ticket_id, comment, approve, None)
            .await
    }

    /// A vote by `approver` (already authenticated), through the workflow's validators: the
    /// one path for gRPC, Slack and Teams.
    pub async fn vote_as(
        &self,
        approver: UserName,
        ticket_id: &str,
        comment: Option<String>,
        approve: bool,
        once: Option<&str>,
    ) -> Result<Voted, Status> {
        let (_, h) = self.handle(ticket_id)?;
        let input = VoteInput { approver, comment };
        let o = self.once(&h, once).await?;
        let out = if approve {
            h.execute_update(ticket::Approve, input, o).await
        } else {
            h.execute_update(ticket::Deny, input, o).await
        };
        let (effect, ticket) = self.after_update(ticket_id, &h, out).await?;
        Ok(Voted { effect, ticket })
    }

    /// A delegation by `from` (already authenticated).
    pub async fn delegate_as(
        &self,
        from: UserName,
        ticket_id: &str,
        to: UserName,
        until: Timestamp,
        reason: Option<String>,
        once: Option<&str>,
    ) -> Result<pb::Ticket, Status> {
        let (_, h) = self.handle(ticket_id)?;
        let o = self.once(&h, once).await?;
        let out = h
            .execute_update(
                ticket::Delegate,
                DelegateInput {
                    from,
                    to,
                    until,
                    reason,
                },
                o,
            )
            .await;
        let ((), t) = self.after_update(ticket_id, &h, out).await?;
        Ok(t)
    }

    /// Update options for an act that may happen once (`once`: a chat request's or a link's
    /// key). The key is the update's id: Temporal runs an update id once per ticket, so two
    /// API replicas sending the same request count one vote. A key the ticket already knows
    /// (after a restart, on another replica) is refused with `ALREADY_EXISTS` — the ticket's
    /// history, not this process's memory, is the record.
    async fn once(
        &self,
        h: &Handle,
        once: Option<&str>,
    ) -> Result<WorkflowExecuteUpdateOptions, Status> {
        let Some(key) = once else {
            return Ok(WorkflowExecuteUpdateOptions::default());
        };
        let known = h.get_update_handle(ticket::Approve, key);
        let rpc = temporalio_client::RpcOptions::builder()
            .timeout(Duration::from_secs(10))
            .build();
        match known.get_result(rpc).await {
            // Not an update of this ticket (or one it refused, which never counted).
            Err(WorkflowUpdateError::NotFound(_)) => {}
            Err(WorkflowUpdateError::Rpc(s)) if s.code() != tonic::Code::DeadlineExceeded => {
                return Err(Status::unavailable(format!(
                    "could not check whether this request was counted already: {}",
                    s.message()
                )));
            }
            // Done (whatever its outcome or result type), or still running elsewhere.
            _ => {
                return Err(Status::already_exists(
                    "this request was counted already: each one counts once",
                ));
            }
        }
        Ok(WorkflowExecuteUpdateOptions::builder()
            .update_id(key.to_owned())
            .build())
    }

    /// The identity-store user with this email, asked of a worker.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserName>, Status> {
        let id = format!("user-lookup-{}", Timestamp::now().as_nanosecond());
        crate::ask::ask_worker(
            &self.client,
            user_lookup::Workflow,
            email.to_owned(),
            WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            Duration::from_secs(30),
        )
        .await
    }

    /// Authenticates an `authorization` header value (for the HTTP endpoints).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Caller, Status> {
        self.auth.authenticate(header).await
    }
}

#[cfg(test)]
mod tests;

/// What a vote did ("counted; approved") and the ticket after it.
pub struct Voted {
    pub effect: String,
    pub ticket: pb::Ticket,
}
