//! Account assignments: list, create and delete — check first, poll the asynchronous status
//! on the [`PollSchedule`](crate::PollSchedule), verify by listing.

use std::time::Instant;

use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, PrincipalType as AwsPrincipalType, StatusValues, TargetType,
};
use jit_domain::lease::serial_key;
use jit_domain::{
    AccountId, AssignmentRef, InstanceArn, PermissionSetArn, PrincipalId, PrincipalType,
};

use super::{IdentityCenter, Progress, opaque};
use crate::error::{AwsError, aws};

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

impl IdentityCenter {
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
    /// The whole of it holds one of this process's operation permits, one per account and
    /// permission set at a time (see [`crate::ops`]).
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
        let _permit = self.ops.acquire(serial_key(a)).await;
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
    /// Holds an operation permit like [`IdentityCenter::create_assignment`].
    /// A FAILED deletion is returned as retryable: a revocation is never abandoned.
    pub async fn delete_assignment(
        &self,
        a: &AssignmentRef,
        resume: Option<&str>,
        progress: &impl Progress,
    ) -> Result<(), AwsError> {
        let _permit = self.ops.acquire(serial_key(a)).await;
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
        let mut delays = self.poll.delays();
        loop {
            tokio::time::sleep(delays.next().unwrap_or(self.poll.max_interval)).await;
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
        for delay in self.poll.delays().skip(2).take(6) {
            if self.assignment_exists(a).await? == should_exist {
                return Ok(());
            }
            tokio::time::sleep(delay).await;
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
