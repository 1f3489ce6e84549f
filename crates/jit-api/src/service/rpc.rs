//! The RPCs of `jit.v1.TicketService`, each: authenticate, validate, act on Temporal.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use jiff::Timestamp;
use jit_contract::audit::{self, SessionAuditInput, SessionEventsInput};
use jit_contract::catalog;
use jit_contract::search_attributes as sa;
use jit_contract::ticket::{self, ExtendInput};
use jit_domain::{AccountId, PermissionSetName, Phase, Ticket};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_server::TicketService;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowStartOptions};
use tonic::{Request, Response, Status};

use super::errors::field;
use super::list::query_value;
use super::{EndKind, TicketApi};
use crate::{convert, door};

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchTicketResponse, Status>> + Send>>;

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
        self.refuse_what_cannot_be(&req).await?;
        let ticket_id = req.ticket_id.to_string();
        let started = self
            .client
            .start_workflow(
                ticket::Workflow,
                req.clone().into(),
                jit_temporal::ticket_start_options(&req, &self.task_queue),
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
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        let caller = self.caller(&request).await?;
        let t = self.read(&caller, &request.get_ref().ticket_id).await?;
        Ok(Response::new(pb::GetTicketResponse { ticket: Some(t) }))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        let r = request.into_inner();
        let mut clauses = vec![format!("WorkflowType = '{}'", ticket::Workflow::NAME)];
        let status = pb::TicketStatus::try_from(r.status).map_err(|_| {
            crate::service::errors::invalid_argument(format!(
                "status: {} is not a status",
                r.status
            ))
        })?;
        if let Some(p) = jit_proto::status::phase(status) {
            clauses.push(format!("{} = '{}'", sa::STATUS.name(), p.as_str()));
        }
        // Each filter is checked by its field's rule first: what reaches the query is a
        // valid name, and then quoted.
        if !r.requester.is_empty() {
            let v = door::user("requester", &r.requester)?;
            clauses.push(format!(
                "{} = {}",
                sa::REQUESTER.name(),
                query_value("requester", v.as_str())?
            ));
        }
        if !r.principal.is_empty() {
            let v = match r.principal.strip_prefix("group:") {
                Some(g) => format!("group:{}", door::group("principal", g)?),
                None => door::user("principal", &r.principal)?.to_string(),
            };
            clauses.push(format!(
                "{} = {}",
                sa::PRINCIPAL.name(),
                query_value("principal", &v)?
            ));
        }
        if !r.account_id.is_empty() {
            let v = AccountId::parse(&r.account_id).map_err(|e| field("account_id", e))?;
            clauses.push(format!(
                "{} = {}",
                sa::ACCOUNTS.name(),
                query_value("account_id", v.as_str())?
            ));
        }
        if !r.permission_set.is_empty() {
            let v = PermissionSetName::parse(&r.permission_set)
                .map_err(|e| field("permission_set", e))?;
            clauses.push(format!(
                "{} = {}",
                sa::PERMISSION_SETS.name(),
                query_value("permission_set", v.as_str())?
            ));
        }
        if !self.is_admin(&user) {
            let me = query_value("subject", user.as_str())?;
            clauses.push(format!(
                "({} = {me} OR {} = {me} OR {} = {me})",
                sa::REQUESTER.name(),
                sa::PRINCIPAL.name(),
                sa::PENDING_APPROVERS.name()
            ));
        }
        let query = clauses.join(" AND ");
        let (tickets, next_page_token) = self.list(query, r.page_size, &r.page_token).await?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn approve_ticket(
        &self,
        request: Request<pb::ApproveTicketRequest>,
    ) -> Result<Response<pb::ApproveTicketResponse>, Status> {
        let r = request.get_ref();
        let v = self.vote(&request, &r.ticket_id, &r.comment, true).await?;
        Ok(Response::new(pb::ApproveTicketResponse {
            effect: v.effect,
            ticket: Some(v.ticket),
        }))
    }

    async fn deny_ticket(
        &self,
        request: Request<pb::DenyTicketRequest>,
    ) -> Result<Response<pb::DenyTicketResponse>, Status> {
        let r = request.get_ref();
        let v = self.vote(&request, &r.ticket_id, &r.comment, false).await?;
        Ok(Response::new(pb::DenyTicketResponse {
            effect: v.effect,
            ticket: Some(v.ticket),
        }))
    }

    async fn delegate_approval(
        &self,
        request: Request<pb::DelegateApprovalRequest>,
    ) -> Result<Response<pb::DelegateApprovalResponse>, Status> {
        let caller = self.caller(&request).await?;
        let from = Self::user(&caller)?;
        let r = request.into_inner();
        let to = door::user("delegate", &r.delegate)?;
        let until = door::until("expire_time", r.expire_time.as_ref(), Timestamp::now())?;
        let reason = door::note("reason", &r.reason)?;
        let t = self
            .delegate_as(from, &r.ticket_id, to, until, reason, None)
            .await?;
        Ok(Response::new(pb::DelegateApprovalResponse {
            ticket: Some(t),
        }))
    }

    async fn extend_ticket(
        &self,
        request: Request<pb::ExtendTicketRequest>,
    ) -> Result<Response<pb::ExtendTicketResponse>, Status> {
        let caller = self.caller(&request).await?;
        let by = Self::user(&caller)?;
        let r = request.into_inner();
        let (_, h) = self.handle(&r.ticket_id)?;
        let extra = r
            .extra_duration
            .as_ref()
            .ok_or_else(|| door::invalid("extra_duration", "missing"))
            .and_then(|d| door::duration("extra_duration", d))?;
        if !extra.is_positive() {
            return Err(door::invalid(
                "extra_duration",
                format!("{extra:#} is not positive"),
            ));
        }
        let input = ExtendInput {
            by,
            extra,
            reason: door::note("reason", &r.reason)?,
        };
        let out = h
            .execute_update(
                ticket::Extend,
                input,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await;
        let (applied, t) = self.after_update(&r.ticket_id, &h, out).await?;
        Ok(Response::new(pb::ExtendTicketResponse {
            applied,
            ticket: Some(t),
        }))
    }

    async fn relinquish_ticket(
        &self,
        request: Request<pb::RelinquishTicketRequest>,
    ) -> Result<Response<pb::RelinquishTicketResponse>, Status> {
        let r = request.get_ref();
        let t = self
            .end(&request, &r.ticket_id, &r.reason, EndKind::Relinquish)
            .await?;
        Ok(Response::new(pb::RelinquishTicketResponse {
            ticket: Some(t),
        }))
    }

    async fn revoke_ticket(
        &self,
        request: Request<pb::RevokeTicketRequest>,
    ) -> Result<Response<pb::RevokeTicketResponse>, Status> {
        let r = request.get_ref();
        let t = self
            .end(&request, &r.ticket_id, &r.reason, EndKind::Revoke)
            .await?;
        Ok(Response::new(pb::RevokeTicketResponse { ticket: Some(t) }))
    }

    async fn cancel_ticket(
        &self,
        request: Request<pb::CancelTicketRequest>,
    ) -> Result<Response<pb::CancelTicketResponse>, Status> {
        let r = request.get_ref();
        let t = self
            .end(&request, &r.ticket_id, &r.reason, EndKind::Cancel)
            .await?;
        Ok(Response::new(pb::CancelTicketResponse { ticket: Some(t) }))
    }

    type WatchTicketStream = WatchStream;

    async fn watch_ticket(
        &self,
        request: Request<pb::WatchTicketRequest>,
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
            let answer = |t| pb::WatchTicketResponse { ticket: Some(t) };
            if tx.send(Ok(answer(first))).await.is_err() {
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
                    if tx.send(Ok(answer(t))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_requestable_targets(
        &self,
        request: Request<pb::ListRequestableTargetsRequest>,
    ) -> Result<Response<pb::ListRequestableTargetsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let me = Self::user(&caller)?;
        let user = match request.get_ref().user.as_str() {
            "" => me,
            other => {
                let user = door::user("user", other)?;
                if user != me {
                    self.admin_only(&me, "what others may request")?;
                }
                user
            }
        };
        // The worker answers (it holds the directory and AWS); a short workflow carries it.
        let id = format!("catalog-{user}-{}", Timestamp::now().as_nanosecond());
        let catalog = crate::ask::ask_worker(
            &self.client,
            catalog::Workflow,
            user,
            WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            Duration::from_secs(30),
        )
        .await?;
        Ok(Response::new(pb::ListRequestableTargetsResponse {
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
            plans: catalog.plans.iter().map(convert::plan).collect(),
        }))
    }

    async fn list_pending_approvals(
        &self,
        request: Request<pb::ListPendingApprovalsRequest>,
    ) -> Result<Response<pb::ListPendingApprovalsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        let r = request.into_inner();
        let query = format!(
            "WorkflowType = '{}' AND ExecutionStatus = 'Running' AND {} = {}",
            ticket::Workflow::NAME,
            sa::PENDING_APPROVERS.name(),
            query_value("subject", user.as_str())?
        );
        let (tickets, next_page_token) = self.list(query, r.page_size, &r.page_token).await?;
        Ok(Response::new(pb::ListPendingApprovalsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn get_session_events(
        &self,
        request: Request<pb::GetSessionEventsRequest>,
    ) -> Result<Response<pb::GetSessionEventsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        let r = request.into_inner();
        let limit = match r.page_size {
            0 => 100,
            n @ 1..=500 => usize::try_from(n).unwrap_or(100),
            n => {
                return Err(crate::service::errors::invalid_argument(format!(
                    "page_size: {n} is not between 1 and 500"
                )));
            }
        };
        let (_, h) = self.handle(&r.ticket_id)?;
        let t = self.status(&r.ticket_id, &h).await?;
        // The approvers and admins watch what a person does; a party reads it in the ticket
        // once it ended.
        let approver = t.plan.as_ref().is_some_and(|p| {
            p.admins.contains(&user) || p.steps.iter().any(|s| s.approvers.contains(&user))
        });
        if !approver && !self.is_admin(&user) {
            return Err(Status::permission_denied(format!(
                "{user} is neither an approver nor an admin of ticket {}",
                r.ticket_id
            )));
        }
        let Some(from) = t.active_since else {
            return Err(Status::failed_precondition(format!(
                "ticket {}: access was never active, so there are no sessions",
                r.ticket_id
            )));
        };
        let targets = t
            .targets
            .iter()
            .filter(|x| !x.standing)
            .map(|x| (x.target.account.clone(), x.target.permission_set.clone()))
            .collect();
        let input = SessionEventsInput {
            audit: SessionAuditInput {
                ticket_id: t.request.ticket_id.to_string(),
                principal: t.request.principal.clone(),
                targets,
                from,
                ended: t.ended_at.unwrap_or_else(Timestamp::now),
                write_events: false,
            },
            limit,
        };
        let id = format!(
            "session-events-{}-{}",
            t.request.ticket_id,
            Timestamp::now().as_nanosecond()
        );
        let got = crate::ask::ask_worker(
            &self.client,
            audit::EventsWorkflow,
            input,
            WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            Duration::from_secs(120),
        )
        .await?;
        Ok(Response::new(pb::GetSessionEventsResponse {
            summary: Some(convert::session(&got.summary)),
            events: got.events,
        }))
    }

    async fn get_reconcile_report(
        &self,
        request: Request<pb::GetReconcileReportRequest>,
    ) -> Result<Response<pb::GetReconcileReportResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        self.admin_only(&user, "the reconcile report")?;
        Ok(Response::new(pb::GetReconcileReportResponse {
            report: self.last_reconcile().await?,
        }))
    }

    async fn list_leases(
        &self,
        request: Request<pb::ListLeasesRequest>,
    ) -> Result<Response<pb::ListLeasesResponse>, Status> {
        let caller = self.caller(&request).await?;
        let user = Self::user(&caller)?;
        self.admin_only(&user, "the leases")?;
        let limit = match request.get_ref().page_size {
            0 => 100,
            n @ 1..=500 => n,
            n => {
                return Err(crate::service::errors::invalid_argument(format!(
                    "page_size: {n} is not between 1 and 500"
                )));
            }
        };
        Ok(Response::new(pb::ListLeasesResponse {
            leases: self.leases(limit).await?,
        }))
    }

    async fn explain_access(
        &self,
        request: Request<pb::ExplainAccessRequest>,
    ) -> Result<Response<pb::ExplainAccessResponse>, Status> {
        let caller = self.caller(&request).await?;
        let me = Self::user(&caller)?;
        let r = request.into_inner();
        let who = match r.user.as_str() {
            "" => me.clone(),
            other => door::user("user", other)?,
        };
        if who != me {
            self.admin_only(&me, "why others may or may not")?;
        }
        let approve = match r.action.as_str() {
            "" | "request" => false,
            "approve" => true,
            other => {
                return Err(door::invalid(
                    "action",
                    format!("{} is not request or approve", jit_domain::quoted(other)),
                ));
            }
        };
        let requester = match (approve, r.requester.as_str()) {
            (true, "") => {
                return Err(door::invalid(
                    "requester",
                    "missing: whose request is voted on?",
                ));
            }
            (true, who) => Some(door::user("requester", who)?),
            (false, _) => None,
        };
        if r.account.is_empty() {
            return Err(door::invalid("account", "missing: an account id or name"));
        }
        let permission_set = jit_domain::PermissionSetName::parse(&r.permission_set)
            .map_err(|e| door::invalid("permission_set", e.problem))?;
        let id = format!("explain-{me}-{}", Timestamp::now().as_nanosecond());
        let answer = crate::ask::ask_worker(
            &self.client,
            catalog::ExplainWorkflow,
            catalog::ExplainQuestion {
                who,
                approve,
                requester,
                account: r.account,
                permission_set: permission_set.to_string(),
            },
            WorkflowStartOptions::new(self.task_queue.clone(), id).build(),
            Duration::from_secs(30),
        )
        .await?;
        Ok(Response::new(pb::ExplainAccessResponse {
            allowed: answer.allowed,
            decisions: answer.decisions,
            plan: answer.plan.as_ref().map(convert::plan),
        }))
    }

    async fn get_caller(
        &self,
        request: Request<pb::GetCallerRequest>,
    ) -> Result<Response<pb::GetCallerResponse>, Status> {
        let caller = self.caller(&request).await?;
        Ok(Response::new(pb::GetCallerResponse {
            may_act_for: self.policy.current().acts_for(&caller.subject),
            subject: caller.subject,
            authenticated_by: caller.by.to_owned(),
        }))
    }
}

fn terminal(t: &pb::Ticket) -> bool {
    pb::TicketStatus::try_from(t.status)
        .ok()
        .and_then(jit_proto::status::phase)
        .is_some_and(Phase::is_terminal)
}
