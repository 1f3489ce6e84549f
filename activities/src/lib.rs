//! The activities of jit: every decision that needs the world.
//!
//! [`TicketActivities`] holds the clients (the Identity Center gateway, the request limits);
//! each activity is one method. Expected outcomes are *values* ([`Evaluation::Rejected`],
//! [`GrantOutcome::Failed`]) so the workflow never parses error strings; transient failures
//! are errors the retry policy retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jit_aws::{AwsError, IdentityCenter, Progress};
use std::collections::{BTreeMap, BTreeSet};

use jit_config::access::AccessRules;
use jit_domain::{
    AccountId, ApprovalPlan, ApprovalStep, AssignmentRef, Escalation, Evaluated, Limits,
    PermissionSetName, Principal, PrincipalType, ResolvedTarget, Target, TicketRequest, UserName,
};
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// What the evaluate step decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evaluation {
    /// The request resolves to real AWS ids and an approval plan.
    Resolved(Box<Evaluated>),
    /// The request cannot be honoured; the reason names what is wrong.
    Rejected { reason: String },
}

/// What the grant step achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantOutcome {
    /// Created (or found created by an earlier attempt), confirmed by listing.
    Granted,
    /// AWS refused for good (asynchronous FAILED with its reason, validation, access denied).
    Failed { reason: String },
}

/// Something to tell people about a ticket (chat integrations deliver these later; for now
/// the worker logs them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub ticket_id: String,
    /// `reminder`, `escalation`, ...
    pub kind: String,
    pub to: Vec<UserName>,
    pub text: String,
}

/// The activities of a ticket.
#[derive(Debug)]
pub struct TicketActivities {
    aws: Arc<IdentityCenter>,
    limits: Limits,
    access: Arc<AccessRules>,
}

impl TicketActivities {
    pub fn new(aws: Arc<IdentityCenter>, limits: Limits, access: Arc<AccessRules>) -> Self {
        Self {
            aws,
            limits,
            access,
        }
    }
}

/// `Ok(Err(reason))`: the request is rejected; `Err(_)`: AWS trouble.
type Check<T> = Result<Result<T, String>, AwsError>;

impl TicketActivities {
    /// Group members by group name, looked up once per evaluation.
    async fn members(
        &self,
        cache: &mut BTreeMap<String, Option<BTreeSet<UserName>>>,
        group: &str,
    ) -> Result<Option<BTreeSet<UserName>>, AwsError> {
        if let Some(m) = cache.get(group) {
            return Ok(m.clone());
        }
        let m = self.aws.group_members(group).await?;
        cache.insert(group.to_owned(), m.clone());
        Ok(m)
    }

    async fn check_on_behalf(
        &self,
        req: &TicketRequest,
        cache: &mut BTreeMap<String, Option<BTreeSet<UserName>>>,
    ) -> Check<()> {
        if req.principal.user() == Some(&req.requester) {
            return Ok(Ok(()));
        }
        for rule in &self.access.on_behalf {
            let mut requester_ok = false;
            for g in &rule.requesters {
                if self
                    .members(cache, g)
                    .await?
                    .is_some_and(|m| m.contains(&req.requester))
                {
                    requester_ok = true;
                    break;
                }
            }
            if !requester_ok {
                continue;
            }
            for g in &rule.principals {
                let ok = match &req.principal {
                    Principal::Group(name) => name.as_str() == g,
                    Principal::User(u) => {
                        self.members(cache, g).await?.is_some_and(|m| m.contains(u))
                    }
                };
                if ok {
                    return Ok(Ok(()));
                }
            }
        }
        Ok(Err(format!(
            "principal: {} may not ask for access on behalf of {} (no on-behalf rule allows it)",
            req.requester, req.principal
        )))
    }

    /// The targets asked for, explicit and from the bundle, as (target, account name).
    async fn targets(&self, req: &TicketRequest) -> Check<Vec<(Target, String)>> {
        let accounts = self.aws.accounts().await?;
        let name_of = |id: &AccountId| {
            accounts
                .iter()
                .find(|(a, _)| a == id)
                .map(|(_, n)| n.clone())
        };
        let mut out: Vec<(Target, String)> = Vec::new();
        for t in &req.targets {
            let Some(name) = name_of(&t.account) else {
                return Ok(Err(format!(
                    "account: {} is not an account of this organization",
                    t.account
                )));
            };
            out.push((t.clone(), name));
        }
        if let Some(b) = &req.bundle {
            let Some(items) = self.access.bundles.get(b.as_str()) else {
                return Ok(Err(format!("bundle: there is no bundle called {b}")));
            };
            for item in items {
                let Some((id, name)) = accounts
                    .iter()
                    .find(|(id, name)| id.as_str() == item.account || *name == item.account)
                else {
                    return Ok(Err(format!(
                        "bundle {b}: account {} does not exist",
                        item.account
                    )));
                };
                let permission_set = match PermissionSetName::parse(&item.permission_set) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(format!("bundle {b}: {e}"))),
                };
                let t = Target {
                    account: id.clone(),
                    permission_set,
                };
                if !out.iter().any(|(o, _)| *o == t) {
                    out.push((t, name.clone()));
                }
            }
        }
        Ok(Ok(out))
    }

    async fn plan(
        &self,
        targets: &[(Target, String)],
        cache: &mut BTreeMap<String, Option<BTreeSet<UserName>>>,
    ) -> Check<ApprovalPlan> {
        let keys: Vec<(String, String, String)> = targets
            .iter()
            .map(|(t, name)| {
                (
                    t.account.to_string(),
                    name.clone(),
                    t.permission_set.to_string(),
                )
            })
            .collect();
        let Some(rule) = self.access.plan_for(
            keys.iter()
                .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())),
        ) else {
            return Ok(Err("targets: no approval plan covers these targets".into()));
        };
        let mut steps = Vec::new();
        for s in &rule.steps {
            let mut approvers = BTreeSet::new();
            for u in &s.users {
                if let Ok(u) = UserName::parse(u) {
                    approvers.insert(u);
                }
            }
            for g in &s.groups {
                match self.members(cache, g).await? {
                    Some(m) => approvers.extend(m),
                    None => {
                        return Ok(Err(format!(
                            "plan {}: approver group {g} does not exist",
                            rule.name
                        )));
                    }
                }
            }
            steps.push(ApprovalStep {
                name: s.name.clone(),
                approvers,
                quorum: s.quorum,
            });
        }
        let escalation = match &rule.escalation {
            None => None,
            Some(e) => {
                let mut approvers = BTreeSet::new();
                for g in &e.groups {
                    match self.members(cache, g).await? {
                        Some(m) => approvers.extend(m),
                        None => {
                            return Ok(Err(format!(
                                "plan {}: escalation group {g} does not exist",
                                rule.name
                            )));
                        }
                    }
                }
                Some(Escalation {
                    after: e.after,
                    name: e.groups.join(", "),
                    approvers,
                })
            }
        };
        Ok(Ok(ApprovalPlan {
            name: rule.name.clone(),
            steps,
            max_duration: rule.max_duration,
            max_total: rule.max_total,
            extension_needs_approval: rule.extension_needs_approval,
            approval_timeout: rule.approval_timeout.min(self.limits.max_approval_timeout),
            break_glass_ratify_within: rule.break_glass_ratify_within,
            remind_every: rule.remind_every,
            escalation,
            admins: self
                .access
                .admins
                .iter()
                .filter_map(|a| UserName::parse(a).ok())
                .collect(),
        }))
    }
}

/// The standing delegations in force now of each of `approvers`, read from their
/// `delegation-<user>` entity workflows (an approver without one has none). A query that
/// fails is logged and skipped: a missing delegation only means the approver votes in person.
async fn standing_delegations(
    client: &temporalio_client::Client,
    approvers: &BTreeSet<UserName>,
) -> Vec<jit_domain::Delegation> {
    use temporalio_client::{UntypedQuery, UntypedWorkflow, WorkflowQueryOptions};
    use temporalio_common::data_converters::RawValue;
    let now = jiff::Timestamp::now();
    let mut out = Vec::new();
    for a in approvers {
        let id = jit_domain::DelegationEntity::workflow_id(a);
        let handle = client.get_workflow_handle::<UntypedWorkflow>(id.clone());
        // Only a running entity holds delegations (and only a running one has a worker to
        // answer the query without delay).
        match handle.describe(Default::default()).await {
            Ok(d) if d.status() == temporalio_client::WorkflowExecutionStatus::Running => {}
            _ => continue,
        }
        let query = handle.query(
            UntypedQuery::<UntypedWorkflow>::new("delegations"),
            RawValue::new(vec![]),
            WorkflowQueryOptions::default(),
        );
        let raw = match tokio::time::timeout(std::time::Duration::from_secs(5), query).await {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => {
                tracing::warn!(workflow_id = %id, error = %e, "standing delegations not readable");
                continue;
            }
            Err(_) => {
                tracing::warn!(workflow_id = %id, "standing delegations: query timed out");
                continue;
            }
        };
        let Some(p) = raw.payloads.first() else {
            continue;
        };
        match serde_json::from_slice::<Vec<jit_domain::StandingDelegation>>(&p.data) {
            Ok(list) => {
                let entity = jit_domain::DelegationEntity {
                    owner: a.clone(),
                    delegations: list,
                };
                out.extend(entity.active(now));
            }
            Err(e) => {
                tracing::warn!(workflow_id = %id, error = %e, "unreadable standing delegations")
            }
        }
    }
    out
}

/// Retryable AWS errors go back to Temporal's retry policy; final ones end the attempt
/// without retries.
fn to_activity_error(e: AwsError) -> ActivityError {
    if e.is_retryable() {
        ActivityError::from(anyhow::anyhow!(e.to_string()))
    } else {
        ActivityError::application(ApplicationFailure::non_retryable(e.to_string()))
    }
}

/// Heartbeats through the activity context. Remembers the asynchronous request id so that a
/// retry resumes polling it (heartbeat details survive retries).
struct Heartbeat {
    ctx: ActivityContext,
    request_id: Arc<Mutex<Option<String>>>,
}

impl Heartbeat {
    fn new(ctx: &ActivityContext) -> Self {
        let resumed: Option<String> = ctx.heartbeat_details().deserialize().ok().flatten();
        Self {
            ctx: ctx.clone(),
            request_id: Arc::new(Mutex::new(resumed)),
        }
    }

    fn resume(&self) -> Option<String> {
        self.request_id.lock().ok().and_then(|g| g.clone())
    }

    async fn beat(&self) {
        let id = self.resume();
        if let Err(e) = self.ctx.record_heartbeat(id).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }

    /// Runs `work`, heartbeating every second meanwhile, so a dead worker is noticed within
    /// the heartbeat timeout even while an AWS call hangs.
    async fn around<T>(&self, work: impl Future<Output = T>) -> T {
        let ticker = async {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.beat().await;
            }
        };
        tokio::select! {
            out = work => out,
            () = ticker => unreachable!("the ticker never ends"),
        }
    }
}

impl Progress for Heartbeat {
    async fn request_started(&self, request_id: &str) {
        if let Ok(mut g) = self.request_id.lock() {
            *g = Some(request_id.to_owned());
        }
        self.beat().await;
    }

    async fn still_waiting(&self, _request_id: &str) {
        self.beat().await;
    }
}

impl TicketActivities {
    async fn evaluate_inner(
        &self,
        req: &TicketRequest,
        client: Option<&temporalio_client::Client>,
    ) -> Check<Evaluated> {
        if let Err(e) = req.validate(&self.limits) {
            return Ok(Err(e.to_string()));
        }
        let aws = &self.aws;
        let instance = aws.instance().await?.clone();
        if aws.user_id(&req.requester).await?.is_none() {
            return Ok(Err(format!(
                "requester: {} is not a user of the identity store",
                req.requester
            )));
        }
        let (principal_type, principal_id) = match &req.principal {
            Principal::User(u) => match aws.user_id(u).await? {
                Some(id) => (PrincipalType::User, id),
                None => {
                    return Ok(Err(format!(
                        "principal: {u} is not a user of the identity store"
                    )));
                }
            },
            Principal::Group(g) => match aws.group_id(g.as_str()).await? {
                Some(id) => (PrincipalType::Group, id),
                None => {
                    return Ok(Err(format!(
                        "principal: {g} is not a group of the identity store"
                    )));
                }
            },
        };
        let mut cache = BTreeMap::new();
        if let Err(r) = self.check_on_behalf(req, &mut cache).await? {
            return Ok(Err(r));
        }
        let targets = match self.targets(req).await? {
            Ok(t) => t,
            Err(r) => return Ok(Err(r)),
        };
        let mut resolved = Vec::new();
        for (t, account_name) in &targets {
            let Some(permission_set_arn) = aws.permission_set_arn(&t.permission_set).await? else {
                return Ok(Err(format!(
                    "permission_set: there is no permission set called {}",
                    t.permission_set
                )));
            };
            resolved.push(ResolvedTarget {
                target: t.clone(),
                account_name: account_name.clone(),
                assignment: AssignmentRef {
                    instance_arn: instance.arn.clone(),
                    account: t.account.clone(),
                    permission_set_arn,
                    principal_type,
                    principal_id: principal_id.clone(),
                },
                standing: false,
            });
        }
        let plan = match self.plan(&targets, &mut cache).await? {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        let approvers: BTreeSet<UserName> = plan
            .steps
            .iter()
            .flat_map(|s| s.approvers.iter().cloned())
            .collect();
        let delegations = match client {
            Some(c) => standing_delegations(c, &approvers).await,
            None => Vec::new(),
        };
        Ok(Ok(Evaluated {
            plan,
            targets: resolved,
            delegations,
        }))
    }
}

#[activities]
impl TicketActivities {
    /// Validates the request and resolves it: requester and principal in the identity store,
    /// the on-behalf rule when they differ, targets (explicit and from the bundle) in the
    /// organization, permission sets, and the approval plan with its approvers.
    #[activity(name = "evaluate")]
    pub async fn evaluate(
        self: Arc<Self>,
        ctx: ActivityContext,
        req: TicketRequest,
    ) -> Result<Evaluation, ActivityError> {
        let client = ctx.client();
        match self
            .evaluate_inner(&req, Some(&client))
            .await
            .map_err(to_activity_error)?
        {
            Ok(e) => Ok(Evaluation::Resolved(Box::new(e))),
            Err(reason) => Ok(Evaluation::Rejected { reason }),
        }
    }

    /// Tells people about a ticket. Idempotent per ticket and event (the workflow gives each
    /// notification its own activity id).
    #[activity(name = "notify")]
    pub async fn notify(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: Notification,
    ) -> Result<(), ActivityError> {
        let to: Vec<&str> = n.to.iter().map(UserName::as_str).collect();
        tracing::info!(ticket = %n.ticket_id, kind = %n.kind, to = ?to, "notify: {}", n.text);
        Ok(())
    }

    /// Whether the assignment exists now. Called before the stack records intent: an
    /// assignment that exists then is standing access and never the ticket's.
    #[activity(name = "assignment_exists")]
    pub async fn assignment_exists(
        self: Arc<Self>,
        _ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<bool, ActivityError> {
        self.aws
            .assignment_exists(&a)
            .await
            .map_err(to_activity_error)
    }

    /// Creates the assignment, polls until AWS settles, verifies by listing.
    #[activity(name = "grant")]
    pub async fn grant(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<GrantOutcome, ActivityError> {
        let hb = Heartbeat::new(&ctx);
        let resume = hb.resume();
        match hb
            .around(self.aws.create_assignment(&a, resume.as_deref(), &hb))
            .await
        {
            Ok(()) => Ok(GrantOutcome::Granted),
            Err(e) if e.is_retryable() => Err(to_activity_error(e)),
            Err(e) => Ok(GrantOutcome::Failed {
                reason: e.to_string(),
            }),
        }
    }

    /// Deletes the assignment, polls until AWS settles, verifies it is gone. Every failure
    /// is retryable here: a revocation is never abandoned.
    #[activity(name = "revoke")]
    pub async fn revoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<(), ActivityError> {
        let hb = Heartbeat::new(&ctx);
        let resume = hb.resume();
        hb.around(self.aws.delete_assignment(&a, resume.as_deref(), &hb))
            .await
            .map_err(|e| ActivityError::from(anyhow::anyhow!(e.to_string())))
    }
}
