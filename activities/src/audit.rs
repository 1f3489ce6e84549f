//! [`AuditActivities`]: session audit (what a ticket's principal did, from the organization
//! trail), the audit record written to the audit bucket, and the account's cut-off policies.
//!
//! Session audit lists only the prefixes of the window's accounts, regions and days
//! (`jit_trail::TrailLayout`), reads each file as a stream on a blocking thread (gzip decoded
//! as it comes, one record in memory), passes over what names no Identity Center role, and
//! writes the attributed records to a temporary file that goes to the audit bucket: memory
//! does not grow with the logs. Whatever cannot be read — a missing bucket, a refused read, a
//! corrupt or truncated file, a record that does not parse — is a line in the summary, never a
//! failed ticket.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use jit_aws::{AwsError, IdentityCenter, Retention};
use jit_config::AuditConfig;
use jit_contract::activity;
use jit_contract::audit::{
    CutoffApplied, CutoffBatch, SessionAuditInput, SessionEvents, SessionEventsInput,
};
use jit_domain::{AuditRecord, Cutoff, Principal, SessionSummary};
use jit_policy::PolicyStore;
use jit_trail::{Scan, TrailLayout, Window};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::DirectoryCache;
use crate::support::{Heartbeat, to_activity_error};

/// The activities of audit records, session audit and cut-off.
#[derive(Debug)]
pub struct AuditActivities {
    aws: Arc<IdentityCenter>,
    directory: Arc<DirectoryCache>,
    policy: Arc<PolicyStore>,
    settings: Option<AuditConfig>,
}

impl AuditActivities {
    pub fn new(
        aws: Arc<IdentityCenter>,
        directory: Arc<DirectoryCache>,
        policy: Arc<PolicyStore>,
        settings: Option<AuditConfig>,
    ) -> Self {
        Self {
            aws,
            directory,
            policy,
            settings,
        }
    }

    fn settings(&self) -> Result<&AuditConfig, ActivityError> {
        self.settings
            .as_ref()
            .ok_or_else(|| final_error("this worker has no worker.audit configured"))
    }
}

fn final_error(message: impl Into<String>) -> ActivityError {
    ActivityError::application(temporalio_sdk::ApplicationFailure::non_retryable(
        message.into(),
    ))
}

/// The cut-off of `a`'s sessions at `before`, if the worker cuts sessions off: their names
/// and how long they may live (the permission set's session duration, or `max_session`).
/// `None`: not configured, or nobody to cut (no such principal any more).
pub(crate) async fn cutoff_for(
    aws: &IdentityCenter,
    settings: Option<&AuditConfig>,
    a: &jit_domain::AssignmentRef,
    before: Timestamp,
) -> Result<Option<Cutoff>, AwsError> {
    let Some(s) = settings.filter(|s| s.cutoff) else {
        return Ok(None);
    };
    let sessions = aws.session_names(a.principal_type, &a.principal_id).await?;
    let Some((permission_set, duration)) = aws.permission_set_info(&a.permission_set_arn).await?
    else {
        return Ok(None);
    };
    if sessions.is_empty() {
        return Ok(None);
    }
    let lives = duration
        .unwrap_or(s.max_session)
        .max(SignedDuration::from_mins(1));
    Ok(Some(Cutoff {
        account: a.account.to_string(),
        permission_set,
        sessions,
        before,
        until: before.checked_add(lives).unwrap_or(Timestamp::MAX),
    }))
}

/// A finished scan: the summary and the file the attributed records went to.
struct Scanned {
    summary: SessionSummary,
    events: tempfile::NamedTempFile,
    /// The latest records (at most the limit asked), oldest first.
    latest: VecDeque<String>,
}

impl AuditActivities {
    /// The windows of `input` (each target, as each of the principal's session names), and
    /// until when sessions issued in the access may be used.
    async fn windows(
        &self,
        input: &SessionAuditInput,
        max_session: SignedDuration,
    ) -> Result<Vec<Window>, ActivityError> {
        let names = self.principal_names(&input.principal).await?;
        let until = input
            .ended
            .checked_add(max_session)
            .unwrap_or(Timestamp::MAX);
        Ok(input
            .targets
            .iter()
            .map(|(account, ps)| Window {
                account: account.to_string(),
                permission_set: ps.to_string(),
                session_names: names.clone(),
                from: input.from,
                ended: input.ended,
                until,
            })
            .collect())
    }

    /// The session names of a principal by name: the user's name and e-mail (each member's
    /// for a group).
    async fn principal_names(&self, p: &Principal) -> Result<Vec<String>, ActivityError> {
        let users = match p {
            Principal::User(u) => vec![u.clone()],
            Principal::Group(g) => self
                .directory
                .members(g.as_str())
                .await
                .map_err(to_activity_error)?
                .map(|m| m.into_iter().collect())
                .unwrap_or_default(),
        };
        let mut names = Vec::new();
        for u in users {
            if let Some(email) = self.aws.user_email(&u).await.map_err(to_activity_error)? {
                names.push(email);
            }
            names.push(u.to_string());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Reads the trail for `input` until `until` (the window's end, or now for a live look),
    /// keeping the latest `keep` records in memory besides the file.
    async fn scan(
        &self,
        ctx: &ActivityContext,
        input: &SessionAuditInput,
        keep: usize,
        live: bool,
    ) -> Result<Scanned, ActivityError> {
        let settings = self.settings()?;
        let Some(trail) = &settings.trail else {
            return Err(final_error(
                "this worker has no worker.audit.trail configured",
            ));
        };
        let mut windows = self.windows(input, settings.max_session).await?;
        if live {
            let now = Timestamp::now();
            for w in &mut windows {
                w.until = w.until.min(now);
            }
        }
        let until = windows.iter().map(|w| w.until).max().unwrap_or(input.ended);
        let org = match &trail.org_id {
            Some(o) => Some(o.clone()),
            None => Some(
                self.aws
                    .organization_id()
                    .await
                    .map_err(to_activity_error)?,
            ),
        };
        let layout = TrailLayout {
            prefix: trail.prefix.clone(),
            org_id: org,
        };
        let accounts: Vec<String> = {
            let mut a: Vec<String> = input.targets.iter().map(|(a, _)| a.to_string()).collect();
            a.dedup();
            a
        };
        let patterns = self.policy.current().rules().notable_actions.clone();
        let mut summary = SessionSummary {
            from: Some(input.from),
            until: Some(until),
            ..SessionSummary::default()
        };
        let events = tempfile::NamedTempFile::new().map_err(|e| final_error(e.to_string()))?;
        let mut latest = VecDeque::new();
        let hb = Heartbeat::new(ctx);
        for prefix in layout.prefixes(&accounts, &trail.regions, input.from, until) {
            let objects = match hb
                .around(self.aws.list_objects(&trail.bucket, &prefix))
                .await
            {
                Ok(o) => o,
                Err(e) if e.is_retryable() => return Err(to_activity_error(e)),
                Err(e) => {
                    // A missing bucket or a refused listing: said once, not per prefix.
                    let line = format!("s3://{}/{prefix}: {e}", trail.bucket);
                    summary.unreadable.push(line);
                    break;
                }
            };
            for o in objects {
                let read = hb.around(self.aws.read_object(&trail.bucket, &o.key)).await;
                let body = match read {
                    Ok(b) => b,
                    Err(e) if e.is_retryable() => return Err(to_activity_error(e)),
                    Err(e) => {
                        summary.unreadable.push(format!("{}: {e}", o.key));
                        continue;
                    }
                };
                let file = events.reopen().map_err(|e| final_error(e.to_string()))?;
                let windows = windows.clone();
                let patterns = patterns.clone();
                let mut part = std::mem::take(&mut summary);
                let mut kept = std::mem::take(&mut latest);
                let key = o.key.clone();
                let done = tokio::task::spawn_blocking(move || {
                    use std::io::Seek as _;
                    let mut out = std::io::BufWriter::new(file);
                    let _ = out.seek(std::io::SeekFrom::End(0));
                    let scan = Scan::new(&windows, &patterns);
                    let reader = tokio_util::io::SyncIoBridge::new(body);
                    let result = scan.file(reader, &mut part, |raw| {
                        let _ = out.write_all(raw).and_then(|()| out.write_all(b"\n"));
                        if keep > 0 {
                            if kept.len() == keep {
                                kept.pop_front();
                            }
                            kept.push_back(String::from_utf8_lossy(raw).into_owned());
                        }
                    });
                    if let Err(e) = result {
                        part.unreadable.push(format!("{key}: {e}"));
                    }
                    let _ = out.flush();
                    (part, kept)
                });
                let (part, kept) = hb
                    .around(done)
                    .await
                    .map_err(|e| final_error(format!("reading {}: {e}", o.key)))?;
                summary = part;
                latest = kept;
            }
        }
        Ok(Scanned {
            summary,
            events,
            latest,
        })
    }
}

#[activities]
impl AuditActivities {
    /// What the principal did with an ended ticket's access; the attributed events go to the
    /// audit bucket as JSON lines (`<prefix>/sessions/<ticket>.jsonl`).
    #[activity(definition = activity::SessionAudit)]
    pub async fn session_audit(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SessionAuditInput,
    ) -> Result<SessionSummary, ActivityError> {
        let scanned = self.scan(&ctx, &input, 0, false).await?;
        let mut summary = scanned.summary;
        let settings = self.settings()?;
        if input.write_events
            && let Some(bucket) = &settings.bucket
        {
            let key = keyed(
                &settings.prefix,
                &format!("sessions/{}.jsonl", input.ticket_id),
            );
            match self
                .aws
                .put_file(
                    bucket,
                    &key,
                    scanned.events.path(),
                    "application/x-ndjson",
                    retention(settings, Timestamp::now()),
                )
                .await
            {
                Ok(()) => summary.events_at = Some(format!("s3://{bucket}/{key}")),
                Err(e) if e.is_retryable() => return Err(to_activity_error(e)),
                Err(e) => summary.unreadable.push(format!(
                    "the event list was not written to s3://{bucket}/{key}: {e}"
                )),
            }
        }
        tracing::info!(ticket = %input.ticket_id, summary = %summary.line(), "session audit");
        Ok(summary)
    }

    /// A live look: the summary so far and the latest events.
    #[activity(definition = activity::SessionEventsNow)]
    pub async fn session_events(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SessionEventsInput,
    ) -> Result<SessionEvents, ActivityError> {
        let scanned = self.scan(&ctx, &input.audit, input.limit, true).await?;
        Ok(SessionEvents {
            summary: scanned.summary,
            events: scanned.latest.into_iter().collect(),
        })
    }

    /// Writes the record of an ended ticket (the same key on a retry); answers where.
    #[activity(definition = activity::ExportAudit)]
    pub async fn export_audit(
        self: Arc<Self>,
        _ctx: ActivityContext,
        record: AuditRecord,
    ) -> Result<String, ActivityError> {
        let settings = self.settings()?;
        let Some(bucket) = &settings.bucket else {
            return Err(final_error(
                "this worker has no worker.audit.bucket configured",
            ));
        };
        let key = record.key(&settings.prefix);
        let body = serde_json::to_vec(&record).map_err(|e| final_error(e.to_string()))?;
        let ended = record.ended_at.unwrap_or_else(Timestamp::now);
        self.aws
            .put_object(
                bucket,
                &key,
                body,
                "application/json",
                retention(settings, ended),
            )
            .await
            .map_err(to_activity_error)?;
        tracing::info!(ticket = %record.ticket_id, key = %key, "audit record written");
        Ok(format!("s3://{bucket}/{key}"))
    }

    /// Writes cut-offs into an account's policies, pruning what expired.
    #[activity(definition = activity::ApplyCutoffs)]
    pub async fn apply_cutoffs(
        self: Arc<Self>,
        _ctx: ActivityContext,
        batch: CutoffBatch,
    ) -> Result<CutoffApplied, ActivityError> {
        let allowed = self.settings.as_ref().map_or(2, |s| s.cutoff_policies);
        let existing: Vec<String> = self
            .aws
            .cutoff_policies(&batch.account)
            .await
            .map_err(to_activity_error)?
            .into_iter()
            .map(|p| p.content)
            .collect();
        let now = batch.now.unwrap_or_else(Timestamp::now);
        let mut refused = Vec::new();
        let mut add = batch.add;
        let documents = loop {
            match jit_trail::cutoff::pack(&existing, &add, now, allowed) {
                Ok(d) => break d,
                // Too much to deny at once: the newest cut-offs wait out of the policy (said
                // in the log and the answer), the ones in force stay.
                Err(e) => match add.pop() {
                    Some(c) => refused.push(format!(
                        "{} as {} in {}: {e}",
                        c.sessions.join(", "),
                        c.permission_set,
                        c.account
                    )),
                    None => return Err(final_error(e.to_string())),
                },
            }
        };
        self.aws
            .write_cutoff_policies(&batch.account, &documents)
            .await
            .map_err(to_activity_error)?;
        for r in &refused {
            tracing::warn!(account = %batch.account, "cut-off not written: {r}");
        }
        tracing::info!(
            account = %batch.account,
            added = add.len(),
            policies = documents.len(),
            "session cut-off policies written"
        );
        Ok(CutoffApplied {
            next_expiry: jit_trail::cutoff::next_expiry(&documents),
            documents,
            refused,
        })
    }
}

/// `<prefix>/<rest>` (no leading slash, no double one).
fn keyed(prefix: &str, rest: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        rest.to_owned()
    } else {
        format!("{p}/{rest}")
    }
}

/// Object Lock retention from `from`, when configured.
fn retention(settings: &AuditConfig, from: Timestamp) -> Option<Retention> {
    settings.retention.map(|r| Retention {
        compliance: settings.retention_compliance,
        until: from.checked_add(r).unwrap_or(Timestamp::MAX),
    })
}
