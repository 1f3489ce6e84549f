//! [`IdentityCenter`]: account assignments (create, delete, status polling, verification) and
//! the look-ups that resolve names to ids.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_identitystore::types::{AlternateIdentifier, UniqueAttribute};
use aws_smithy_types::Document;
use jit_domain::{
    AccountId, InstanceArn, PermissionSetArn, PermissionSetName, PrincipalId, UserName,
};
use tokio::sync::OnceCell;

use crate::error::{AwsError, aws, optional};
use crate::metrics::{AwsMetrics, Recorder};
use crate::ops::{OpsLimiter, OpsState};
use crate::poll::PollSchedule;
use crate::rate::RateLimiter;

mod assignments;
mod policies;
mod storage;

pub use policies::{CutoffPolicy, cutoff_policy_name};
pub use storage::{Object, Retention};

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
    pub(crate) s3: aws_sdk_s3::Client,
    instance: OnceCell<Instance>,
    permission_sets: Mutex<HashMap<String, (PermissionSetArn, Instant)>>,
    pub poll: PollSchedule,
    /// Every Identity Center request waits here first.
    limiter: RateLimiter,
    /// Every create and delete (check, request, polls, verification) holds a permit.
    ops: Arc<OpsLimiter>,
    metrics: Option<Arc<dyn AwsMetrics>>,
}

/// AWS's limit of outstanding asynchronous assignment operations per account (not raisable):
/// the default share until the worker sets its own.
pub const OUTSTANDING_OPERATIONS: u32 = 15;

const PERMISSION_SET_CACHE_TTL: Duration = Duration::from_secs(60);

impl IdentityCenter {
    /// Builds the clients. With an endpoint override and no AWS credentials in the
    /// environment, static sandbox credentials are used (moto accepts any).
    pub async fn connect(settings: &AwsSettings) -> Self {
        Self::connect_with_metrics(settings, None).await
    }

    /// [`IdentityCenter::connect`], every request attempt and rate-limiter wait reported to
    /// `metrics`.
    pub async fn connect_with_metrics(
        settings: &AwsSettings,
        metrics: Option<Arc<dyn AwsMetrics>>,
    ) -> Self {
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
        let mut sso = aws_sdk_ssoadmin::config::Builder::from(&conf)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1));
        let mut ids = aws_sdk_identitystore::config::Builder::from(&conf);
        let mut org = aws_sdk_organizations::config::Builder::from(&conf);
        // Path-style addressing (the sandbox answers on an address, not a bucket's host name);
        // checksums only where S3 requires them (any S3-compatible store accepts that).
        let mut s3 = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(settings.endpoint_url.is_some())
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            );
        if let Some(m) = &metrics {
            sso = sso.interceptor(Recorder(m.clone()));
            ids = ids.interceptor(Recorder(m.clone()));
            org = org.interceptor(Recorder(m.clone()));
            s3 = s3.interceptor(Recorder(m.clone()));
        }
        Self {
            sso: aws_sdk_ssoadmin::Client::from_conf(sso.build()),
            ids: aws_sdk_identitystore::Client::from_conf(ids.build()),
            org: aws_sdk_organizations::Client::from_conf(org.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            instance: OnceCell::new(),
            permission_sets: Mutex::new(HashMap::new()),
            poll: PollSchedule::default(),
            limiter: RateLimiter::per_second(settings.requests_per_second),
            ops: OpsLimiter::new(OUTSTANDING_OPERATIONS),
            metrics,
        }
    }

    /// This process's share of the outstanding asynchronous operations (at least one).
    pub fn set_outstanding(&self, operations: u32) {
        self.ops.set_limit(operations);
    }

    /// The operation permits: this process's limit, held, waiting.
    pub fn operations(&self) -> OpsState {
        self.ops.state()
    }

    /// This process's share of the Identity Center budget, requests per second (≤ 0: none).
    pub fn set_rate(&self, requests_per_second: f64) {
        self.limiter.set_rate(requests_per_second);
    }

    /// Waits for this process's next Identity Center request slot.
    pub(crate) async fn gate(&self) {
        let waited = self.limiter.acquire().await;
        if let Some(m) = &self.metrics {
            m.rate_limited(waited);
        }
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

    /// The role session names Identity Center may give `principal`'s sessions: each user's
    /// user name and e-mail addresses (every member's, for a group). Empty: nobody.
    pub async fn session_names(
        &self,
        principal_type: jit_domain::PrincipalType,
        principal_id: &PrincipalId,
    ) -> Result<Vec<String>, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let users: Vec<String> = match principal_type {
            jit_domain::PrincipalType::User => vec![principal_id.as_str().to_owned()],
            jit_domain::PrincipalType::Group => {
                let mut ids = Vec::new();
                let mut pages = self
                    .ids
                    .list_group_memberships()
                    .identity_store_id(&store)
                    .group_id(principal_id.as_str())
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| aws("ListGroupMemberships", e))?;
                    ids.extend(
                        page.group_memberships()
                            .iter()
                            .filter_map(|m| m.member_id().and_then(|m| m.as_user_id().ok()))
                            .cloned(),
                    );
                }
                ids
            }
        };
        let mut names = Vec::new();
        for id in users {
            let r = self
                .ids
                .describe_user()
                .identity_store_id(&store)
                .user_id(&id)
                .send()
                .await;
            let Some(u) = optional("DescribeUser", r)? else {
                continue;
            };
            names.extend(u.user_name().map(str::to_owned));
            names.extend(
                u.emails()
                    .iter()
                    .filter_map(|e| e.value())
                    .map(str::to_owned),
            );
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The name of the permission set `arn` (and its session duration, when set), or `None`.
    pub async fn permission_set_info(
        &self,
        arn: &PermissionSetArn,
    ) -> Result<Option<(String, Option<jiff::SignedDuration>)>, AwsError> {
        let instance = self.instance().await?.arn.clone();
        self.gate().await;
        let r = self
            .sso
            .describe_permission_set()
            .instance_arn(instance.as_str())
            .permission_set_arn(arn.as_str())
            .send()
            .await;
        let Some(d) = optional("DescribePermissionSet", r)? else {
            return Ok(None);
        };
        let Some(p) = d.permission_set() else {
            return Ok(None);
        };
        let session = p
            .session_duration()
            .and_then(|iso| iso.parse::<jiff::Span>().ok())
            .and_then(|span| jiff::SignedDuration::try_from(span).ok());
        Ok(p.name().map(|n| (n.to_owned(), session)))
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

pub(super) fn opaque<T>(
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
        let src = [
            include_str!("mod.rs"),
            include_str!("assignments.rs"),
            include_str!("policies.rs"),
            include_str!("storage.rs"),
        ]
        .map(|f| f.split("#[cfg(test)]").next().unwrap_or_default())
        .concat();
        let src = src.as_str();
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
            // S3's actions are not named like its operations.
            .map(|op| match op {
                "ListObjectsV2" => "s3:ListBucket",
                "GetObject" => "s3:GetObject",
                "PutObject" => "s3:PutObject",
                op => op,
            })
            .collect();
        if src.contains("object_lock_mode") {
            called.push("s3:PutObjectRetention");
        }
        called.sort_unstable();
        called.dedup();
        assert!(called.len() >= 12, "found {called:?}");

        let policy = std::fs::read_to_string(root.join("deploy/iam/worker-policy.json"))
            .expect("policy file");
        // The actions the statements allow (condition keys are not actions).
        let doc: serde_json::Value = serde_json::from_str(&policy).expect("policy JSON");
        let actions: Vec<String> = doc["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|st| match &st["Action"] {
                serde_json::Value::Array(a) => a.clone(),
                one => vec![one.clone()],
            })
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let mut allowed: Vec<String> = actions
            .iter()
            .map(String::as_str)
            .filter(|s| {
                ["sso:", "identitystore:", "organizations:", "s3:"]
                    .iter()
                    .any(|p| s.starts_with(p))
            })
            .map(|s| match s.strip_prefix("s3:") {
                Some(_) => s.to_owned(),
                None => s.split(':').nth(1).unwrap_or_default().to_owned(),
            })
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        assert_eq!(allowed, called, "policy vs calls");
    }
}
