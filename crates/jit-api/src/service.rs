//! `jit.v1.TicketService` on Temporal: each call authenticates, validates what it was sent
//! (INVALID_ARGUMENT names the field), and turns into a workflow start, query, update or
//! visibility query. Votes and ends run as workflow *updates*: the workflow's validators
//! decide, and their refusal comes back as PERMISSION_DENIED or FAILED_PRECONDITION.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use jiff::Timestamp;
use jit_domain::{
    AccountId, BundleName, GroupName, InvalidInput, Justification, Limits, PermissionSetName,
    Phase, Principal, Target, Ticket, TicketId, TicketRequest, UserName,
};
use jit_policy::PolicyStore;
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_server::TicketService;
use jit_workflows::{
    CatalogWorkflow, DelegateInput, EndInput, ExtendInput, TicketWorkflow, VoteInput, start_options,
};
use temporalio_client::errors::{WorkflowQueryError, WorkflowStartError, WorkflowUpdateError};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
    WorkflowStartOptions,
};
use tonic::{Request, Response, Status};

use crate::auth::{Authenticator, Caller};
use crate::convert;

/// The service's state: a Temporal client and what it needs to decide who may call what.
#[derive(Clone)]
pub struct TicketApi {
    pub(crate) client: Client,
    pub(crate) namespace: String,
    pub(crate) task_queue: String,
    pub(crate) limits: Limits,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) policy: Arc<PolicyStore>,
}

type Handle = temporalio_client::WorkflowHandle<Client, TicketWorkflow>;

fn invalid(e: InvalidInput) -> Status {
    Status::invalid_argument(e.to_string())
}

fn field(name: &str, e: InvalidInput) -> Status {
    Status::invalid_argument(format!("{name}: {}", e.problem))
}

/// What a refused update means for the caller: the wrong phase is FAILED_PRECONDITION, a
/// bad value INVALID_ARGUMENT, everything else (who may do what) PERMISSION_DENIED.
pub fn refusal(message: &str) -> Status {
    let m = message.trim_start_matches("not allowed: ");
    let precondition = [
        "the ticket is ",
        "already ending",
        "approval is over",
        "not waiting for approval",
    ];
    let argument = ["too short", "must end in the future"];
    if precondition.iter().any(|p| m.contains(p)) {
        Status::failed_precondition(message.to_owned())
    } else if argument.iter().any(|p| m.contains(p)) {
        Status::invalid_argument(message.to_owned())
    } else {
        Status::permission_denied(message.to_owned())
    }
}

fn update_status(ticket: &str, e: WorkflowUpdateError) -> Status {
    match e {
        WorkflowUpdateError::NotFound(_) => not_found(ticket),
        WorkflowUpdateError::Failed(f) => refusal(&f.message),
        WorkflowUpdateError::Rpc(s) => s,
        other => Status::internal(other.to_string()),
    }
}

fn not_found(ticket: &str) -> Status {
    Status::not_found(format!("ticket_id: there is no ticket {ticket}"))
}

/// `r-` and 24 hex digits of sha256(caller, request id): the same caller and request id
/// always name the same ticket.
pub fn ticket_id_for(caller: &str, request_id: &str) -> TicketId {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{caller}\n{request_id}").as_bytes());
    let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
    TicketId::parse(&format!("r-{hex}")).expect("r- and hex digits make a ticket id")
}

fn check_request_id(id: &str) -> Result<(), Status> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "request_id: {id:?} must be 1 to 64 of A-Z a-z 0-9 - _ (e.g. a UUID)"
        )))
    }
}

/// A value for a visibility query: refused if it could break out of the quotes.
fn query_value(name: &str, v: &str) -> Result<String, Status> {
    if v.contains(['\'', '"', '\\']) {
        return Err(Status::invalid_argument(format!(
            "{name}: {v:?} contains a quote or backslash"
        )));
    }
    Ok(format!("'{v}'"))
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
            .get_workflow_handle::<TicketWorkflow>(id.workflow_id());
        Ok((id, h))
    }

    async fn status(&self, ticket_id: &str, h: &Handle) -> Result<Ticket, Status> {
        h.query(TicketWorkflow::status, (), WorkflowQueryOptions::default())
            .await
            .map_err(|e| match e {
                WorkflowQueryError::NotFound(_) => not_found(ticket_id),
                WorkflowQueryError::Rpc(s) if s.code() == tonic::Code::NotFound => {
                    not_found(ticket_id)
                }
                other => Status::unavailable(format!("ticket {ticket_id}: {other}")),
            })
    }

    fn is_admin(&self, user: &UserName) -> bool {
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

    fn request_from(
        &self,
        caller: &Caller,
        r: &pb::CreateTicketRequest,
    ) -> Result<TicketRequest, Status> {
        check_request_id(&r.request_id)?;
        let requester = if r.requester.is_empty() || r.requester == caller.subject {
            Self::user(caller)?
        } else {
            let requester = UserName::parse_field("requester", &r.requester).map_err(invalid)?;
            let v = self
                .policy
                .current()
                .may_act_as(&caller.subject, &requester);
            if !v.allowed {
                return Err(Status::permission_denied(v.reason));
            }
            requester
        };
        let principal = match r.principal.as_ref().and_then(|p| p.kind.as_ref()) {
            None => Principal::User(requester.clone()),
            Some(pb::principal::Kind::User(u)) => {
                Principal::User(UserName::parse_field("principal.user", u).map_err(invalid)?)
            }
            Some(pb::principal::Kind::Group(g)) => {
                Principal::Group(GroupName::parse(g).map_err(|e| field("principal.group", e))?)
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
        }
        let bundle = if r.bundle.is_empty() {
            None
        } else {
            Some(BundleName::parse(&r.bundle).map_err(|e| field("bundle", e))?)
        };
        let Some(duration) = r.duration.as_ref() else {
            return Err(Status::invalid_argument("duration: missing"));
        };
        let start_at = match &r.start_at {
            None => None,
            Some(t) => Some(
                convert::from_timestamp(t)
                    .ok_or_else(|| Status::invalid_argument("start_at: not a valid time"))?,
            ),
        };
        let req = TicketRequest {
            ticket_id: ticket_id_for(&caller.subject, &r.request_id),
            requester,
            principal,
            targets,
            bundle,
            duration: convert::from_duration(duration),
            justification: Justification::parse(&r.justification)
                .map_err(|e| field("justification", e))?,
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
        let v = out.map_err(|e| update_status(ticket_id, e))?;
        let t = self.status(ticket_id, h).await?;
        Ok((v, convert::ticket(&t, Timestamp::now())))
    }

    async fn end(
        &self,
        request: Request<pb::EndRequest>,
        kind: &'static str,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = self.caller(&request).await?;
        let by = Self::user(&caller)?;
        let r = request.into_inner();
        let (_, h) = self.handle(&r.ticket_id)?;
        let input = EndInput {
            by,
            reason: (!r.reason.is_empty()).then_some(r.reason),
        };
        let o = WorkflowExecuteUpdateOptions::default();
        let out = match kind {
            "relinquish" => h.execute_update(TicketWorkflow::relinquish, input, o).await,
            "revoke" => h.execute_update(TicketWorkflow::revoke, input, o).await,
            _ => h.execute_update(TicketWorkflow::cancel, input, o).await,
        };
        let ((), t) = self.after_update(&r.ticket_id, &h, out).await?;
        Ok(Response::new(t))
    }

    async fn vote(
        &self,
        request: Request<pb::VoteRequest>,
        approve: bool,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        let caller = self.caller(&request).await?;
        let approver = Self::user(&caller)?;
        let r = request.into_inner();
        let comment = (!r.comment.is_empty()).then_some(r.comment);
        Ok(Response::new(
            self.vote_as(approver, &r.ticket_id, comment, approve)
                .await?,
        ))
    }

    /// A vote by `approver` (already authenticated), through the workflow's validators: the
    /// one path for gRPC, Slack and Teams.
    pub async fn vote_as(
        &self,
        approver: UserName,
        ticket_id: &str,
        comment: Option<String>,
        approve: bool,
    ) -> Result<pb::VoteResponse, Status> {
        let (_, h) = self.handle(ticket_id)?;
        let input = VoteInput { approver, comment };
        let o = WorkflowExecuteUpdateOptions::default();
        let out = if approve {
            h.execute_update(TicketWorkflow::approve, input, o).await
        } else {
            h.execute_update(TicketWorkflow::deny, input, o).await
        };
        let (effect, ticket) = self.after_update(ticket_id, &h, out).await?;
        Ok(pb::VoteResponse {
            effect,
            ticket: Some(ticket),
        })
    }

    /// A delegation by `from` (already authenticated).
    pub async fn delegate_as(
        &self,
        from: UserName,
        ticket_id: &str,
        to: UserName,
        until: Timestamp,
        reason: Option<String>,
    ) -> Result<pb::Ticket, Status> {
        let (_, h) = self.handle(ticket_id)?;
        let out = h
            .execute_update(
                TicketWorkflow::delegate,
                DelegateInput {
                    from,
                    to,
                    until,
                    reason,
                },
                WorkflowExecuteUpdateOptions::default(),
            )
            .await;
        let ((), t) = self.after_update(ticket_id, &h, out).await?;
        Ok(t)
    }

    /// The identity-store user with this email, asked of a worker.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserName>, Status> {
        let id = format!("user-lookup-{}", Timestamp::now().as_nanosecond());
        let h = self
            .client
            .start_workflow(
                jit_workflows::UserLookupWorkflow::run,
                email.to_owned(),
                WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            )
            .await
            .map_err(|e| Status::unavailable(format!("asking the worker: {e}")))?;
        tokio::time::timeout(
            Duration::from_secs(30),
            h.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .map_err(|_| Status::deadline_exceeded("the worker did not answer within 30 s"))?
        .map_err(|e| Status::unavailable(format!("the worker could not answer: {e}")))
    }

    /// Authenticates an `authorization` header value (for the HTTP endpoints).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Caller, Status> {
        self.auth.authenticate(header).await
    }

    /// A page of tickets matching `query` (a visibility query over our search attributes).
    async fn list(
        &self,
        query: String,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListTicketsResponse, Status> {
        use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
        let token = decode_hex(page_token)
            .ok_or_else(|| Status::invalid_argument("page_token: not a token we gave out"))?;
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
            next_page_token: encode_hex(&resp.next_page_token),
        })
    }
}

fn encode_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A list row from a visibility record's search attributes.
fn summary(
    e: &temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo,
) -> pb::TicketSummary {
    let attrs = e.search_attributes.as_ref().map(|s| &s.indexed_fields);
    let get = |k: &str| -> Option<serde_json::Value> {
        let p = attrs?.get(k)?;
        serde_json::from_slice(&p.data).ok()
    };
    let text = |k: &str| -> String {
        get(k)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let list = |k: &str| -> Vec<String> {
        match get(k) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s],
            _ => Vec::new(),
        }
    };
    let workflow_id = e
        .execution
        .as_ref()
        .map(|x| x.workflow_id.as_str())
        .unwrap_or_default();
    let status_text = text("JitStatus");
    let status = Phase::from_name(&status_text)
        .map(convert::status)
        .unwrap_or(pb::TicketStatus::Unspecified);
    let expires_at = text("JitExpiresAt")
        .parse::<Timestamp>()
        .ok()
        .map(convert::timestamp);
    pb::TicketSummary {
        ticket_id: workflow_id
            .strip_prefix("ticket-")
            .unwrap_or(workflow_id)
            .to_owned(),
        status: status as i32,
        requester: text("JitRequester"),
        principal: text("JitPrincipal"),
        account_ids: list("JitAccounts"),
        permission_sets: list("JitPermissionSets"),
        requested_at: e.start_time.as_ref().map(|t| prost_types::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        }),
        expires_at,
        pending_approvers: list("JitPendingApprovers"),
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::Ticket, Status>> + Send>>;

/// How often a watch looks at its ticket.
const WATCH_EVERY: Duration = Duration::from_millis(250);

#[tonic::async_trait]
impl TicketService for TicketApi {
    async fn create_ticket(
        &self,
        request: Request<pb::CreateTicketRequest>,
    ) -> Result<Response<pb::CreateTicketResponse>, Status> {
        let caller = self.caller(&request).await?;
        let r = request.into_inner();
        let req = self.request_from(&caller, &r)?;
        let ticket_id = req.ticket_id.to_string();
        let started = self
            .client
            .start_workflow(
                TicketWorkflow::run,
                req.clone().into(),
                start_options(&req, &self.task_queue),
            )
            .await;
        match started {
            Ok(_) => {
                tracing::info!(ticket = %ticket_id, caller = %caller.subject, "ticket created");
                let t = Ticket::new(req, Timestamp::now());
                Ok(Response::new(pb::CreateTicketResponse {
                    ticket: Some(convert::ticket(&t, Timestamp::now())),
                    created: true,
                }))
            }
            Err(WorkflowStartError::AlreadyStarted { .. }) => {
                // A retry, or a request id used twice: the stored request decides.
                let (_, h) = self.handle(&ticket_id)?;
                let t = self.status(&ticket_id, &h).await?;
                if t.request == req {
                    Ok(Response::new(pb::CreateTicketResponse {
                        ticket: Some(convert::ticket(&t, Timestamp::now())),
                        created: false,
                    }))
                } else {
                    Err(Status::already_exists(format!(
                        "request_id: {:?} was already used for another request (ticket {ticket_id})",
                        r.request_id
                    )))
                }
            }
            Err(e) => Err(Status::unavailable(format!("starting the ticket: {e}"))),
        }
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = self.caller(&request).await?;
        let t = self.read(&caller, &request.get_ref().ticket_id).await?;
        Ok(Response::new(t))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        let r = request.into_inner();
        let mut clauses = vec![format!(
            "WorkflowType = '{}'",
            jit_workflows::TICKET_WORKFLOW
        )];
        let status = pb::TicketStatus::try_from(r.status).map_err(|_| {
            Status::invalid_argument(format!("status: {} is not a status", r.status))
        })?;
        if let Some(p) = convert::phase(status) {
            clauses.push(format!("JitStatus = '{}'", p.as_str()));
        }
        for (name, key, v) in [
            ("requester", "JitRequester", &r.requester),
            ("principal", "JitPrincipal", &r.principal),
            ("account_id", "JitAccounts", &r.account_id),
            ("permission_set", "JitPermissionSets", &r.permission_set),
        ] {
            if !v.is_empty() {
                clauses.push(format!("{key} = {}", query_value(name, v)?));
            }
        }
        if !self.is_admin(&user) {
            let me = query_value("subject", user.as_str())?;
            clauses.push(format!(
                "(JitRequester = {me} OR JitPrincipal = {me} OR JitPendingApprovers = {me})"
            ));
        }
        let query = clauses.join(" AND ");
        Ok(Response::new(
            self.list(query, r.page_size, &r.page_token).await?,
        ))
    }

    async fn approve(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.vote(request, true).await
    }

    async fn deny(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.vote(request, false).await
    }

    async fn delegate(
        &self,
        request: Request<pb::DelegateRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = self.caller(&request).await?;
        let from = Self::user(&caller)?;
        let r = request.into_inner();
        let to = UserName::parse_field("to", &r.to).map_err(invalid)?;
        let until = r
            .until
            .as_ref()
            .and_then(convert::from_timestamp)
            .ok_or_else(|| Status::invalid_argument("until: missing or not a valid time"))?;
        let reason = (!r.reason.is_empty()).then_some(r.reason);
        Ok(Response::new(
            self.delegate_as(from, &r.ticket_id, to, until, reason)
                .await?,
        ))
    }

    async fn extend(
        &self,
        request: Request<pb::ExtendRequest>,
    ) -> Result<Response<pb::ExtendResponse>, Status> {
        let caller = self.caller(&request).await?;
        let by = Self::user(&caller)?;
        let r = request.into_inner();
        let (_, h) = self.handle(&r.ticket_id)?;
        let extra = r
            .extra
            .as_ref()
            .map(convert::from_duration)
            .filter(|d| d.is_positive())
            .ok_or_else(|| Status::invalid_argument("extra: missing or not positive"))?;
        let input = ExtendInput {
            by,
            extra,
            reason: (!r.reason.is_empty()).then_some(r.reason),
        };
        let out = h
            .execute_update(
                TicketWorkflow::extend,
                input,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await;
        let (applied, t) = self.after_update(&r.ticket_id, &h, out).await?;
        Ok(Response::new(pb::ExtendResponse {
            applied,
            ticket: Some(t),
        }))
    }

    async fn relinquish(
        &self,
        request: Request<pb::EndRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        self.end(request, "relinquish").await
    }

    async fn revoke(
        &self,
        request: Request<pb::EndRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        self.end(request, "revoke").await
    }

    async fn cancel(
        &self,
        request: Request<pb::EndRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        self.end(request, "cancel").await
    }

    type WatchTicketStream = WatchStream;

    async fn watch_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<Self::WatchTicketStream>, Status> {
        let caller = self.caller(&request).await?;
        let ticket_id = request.into_inner().ticket_id;
        // The first answer also checks the caller may read it.
        let first = self.read(&caller, &ticket_id).await?;
        let api = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let mut last = first.version;
            let mut done = terminal(&first);
            if tx.send(Ok(first)).await.is_err() {
                return;
            }
            while !done {
                tokio::time::sleep(WATCH_EVERY).await;
                let t = match api.read(&caller, &ticket_id).await {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if t.version != last {
                    last = t.version;
                    done = terminal(&t);
                    if tx.send(Ok(t)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_requestable(
        &self,
        request: Request<pb::ListRequestableRequest>,
    ) -> Result<Response<pb::ListRequestableResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        // The worker answers (it holds the directory and AWS); a short workflow carries it.
        let id = format!("catalog-{user}-{}", Timestamp::now().as_nanosecond());
        let h = self
            .client
            .start_workflow(
                CatalogWorkflow::run,
                user,
                WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            )
            .await
            .map_err(|e| Status::unavailable(format!("asking the worker: {e}")))?;
        let catalog = tokio::time::timeout(
            Duration::from_secs(30),
            h.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .map_err(|_| Status::deadline_exceeded("the worker did not answer within 30 s"))?
        .map_err(|e| Status::unavailable(format!("the worker could not answer: {e}")))?;
        Ok(Response::new(pb::ListRequestableResponse {
            targets: catalog
                .targets
                .into_iter()
                .map(|e| pb::RequestableTarget {
                    account_id: e.account_id,
                    account_name: e.account_name,
                    permission_set: e.permission_set,
                    rule: e.rule,
                    plan: e.plan,
                })
                .collect(),
            bundles: catalog.bundles,
        }))
    }

    async fn list_pending_approvals(
        &self,
        request: Request<pb::ListPendingApprovalsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        let r = request.into_inner();
        let query = format!(
            "WorkflowType = '{}' AND ExecutionStatus = 'Running' AND JitPendingApprovers = {}",
            jit_workflows::TICKET_WORKFLOW,
            query_value("subject", user.as_str())?
        );
        Ok(Response::new(
            self.list(query, r.page_size, &r.page_token).await?,
        ))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let caller = self.caller(&request).await?;
        Ok(Response::new(pb::WhoAmIResponse {
            may_act_for: self.policy.current().acts_for(&caller.subject),
            subject: caller.subject,
            authenticated_by: caller.by.to_owned(),
        }))
    }
}

fn terminal(t: &pb::Ticket) -> bool {
    pb::TicketStatus::try_from(t.status)
        .ok()
        .and_then(convert::phase)
        .is_some_and(Phase::is_terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_the_status_a_caller_can_act_on() {
        let code = |m: &str| refusal(m).code();
        assert_eq!(
            code("not allowed: bob is the requester of this ticket and cannot approve or deny it"),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code("not allowed: the ticket is Active, not waiting for approval"),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            code("the ticket is PendingApproval; only active access can be extended"),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            code("an extension of 30s is too short: at least 1 minute"),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            code("extending by 9h would make 17h in all; plan standard allows at most 16h"),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code("not allowed: carol is no longer a member of sre (the approvers of step sre)"),
            tonic::Code::PermissionDenied
        );
    }

    #[test]
    fn request_ids_name_one_ticket_per_caller() {
        let a = ticket_id_for("svc", "req-1");
        assert_eq!(a, ticket_id_for("svc", "req-1"));
        assert_ne!(a, ticket_id_for("svc", "req-2"));
        assert_ne!(a, ticket_id_for("other", "req-1"));
        assert!(check_request_id("0b6f-uuid_like").is_ok());
        assert!(check_request_id("").is_err() && check_request_id("a b").is_err());
        assert_eq!(decode_hex(&encode_hex(&[0, 1, 254])), Some(vec![0, 1, 254]));
        assert_eq!(decode_hex("zz"), None);
    }
}
