//! [`IdentityCenter`]: account assignments (create, delete, status polling, verification) and
//! the look-ups that resolve names to ids.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_identitystore::types::{AlternateIdentifier, UniqueAttribute};
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, PrincipalType as AwsPrincipalType, StatusValues, TargetType,
};
use aws_smithy_types::Document;
use jit_domain::{
    AccountId, AssignmentRef, InstanceArn, PermissionSetArn, PermissionSetName, PrincipalId,
    PrincipalType, UserName,
};
use tokio::sync::OnceCell;

use crate::error::{AwsError, aws, optional};
use crate::poll::PollSchedule;
use crate::rate::RateLimiter;

/// Where to reach AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    pub region: String,
    /// An endpoint override (the sandbox or the fault proxy). `None`: real AWS.
    pub endpoint_url: Option<String>,
    /// This process's share of the Identity Center request budget (requests per second,
    /// spaced evenly). AWS allows about 20 per second for the whole account, shared by every
    /// worker: give each of N workers 1/N of it. `0`: no limit.
    pub requests_per_second: f64,
}

/// Told about progress while an asynchronous operation is polled (activities heartbeat here,
/// with the request id, so a retry resumes polling the same request).
pub trait Progress: Sync {
    fn request_started(&self, request_id: &str) -> impl Future<Output = ()> + Send;
    fn still_waiting(&self, request_id: &str) -> impl Future<Output = ()> + Send;
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    async fn request_started(&self, _: &str) {}
    async fn still_waiting(&self, _: &str) {}
}

/// The result of one asynchronous operation's status.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpStatus {
    InProgress,
    Succeeded,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Create,
    Delete,
}

impl OpKind {
    fn op(self) -> &'static str {
        match self {
            Self::Create => "CreateAccountAssignment",
            Self::Delete => "DeleteAccountAssignment",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Create => "creation",
            Self::Delete => "deletion",
        }
    }
}

/// The Identity Center instance and its identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub arn: InstanceArn,
    pub identity_store_id: String,
}

/// The gateway to IAM Identity Center, the identity store and organizations.
#[derive(Debug)]
pub struct IdentityCenter {
    pub(crate) sso: aws_sdk_ssoadmin::Client,
    pub(crate) ids: aws_sdk_identitystore::Client,
    pub(crate) org: aws_sdk_organizations::Client,
    instance: OnceCell<Instance>,
    permission_sets: Mutex<HashMap<String, (PermissionSetArn, Instant)>>,
    pub poll: PollSchedule,
    /// Every Identity Center request waits here first.
    limiter: RateLimiter,
}

const PERMISSION_SET_CACHE_TTL: Duration = Duration::from_secs(60);

impl IdentityCenter {
    /// Builds the clients. With an endpoint override and no AWS credentials in the
    /// environment, static sandbox credentials are used (moto accepts any).
    pub async fn connect(settings: &AwsSettings) -> Self {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()))
            .http_client(http);
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "sandbox",
                    "sandbox",
                    None,
                    None,
                    "jit-sandbox",
                ));
            }
        }
        let conf = loader.load().await;
        // No SDK retries for Identity Center: each attempt must pass the rate limiter, so
        // retries happen here (polls) and in the activities' retry policies.
        let sso = aws_sdk_ssoadmin::config::Builder::from(&conf)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        Self {
            sso: aws_sdk_ssoadmin::Client::from_conf(sso),
            ids: aws_sdk_identitystore::Client::new(&conf),
            org: aws_sdk_organizations::Client::new(&conf),
            instance: OnceCell::new(),
            permission_sets: Mutex::new(HashMap::new()),
            poll: PollSchedule::default(),
            limiter: RateLimiter::per_second(settings.requests_per_second),
        }
    }

    /// Waits for this process's next Identity Center request slot.
    pub(crate) async fn gate(&self) {
        self.limiter.acquire().await;
    }

    /// The (first) Identity Center instance. Cached for the life of the process.
    pub async fn instance(&self) -> Result<&Instance, AwsError> {
        self.instance
            .get_or_try_init(|| async {
                self.gate().await;
                let out = self
                    .sso
                    .list_instances()
                    .send()
                    .await
                    .map_err(|e| aws("ListInstances", e))?;
                let i = out.instances().first().ok_or(AwsError::Final {
                    op: "ListInstances",
                    message: "no IAM Identity Center instance in this account and region".into(),
                })?;
                let arn = i.instance_arn().unwrap_or_default();
                Ok(Instance {
                    arn: InstanceArn::parse(arn).map_err(|e| AwsError::Final {
                        op: "ListInstances",
                        message: e.to_string(),
                    })?,
                    identity_store_id: i.identity_store_id().unwrap_or_default().to_owned(),
                })
            })
            .await
    }

    /// The identity-store user id of `name`, or `None` if there is no such user.
    pub async fn user_id(&self, name: &UserName) -> Result<Option<PrincipalId>, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let r = self
            .ids
            .get_user_id()
            .identity_store_id(store)
            .alternate_identifier(unique_attribute("GetUserId", "userName", name.as_str())?)
            .send()
            .await;
        optional("GetUserId", r)?
            .map(|out| opaque("GetUserId", Some(out.user_id()), PrincipalId::parse))
            .transpose()
    }

    /// The primary email of the user `name` (`None`: no such user, or no email).
    pub async fn user_email(&self, name: &UserName) -> Result<Option<String>, AwsError> {
        let Some(id) = self.user_id(name).await? else {
            return Ok(None);
        };
        let store = self.instance().await?.identity_store_id.clone();
        let u = self
            .ids
            .describe_user()
            .identity_store_id(store)
            .user_id(id.as_str())
            .send()
            .await
            .map_err(|e| aws("DescribeUser", e))?;
        let emails = u.emails();
        Ok(emails
            .iter()
            .find(|e| e.primary())
            .or(emails.first())
            .and_then(|e| e.value())
            .map(str::to_owned))
    }

    /// The user whose email is `email` (`None`: nobody).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserName>, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let r = self
            .ids
            .get_user_id()
            .identity_store_id(&store)
            .alternate_identifier(unique_attribute("GetUserId", "emails.value", email)?)
            .send()
            .await;
        let Some(out) = optional("GetUserId", r)? else {
            return Ok(None);
        };
        let u = self
            .ids
            .describe_user()
            .identity_store_id(&store)
            .user_id(out.user_id())
            .send()
            .await
            .map_err(|e| aws("DescribeUser", e))?;
        Ok(u.user_name().and_then(|n| UserName::parse(n).ok()))
    }

    /// The identity-store group id of the group called `name`, or `None`.
    pub async fn group_id(&self, name: &str) -> Result<Option<PrincipalId>, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let r = self
            .ids
            .get_group_id()
            .identity_store_id(store)
            .alternate_identifier(unique_attribute("GetGroupId", "displayName", name)?)
            .send()
            .await;
        optional("GetGroupId", r)?
            .map(|out| opaque("GetGroupId", Some(out.group_id()), PrincipalId::parse))
            .transpose()
    }

    /// The user names of the members of the group called `name` (`None`: no such group).
    pub async fn group_members(
        &self,
        name: &str,
    ) -> Result<Option<std::collections::BTreeSet<UserName>>, AwsError> {
        let Some(group) = self.group_id(name).await? else {
            return Ok(None);
        };
        let store = self.instance().await?.identity_store_id.clone();
        let mut members = std::collections::BTreeSet::new();
        let mut pages = self
            .ids
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(group.as_str())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ListGroupMemberships", e))?;
            for m in page.group_memberships() {
                let Some(user_id) = m.member_id().and_then(|m| m.as_user_id().ok()) else {
                    continue;
                };
                let u = self
                    .ids
                    .describe_user()
                    .identity_store_id(&store)
                    .user_id(user_id)
                    .send()
                    .await
                    .map_err(|e| aws("DescribeUser", e))?;
                if let Some(Ok(name)) = u.user_name().map(UserName::parse) {
                    members.insert(name);
                }
            }
        }
        Ok(Some(members))
    }

    /// The accounts of the organization as (id, name).
    pub async fn accounts(&self) -> Result<Vec<(AccountId, String)>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self.org.list_accounts().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ListAccounts", e))?;
            for a in page.accounts() {
                if let (Some(Ok(id)), Some(name)) = (a.id().map(AccountId::parse), a.name()) {
                    out.push((id, name.to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// The ARN of the permission set called `name`, or `None`. Names are cached for a minute.
    pub async fn permission_set_arn(
        &self,
        name: &PermissionSetName,
    ) -> Result<Option<PermissionSetArn>, AwsError> {
        if let Some((arn, at)) = self.cache().get(name.as_str())
            && at.elapsed() < PERMISSION_SET_CACHE_TTL
        {
            return Ok(Some(arn.clone()));
        }
        self.refresh_permission_sets().await?;
        Ok(self.cache().get(name.as_str()).map(|(arn, _)| arn.clone()))
    }

    /// The names of every permission set of the instance (cached like
    /// [`IdentityCenter::permission_set_arn`]).
    pub async fn permission_set_names(&self) -> Result<Vec<String>, AwsError> {
        let fresh = {
            let c = self.cache();
            !c.is_empty()
                && c.values()
                    .all(|(_, at)| at.elapsed() < PERMISSION_SET_CACHE_TTL)
        };
        if !fresh {
            self.refresh_permission_sets().await?;
        }
        let mut names: Vec<String> = self.cache().keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn refresh_permission_sets(&self) -> Result<(), AwsError> {
        let instance = self.instance().await?.arn.clone();
        let mut fresh = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            self.gate().await;
            let page = self
                .sso
                .list_permission_sets()
                .instance_arn(instance.as_str())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws("ListPermissionSets", e))?;
            for arn in page.permission_sets() {
                self.gate().await;
                let d = self
                    .sso
                    .describe_permission_set()
                    .instance_arn(instance.as_str())
                    .permission_set_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws("DescribePermissionSet", e))?;
                let Some(ps_name) = d.permission_set().and_then(|p| p.name()) else {
                    continue;
                };
                let arn = opaque("DescribePermissionSet", Some(arn), PermissionSetArn::parse)?;
                fresh.insert(ps_name.to_owned(), (arn, Instant::now()));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        *self.cache() = fresh;
        Ok(())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (PermissionSetArn, Instant)>> {
        self.permission_sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every assignment of `permission_set` in `account`, one entry per listed row (a
    /// principal listed twice appears twice: a duplicate).
    pub async fn list_assignments(
        &self,
        instance: &InstanceArn,
        account: &AccountId,
        permission_set: &PermissionSetArn,
    ) -> Result<Vec<(PrincipalType, PrincipalId)>, AwsError> {
        // Pages by hand (not the SDK's paginator): each request passes the rate limiter once,
        // and no slot is spent on the paginator's final, request-less step.
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.gate().await;
            let page = self
                .sso
                .list_account_assignments()
                .instance_arn(instance.as_str())
                .account_id(account.as_str())
                .permission_set_arn(permission_set.as_str())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws("ListAccountAssignments", e))?;
            for x in page.account_assignments() {
                let kind = match x.principal_type() {
                    Some(AwsPrincipalType::User) => PrincipalType::User,
                    Some(AwsPrincipalType::Group) => PrincipalType::Group,
                    _ => continue,
                };
                let id = opaque(
                    "ListAccountAssignments",
                    x.principal_id(),
                    PrincipalId::parse,
                )?;
                out.push((kind, id));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Whether the assignment exists now (ListAccountAssignments).
    pub async fn assignment_exists(&self, a: &AssignmentRef) -> Result<bool, AwsError> {
        Ok(self.count_assignments(a).await? > 0)
    }

    /// How many listed assignments match `a` (AWS and moto accept duplicates; more than one
    /// means someone created it twice).
    pub async fn count_assignments(&self, a: &AssignmentRef) -> Result<usize, AwsError> {
        let rows = self
            .list_assignments(&a.instance_arn, &a.account, &a.permission_set_arn)
            .await?;
        Ok(rows
            .iter()
            .filter(|(t, id)| *t == a.principal_type && *id == a.principal_id)
            .count())
    }

    /// Creates the assignment and waits until AWS confirms it: status SUCCEEDED and listed.
    ///
    /// Checks first (AWS accepts duplicates): an existing assignment counts as created. The
    /// caller must have ruled out standing access *before* recording its intent (see
    /// `jit_domain::stack`). `resume` is the request id of an earlier attempt, to keep polling
    /// it instead of creating again. A FAILED status is [`AwsError::Final`] with AWS's reason.
    pub async fn create_assignment(
        &self,
        a: &AssignmentRef,
        resume: Option<&str>,
        progress: &impl Progress,
    ) -> Result<(), AwsError> {
        if let Some(done) = self.resume(OpKind::Create, a, resume, progress).await {
            return done;
        }
        if self.assignment_exists(a).await? {
            return Ok(());
        }
        self.gate().await;
        let out = self
            .sso
            .create_account_assignment()
            .instance_arn(a.instance_arn.as_str())
            .target_id(a.account.as_str())
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(a.permission_set_arn.as_str())
            .principal_type(aws_principal_type(a.principal_type))
            .principal_id(a.principal_id.as_str())
            .send()
            .await
            .map_err(|e| aws(OpKind::Create.op(), e))?;
        self.settle(
            OpKind::Create,
            a,
            out.account_assignment_creation_status(),
            progress,
        )
        .await
    }

    /// Deletes the assignment and waits until AWS confirms it is gone. Absent already: done.
    /// A FAILED deletion is returned as retryable: a revocation is never abandoned.
    pub async fn delete_assignment(
        &self,
        a: &AssignmentRef,
        resume: Option<&str>,
        progress: &impl Progress,
    ) -> Result<(), AwsError> {
        if let Some(done) = self.resume(OpKind::Delete, a, resume, progress).await {
            return done;
        }
        if !self.assignment_exists(a).await? {
            return Ok(());
        }
        self.gate().await;
        let out = match self
            .sso
            .delete_account_assignment()
            .instance_arn(a.instance_arn.as_str())
            .target_id(a.account.as_str())
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(a.permission_set_arn.as_str())
            .principal_type(aws_principal_type(a.principal_type))
            .principal_id(a.principal_id.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => match aws(OpKind::Delete.op(), e) {
                e if e.is_not_found() => return self.verify(a, false).await,
                e => return Err(e),
            },
        };
        self.settle(
            OpKind::Delete,
            a,
            out.account_assignment_deletion_status(),
            progress,
        )
        .await
    }

    /// Keeps polling an earlier attempt's request. `None`: there is none, AWS no longer knows
    /// it, or it was a deletion that FAILED — start over (a failed deletion is retried with a
    /// new request; resuming the old one would fail the same way forever — the chaos suite
    /// found exactly that).
    async fn resume(
        &self,
        kind: OpKind,
        a: &AssignmentRef,
        resume: Option<&str>,
        progress: &impl Progress,
    ) -> Option<Result<(), AwsError>> {
        match self.wait(kind, resume?, a, progress).await {
            Ok(()) => Some(self.verify(a, kind == OpKind::Create).await),
            Err(e) if e.is_not_found() => None,
            Err(AwsError::Retryable {
                kind: crate::error::RetryKind::Server,
                ..
            }) if kind == OpKind::Delete => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Follows an operation AWS just accepted to its end: polls while IN_PROGRESS, then
    /// verifies by listing.
    async fn settle(
        &self,
        kind: OpKind,
        a: &AssignmentRef,
        status: Option<&AccountAssignmentOperationStatus>,
        progress: &impl Progress,
    ) -> Result<(), AwsError> {
        let should_exist = kind == OpKind::Create;
        match op_status(status) {
            OpStatus::Failed(reason) => return Err(failed(kind, reason)),
            OpStatus::Succeeded => return self.verify(a, should_exist).await,
            OpStatus::InProgress => {}
        }
        let id = status
            .and_then(|s| s.request_id())
            .ok_or(AwsError::Final {
                op: kind.op(),
                message: "IN_PROGRESS without a request id".into(),
            })?
            .to_owned();
        progress.request_started(&id).await;
        self.wait(kind, &id, a, progress).await?;
        self.verify(a, should_exist).await
    }

    /// Polls the status of `request_id` on the schedule until it is no longer IN_PROGRESS.
    async fn wait(
        &self,
        kind: OpKind,
        request_id: &str,
        a: &AssignmentRef,
        progress: &impl Progress,
    ) -> Result<(), AwsError> {
        let op = match kind {
            OpKind::Create => "DescribeAccountAssignmentCreationStatus",
            OpKind::Delete => "DescribeAccountAssignmentDeletionStatus",
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            tokio::time::sleep(self.poll.delay(attempt)).await;
            attempt += 1;
            self.gate().await;
            let status = match kind {
                OpKind::Create => self
                    .sso
                    .describe_account_assignment_creation_status()
                    .instance_arn(a.instance_arn.as_str())
                    .account_assignment_creation_request_id(request_id)
                    .send()
                    .await
                    .map(|o| op_status(o.account_assignment_creation_status()))
                    .map_err(|e| aws(op, e)),
                OpKind::Delete => self
                    .sso
                    .describe_account_assignment_deletion_status()
                    .instance_arn(a.instance_arn.as_str())
                    .account_assignment_deletion_request_id(request_id)
                    .send()
                    .await
                    .map(|o| op_status(o.account_assignment_deletion_status()))
                    .map_err(|e| aws(op, e)),
            };
            match status {
                Ok(OpStatus::Succeeded) => return Ok(()),
                Ok(OpStatus::Failed(reason)) => return Err(failed(kind, reason)),
                Ok(OpStatus::InProgress) => {}
                // A fresh request id can be unknown to the status API for a moment.
                Err(e) if e.is_not_found() && started.elapsed() < self.poll.not_found_grace => {}
                Err(e) if e.is_retryable() => {
                    tracing::debug!(error = %e, "status poll failed; polling on");
                }
                Err(e) => return Err(e),
            }
            if started.elapsed() > self.poll.bound {
                return Err(AwsError::still_in_progress(
                    op,
                    format!(
                        "request {request_id} still IN_PROGRESS after {:?}",
                        started.elapsed()
                    ),
                ));
            }
            progress.still_waiting(request_id).await;
        }
    }

    /// Confirms by listing that the assignment is (or is no longer) there.
    async fn verify(&self, a: &AssignmentRef, should_exist: bool) -> Result<(), AwsError> {
        // The listing can lag the status API briefly.
        for attempt in 0..6 {
            if self.assignment_exists(a).await? == should_exist {
                return Ok(());
            }
            tokio::time::sleep(self.poll.delay(attempt + 2)).await;
        }
        let message = if should_exist {
            "AWS reported SUCCEEDED but the assignment is not listed"
        } else {
            "AWS reported the deletion SUCCEEDED but the assignment is still listed"
        };
        Err(AwsError::Retryable {
            op: "ListAccountAssignments",
            kind: crate::error::RetryKind::StillInProgress,
            message: message.into(),
        })
    }
}

fn aws_principal_type(t: PrincipalType) -> AwsPrincipalType {
    match t {
        PrincipalType::User => AwsPrincipalType::User,
        PrincipalType::Group => AwsPrincipalType::Group,
    }
}

fn op_status(s: Option<&AccountAssignmentOperationStatus>) -> OpStatus {
    match s.and_then(|s| s.status()) {
        Some(StatusValues::Succeeded) => OpStatus::Succeeded,
        Some(StatusValues::Failed) => OpStatus::Failed(
            s.and_then(|s| s.failure_reason())
                .unwrap_or("no reason given")
                .to_owned(),
        ),
        _ => OpStatus::InProgress,
    }
}

fn failed(kind: OpKind, reason: String) -> AwsError {
    let message = format!("assignment {} FAILED: {reason}", kind.verb());
    match kind {
        OpKind::Create => AwsError::Final {
            op: kind.op(),
            message,
        },
        OpKind::Delete => AwsError::Retryable {
            op: kind.op(),
            kind: crate::error::RetryKind::Server,
            message,
        },
    }
}

/// Look up an identity-store entity by a unique attribute (`userName`, `displayName`).
fn unique_attribute(
    op: &'static str,
    path: &str,
    value: &str,
) -> Result<AlternateIdentifier, AwsError> {
    let attr = UniqueAttribute::builder()
        .attribute_path(path)
        .attribute_value(Document::String(value.to_owned()))
        .build()
        .map_err(|e| AwsError::Final {
            op,
            message: e.to_string(),
        })?;
    Ok(AlternateIdentifier::UniqueAttribute(attr))
}

fn opaque<T>(
    op: &'static str,
    v: Option<&str>,
    parse: fn(&str) -> Result<T, jit_domain::InvalidInput>,
) -> Result<T, AwsError> {
    parse(v.unwrap_or_default()).map_err(|e| AwsError::Final {
        op,
        message: format!("unexpected answer: {e}"),
    })
}

#[cfg(test)]
mod tests {
    /// Every AWS operation this gateway calls is allowed by the worker's IAM policy, and the
    /// policy allows nothing of Identity Center, the identity store or Organizations that the
    /// gateway does not call.
    #[test]
    fn the_worker_policy_allows_exactly_the_calls_made() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // The gateway's code, without this test.
        let src = include_str!("identity_center.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default();
        // Every call's error goes through `aws("Op", ..)` or `optional("Op", ..)`.
        let mut called: Vec<&str> = ["aws(\"", "optional(\""]
            .into_iter()
            .flat_map(|p| src.split(p).skip(1))
            .filter_map(|s| s.split('"').next())
            .chain(
                [
                    "CreateAccountAssignment",
                    "DeleteAccountAssignment",
                    "DescribeAccountAssignmentCreationStatus",
                    "DescribeAccountAssignmentDeletionStatus",
                ]
                .into_iter()
                .filter(|op| src.contains(&format!("\"{op}\""))),
            )
            .filter(|op| op.chars().all(|c| c.is_ascii_alphanumeric()) && !op.is_empty())
            .collect();
        called.sort_unstable();
        called.dedup();
        assert!(called.len() >= 12, "found {called:?}");

        let policy = std::fs::read_to_string(root.join("deploy/iam/worker-policy.json"))
            .expect("policy file");
        let mut allowed: Vec<String> = policy
            .split('"')
            .filter(|s| {
                ["sso:", "identitystore:", "organizations:"]
                    .iter()
                    .any(|p| s.starts_with(p))
            })
            .map(|s| s.split(':').nth(1).unwrap_or_default().to_owned())
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        assert_eq!(allowed, called, "policy vs calls");
    }
}
