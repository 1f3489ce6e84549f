//! The activities of jit: every decision that needs the world.
//!
//! [`TicketActivities`] holds the clients (the Identity Center gateway, the directory cache,
//! the policy in force, the request limits); each activity is one method. Policy decisions
//! happen here, never in workflow code: at request time ([`TicketActivities::evaluate`]), for
//! each vote ([`TicketActivities::check_voter`]) and again when it matters
//! ([`TicketActivities::recheck`] at a scheduled start and on extension). Expected outcomes
//! are *values* ([`Evaluation::Rejected`], [`GrantOutcome::Failed`]) so the workflow never
//! parses error strings; transient failures are errors the retry policy retries.
//!
//! Every activity implements its definition in `jit_contract::activity`
//! (`#[activity(definition = ..)]`): the name comes from there and the compiler checks the
//! input and output types.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::SignedDuration;
use jit_aws::{AwsError, IdentityCenter};
use jit_domain::{
    AccountId, AssignmentRef, Evaluated, Hints, Limits, PermissionSetName, PolicyRecord, Principal,
    PrincipalType, ResolvedTarget, Target, TicketRequest, UserName, VoterCheck,
};
use jit_policy::{PolicyStore, TargetKey};

pub mod audit;
pub mod chat;
pub mod directory;
pub mod lease;
pub mod metrics;
mod support;

pub use audit::AuditActivities;
pub use chat::Chat;
pub use directory::DirectoryCache;
use jit_contract::activity;
use jit_contract::catalog::{Catalog, CatalogEntry, ExplainAnswer, ExplainQuestion, Known};
use jit_contract::chat::Announcement;
use jit_contract::ticket::{Checked, Evaluation, GrantOutcome, Notification, Recheck};
pub use lease::LeaseActivities;
pub use metrics::{ActivityMetrics, NoMetrics};
use support::{Heartbeat, to_activity_error, trace_id};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// The activities of a ticket.
#[derive(Debug)]
pub struct TicketActivities {
    aws: Arc<IdentityCenter>,
    directory: Arc<DirectoryCache>,
    policy: Arc<PolicyStore>,
    limits: Limits,
    chat: Chat,
    /// What the worker keeps of an ended ticket (told to each ticket by its evaluation).
    audit: Option<jit_domain::AuditHints>,
}

impl TicketActivities {
    pub fn new(
        aws: Arc<IdentityCenter>,
        directory: Arc<DirectoryCache>,
        policy: Arc<PolicyStore>,
        limits: Limits,
        chat: &jit_config::ChatSettings,
    ) -> Self {
        Self {
            chat: Chat::new(Arc::clone(&aws), chat),
            aws,
            directory,
            policy,
            limits,
            audit: None,
        }
    }

    /// What this worker keeps of an ended ticket: its audit record, its session audit.
    pub fn with_audit(mut self, audit: Option<&jit_config::AuditConfig>) -> Self {
        self.audit = audit
            .map(|a| jit_domain::AuditHints {
                export: a.bucket.is_some(),
                session_after: a.trail.as_ref().map(|t| t.delay),
            })
            .filter(|h| h.export || h.session_after.is_some());
        self
    }

    /// Reports chat deliveries to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn ActivityMetrics>) -> Self {
        self.chat = self.chat.with_metrics(metrics);
        self
    }
}

/// `Ok(Err(reason))`: the request is rejected; `Err(_)`: AWS trouble.
type Check<T> = Result<Result<T, String>, AwsError>;

impl TicketActivities {
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
            let Some(items) = self.policy.current().rules().bundle_targets(b.as_str()) else {
                return Ok(Err(format!("bundle: there is no bundle called {b}")));
            };
            for item in &items {
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
}

/// The standing delegations in force now of each of `approvers`, read from their
/// `delegation-<user>` entity workflows (an approver without one has none). A query that
/// fails is logged and skipped: a missing delegation only means the approver votes in person.
async fn standing_delegations(
    client: &temporalio_client::Client,
    approvers: &BTreeSet<UserName>,
) -> Vec<jit_domain::Delegation> {
    use jit_contract::delegation;
    use temporalio_client::WorkflowQueryOptions;
    let now = jiff::Timestamp::now();
    let mut out = Vec::new();
    for a in approvers {
        let id = jit_domain::DelegationEntity::workflow_id(a);
        let handle = client.get_workflow_handle::<delegation::Workflow>(id.clone());
        // Only a running entity holds delegations (and only a running one has a worker to
        // answer the query without delay).
        match handle.describe(Default::default()).await {
            Ok(d) if d.status() == temporalio_client::WorkflowExecutionStatus::Running => {}
            _ => continue,
        }
        let query = handle.query(delegation::Delegations, (), WorkflowQueryOptions::default());
        match tokio::time::timeout(std::time::Duration::from_secs(5), query).await {
            Ok(Ok(list)) => {
                let entity = jit_domain::DelegationEntity {
                    owner: a.clone(),
                    delegations: list,
                };
                out.extend(entity.active(now));
            }
            Ok(Err(e)) => {
                tracing::warn!(workflow_id = %id, error = %e, "standing delegations not readable");
            }
            Err(_) => tracing::warn!(workflow_id = %id, "standing delegations: query timed out"),
        }
    }
    out
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
        if !self.directory.user_exists(&req.requester).await? {
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
        let policy = self.policy.current();
        let dir = self
            .snapshot(&policy, req.requester.clone(), &req.principal)
            .await?;
        let decision = match policy.decide_request(
            &dir,
            &req.requester,
            &req.principal,
            &keys(&resolved),
            self.limits.max_approval_timeout,
        ) {
            Ok(d) => d,
            Err(reason) => return Ok(Err(reason)),
        };
        let plan = decision.approval;
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
            policy: Some(PolicyRecord {
                hash: policy.hash().to_owned(),
                decisions: decision.explanation,
            }),
            hints: Hints {
                quiet: self.chat.is_silent(),
                directory_fresh_for: SignedDuration::try_from(self.directory.ttl()).ok(),
                audit: self.audit.clone(),
            },
        }))
    }

    /// The directory as `policy` needs it for a request of `requester` for `principal`.
    async fn snapshot(
        &self,
        policy: &jit_policy::Policy,
        requester: UserName,
        principal: &Principal,
    ) -> Result<jit_policy::Directory, AwsError> {
        let mut users = vec![requester];
        if let Principal::User(u) = principal {
            users.push(u.clone());
        }
        self.directory
            .snapshot(policy.rules().groups(), users.iter())
            .await
    }

    async fn check_voter_inner(&self, c: &VoterCheck) -> Result<Checked, AwsError> {
        let refused = |reason: String| Ok(Checked::Refused { reason });
        for who in [&c.cast_by, &c.voter] {
            if !self.directory.user_exists(who).await? {
                return refused(format!(
                    "not allowed: {who} is no longer a user of the directory"
                ));
            }
        }
        let allowed = Ok(Checked::Allowed {
            policy: "the ticket's recorded plan".into(),
        });
        // A plan recorded before groups were recorded: existence is all we can check.
        if (c.groups.is_empty() && c.users.is_empty()) || c.users.contains(&c.voter) {
            return allowed;
        }
        for g in &c.groups {
            if self
                .directory
                .members(g)
                .await?
                .is_some_and(|m| m.contains(&c.voter))
            {
                return allowed;
            }
        }
        refused(format!(
            "not allowed: {} is no longer a member of {} (the approvers of step {})",
            c.voter,
            c.groups.join(" or "),
            c.step
        ))
    }

    async fn recheck_inner(&self, r: &Recheck) -> Result<Checked, AwsError> {
        let policy = self.policy.current();
        let dir = self
            .snapshot(&policy, r.requester.clone(), &r.principal)
            .await?;
        Ok(
            match policy.check_request(&dir, &r.requester, &r.principal, &keys(&r.targets)) {
                Ok(_) => Checked::Allowed {
                    policy: policy.hash().to_owned(),
                },
                Err(reason) => Checked::Refused {
                    reason: format!("policy {}: {reason}", jit_policy::short_hash(policy.hash())),
                },
            },
        )
    }
}

impl TicketActivities {
    async fn catalog_inner(&self, user: &UserName) -> Result<Catalog, AwsError> {
        let policy = self.policy.current();
        let dir = self
            .snapshot(&policy, user.clone(), &Principal::User(user.clone()))
            .await?;
        let Some(who) = dir.person(user) else {
            return Ok(Catalog::default());
        };
        let accounts = self.aws.accounts().await?;
        let sets = self.aws.permission_set_names().await?;
        let mut out = Catalog::default();
        for (id, name) in &accounts {
            for ps in &sets {
                let key = TargetKey {
                    account_id: id.to_string(),
                    account_name: name.clone(),
                    permission_set: ps.clone(),
                };
                let v = policy.may_request(&who, &key);
                if let (true, Some(rule)) = (v.allowed, v.rule) {
                    let plan_rule = policy.plan_for(std::slice::from_ref(&key)).ok();
                    let plan = plan_rule
                        .as_ref()
                        .map(|(p, _)| p.name.clone())
                        .unwrap_or_default();
                    if let Some((p, _)) = plan_rule
                        && !out.plans.iter().any(|x| x.name == p.name)
                        && let Ok(a) =
                            policy.approval_plan(p, &dir, self.limits.max_approval_timeout)
                    {
                        out.plans.push(a);
                    }
                    out.targets.push(CatalogEntry {
                        account_id: key.account_id,
                        account_name: key.account_name,
                        permission_set: key.permission_set,
                        rule,
                        plan,
                    });
                }
            }
        }
        for name in policy.rules().bundles.keys() {
            let Some(items) = policy.rules().bundle_targets(name) else {
                continue;
            };
            let all = items.iter().all(|t| {
                out.targets.iter().any(|e| {
                    (e.account_id == t.account || e.account_name == t.account)
                        && e.permission_set == t.permission_set
                })
            });
            if all {
                out.bundles.push(name.clone());
            }
        }
        Ok(out)
    }
}

impl TicketActivities {
    async fn explain_inner(&self, q: &ExplainQuestion) -> Result<ExplainAnswer, AwsError> {
        let policy = self.policy.current();
        let requester = q.requester.clone().unwrap_or_else(|| q.who.clone());
        let principal = Principal::User(requester.clone());
        // The requester and (when voting) the voter, with every group the policy names.
        let users = [requester.clone(), q.who.clone()];
        let dir = self
            .directory
            .snapshot(policy.rules().groups(), users.iter())
            .await?;
        let accounts = self.aws.accounts().await?;
        let key = match accounts
            .iter()
            .find(|(id, name)| id.as_str() == q.account || *name == q.account)
        {
            Some((id, name)) => TargetKey {
                account_id: id.to_string(),
                account_name: name.clone(),
                permission_set: q.permission_set.clone(),
            },
            None => {
                return Ok(ExplainAnswer {
                    allowed: false,
                    decisions: vec![format!("account {} is not in the organization", q.account)],
                    plan: None,
                });
            }
        };
        let max = self.limits.max_approval_timeout;
        let e = if q.approve {
            policy.explain_approve(&dir, &q.who, &requester, &principal, &[key], max)
        } else {
            policy.explain_request(&dir, &q.who, &principal, &[key], max)
        };
        Ok(ExplainAnswer {
            allowed: e.allowed,
            decisions: e.decisions,
            plan: e.plan,
        })
    }
}

fn keys(targets: &[ResolvedTarget]) -> Vec<TargetKey> {
    targets
        .iter()
        .map(|t| TargetKey {
            account_id: t.target.account.to_string(),
            account_name: t.account_name.clone(),
            permission_set: t.target.permission_set.to_string(),
        })
        .collect()
}

#[activities]
impl TicketActivities {
    /// Validates the request and resolves it: requester and principal in the identity store,
    /// the on-behalf rule when they differ, targets (explicit and from the bundle) in the
    /// organization, permission sets, and the approval plan with its approvers.
    #[activity(definition = activity::Evaluate)]
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
            Ok(e) => {
                tracing::info!(ticket = %req.ticket_id, targets = e.targets.len(), trace_id = trace_id(), "evaluated: allowed");
                Ok(Evaluation::Resolved(Box::new(e)))
            }
            Err(reason) => {
                tracing::info!(ticket = %req.ticket_id, %reason, trace_id = trace_id(), "evaluated: rejected");
                Ok(Evaluation::Rejected { reason })
            }
        }
    }

    /// Whether a vote still counts: the person casting it and the approver it counts for
    /// exist, and the approver is still in a group the ticket's plan names for the step.
    #[activity(definition = activity::CheckVoter)]
    pub async fn check_voter(
        self: Arc<Self>,
        _ctx: ActivityContext,
        c: VoterCheck,
    ) -> Result<Checked, ActivityError> {
        self.check_voter_inner(&c).await.map_err(to_activity_error)
    }

    /// The request's decision taken again with the policy and directory of now (at a
    /// scheduled start, on extension): requester and principal exist, on-behalf, eligibility.
    #[activity(definition = activity::Recheck)]
    pub async fn recheck(
        self: Arc<Self>,
        _ctx: ActivityContext,
        r: Recheck,
    ) -> Result<Checked, ActivityError> {
        self.recheck_inner(&r).await.map_err(to_activity_error)
    }

    /// What `user` may request now (policy and directory of now).
    #[activity(definition = activity::Catalog)]
    pub async fn catalog(
        self: Arc<Self>,
        _ctx: ActivityContext,
        user: UserName,
    ) -> Result<Catalog, ActivityError> {
        self.catalog_inner(&user).await.map_err(to_activity_error)
    }

    /// A policy decision explained, with the directory and accounts of now.
    #[activity(definition = activity::Explain)]
    pub async fn explain(
        self: Arc<Self>,
        _ctx: ActivityContext,
        q: ExplainQuestion,
    ) -> Result<ExplainAnswer, ActivityError> {
        self.explain_inner(&q).await.map_err(to_activity_error)
    }

    /// The organization's accounts and the instance's permission sets.
    #[activity(definition = activity::KnownTargets)]
    pub async fn known_targets(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<Known, ActivityError> {
        let accounts = self.aws.accounts().await.map_err(to_activity_error)?;
        let permission_sets = self
            .aws
            .permission_set_names()
            .await
            .map_err(to_activity_error)?;
        Ok(Known {
            accounts: accounts
                .into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect(),
            permission_sets,
        })
    }

    /// Tells people about a ticket through chat (see [`Chat`]); the messages it posted.
    #[activity(definition = activity::Announce)]
    pub async fn announce(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: Announcement,
    ) -> Result<Vec<jit_domain::ChatMessage>, ActivityError> {
        let info = ctx.info();
        let nonce = format!(
            "{}-{}",
            info.workflow_id.as_deref().unwrap_or("ticket"),
            info.activity_id
        );
        self.chat
            .announce(&a, &nonce)
            .await
            .map_err(|e| ActivityError::from(anyhow::anyhow!(e)))
    }

    /// What user has this email in the identity store (for chat clicks).
    #[activity(definition = activity::UserByEmail)]
    pub async fn user_by_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        email: String,
    ) -> Result<Option<UserName>, ActivityError> {
        self.aws
            .user_by_email(&email)
            .await
            .map_err(to_activity_error)
    }

    /// Tells people about a ticket. Idempotent per ticket and event (the workflow gives each
    /// notification its own activity id).
    #[activity(definition = activity::Notify)]
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
    #[activity(definition = activity::AssignmentExists)]
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
    #[activity(definition = activity::Grant)]
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
            Ok(()) => {
                tracing::info!(
                    account = %a.account,
                    permission_set = %a.permission_set_arn,
                    principal = %a.principal_id,
                    trace_id = trace_id(),
                    "assignment created"
                );
                Ok(GrantOutcome::Granted)
            }
            Err(e) if e.is_retryable() => Err(to_activity_error(e)),
            Err(e) => Ok(GrantOutcome::Failed {
                reason: e.to_string(),
            }),
        }
    }

    /// Deletes the assignment, polls until AWS settles, verifies it is gone. Every failure
    /// is retryable here: a revocation is never abandoned.
    #[activity(definition = activity::Revoke)]
    pub async fn revoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<(), ActivityError> {
        let hb = Heartbeat::new(&ctx);
        let resume = hb.resume();
        hb.around(self.aws.delete_assignment(&a, resume.as_deref(), &hb))
            .await
            .map_err(|e| ActivityError::from(anyhow::anyhow!(e.to_string())))?;
        tracing::info!(
            account = %a.account,
            permission_set = %a.permission_set_arn,
            principal = %a.principal_id,
            trace_id = trace_id(),
            "assignment deleted"
        );
        Ok(())
    }
}
