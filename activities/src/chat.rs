//! [`Chat`]: telling people about tickets — approvers get a vote message (Slack: in the
//! plan's channel or directly, with Approve / Deny / Delegate buttons; Teams: an Adaptive Card
//! with each approver's own signed vote links), updated in place as the ticket moves; the
//! requester and delegates get direct messages; break-glass goes to the audit channel. With
//! nothing configured, announcements are only logged.

use std::sync::Arc;

use jiff::Timestamp;
use jit_aws::IdentityCenter;
use jit_chat::slack::SlackClient;
use jit_chat::teams::{TeamsClient, VoteLink, adaptive_card, sign_link};
use jit_config::ChatSettings;
use jit_contract::chat::{Announcement, ChatEvent};
use jit_domain::{Card, ChatMessage, UserName};

use crate::metrics::{ActivityMetrics, NoMetrics};

#[derive(Debug)]
pub struct Chat {
    aws: Arc<IdentityCenter>,
    slack: Option<(SlackClient, Option<String>)>,
    teams: Option<TeamsClient>,
    public_url: Option<String>,
    link_secret: Option<jit_config::Secret>,
    metrics: Arc<dyn ActivityMetrics>,
}

/// How long a Teams vote link works.
const LINK_LIFETIME_SECS: i64 = 24 * 3600;

impl Chat {
    pub fn new(aws: Arc<IdentityCenter>, s: &ChatSettings) -> Self {
        Self {
            aws,
            slack: s.slack.as_ref().map(|sl| {
                (
                    SlackClient::new(&sl.api_url, sl.bot_token.expose()),
                    sl.audit_channel.clone(),
                )
            }),
            teams: s
                .teams
                .as_ref()
                .map(|t| TeamsClient::new(t.webhook_url.expose())),
            public_url: s.public_url.clone(),
            link_secret: s.link_secret.clone(),
            metrics: Arc::new(NoMetrics),
        }
    }

    /// Reports deliveries to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn ActivityMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Counts one delivery on `channel` (`slack`, `teams`) by its result.
    fn counted<T, E>(&self, channel: &'static str, r: Result<T, E>) -> Result<T, E> {
        self.metrics.chat_delivery(channel, r.is_ok());
        r
    }

    /// Whether no chat is configured (announcements only reach the log).
    pub fn is_silent(&self) -> bool {
        self.slack.is_none() && self.teams.is_none()
    }

    /// Sends `a`; the newly posted messages (to update later). Errors are worth a retry.
    pub async fn announce(
        &self,
        a: &Announcement,
        nonce: &str,
    ) -> Result<Vec<ChatMessage>, String> {
        tracing::info!(
            ticket = %a.card.ticket_id,
            event = ?a.event,
            to = ?a.to.iter().map(UserName::as_str).collect::<Vec<_>>(),
            "announce: {}",
            a.card.title
        );
        let mut posted = Vec::new();
        if let Some((slack, audit)) = &self.slack {
            for m in &a.messages {
                self.counted("slack", slack.update(m, &a.card).await)
                    .map_err(|e| e.to_string())?;
            }
            let dm = |who: Vec<UserName>, card: Card| (who, card);
            let headed = |event: ChatEvent| {
                let mut c = a.card.clone();
                c.title = format!("{}: {}", event.headline(), c.title);
                c
            };
            let mut direct: Vec<(Vec<UserName>, Card)> = Vec::new();
            match a.event {
                ChatEvent::AwaitingApproval => {
                    if let Some(ch) = &a.route.channel {
                        posted.push(
                            self.counted("slack", slack.post(ch, &a.card).await)
                                .map_err(|e| e.to_string())?,
                        );
                    }
                    if a.route.direct || a.route.channel.is_none() {
                        let (who, card) = dm(a.approvers.clone(), headed(a.event));
                        for u in who {
                            if let Some(id) = self.slack_id(slack, &u).await? {
                                posted.push(
                                    self.counted("slack", slack.post(&id, &card).await)
                                        .map_err(|e| e.to_string())?,
                                );
                            }
                        }
                    }
                }
                ChatEvent::BreakGlass => {
                    if let Some(ch) = audit {
                        let mut c = headed(a.event);
                        c.actions = false;
                        self.counted("slack", slack.post(ch, &c).await)
                            .map_err(|e| e.to_string())?;
                    }
                    direct.push(dm(a.approvers.clone(), headed(a.event)));
                }
                ChatEvent::Updated => {}
                other => {
                    let mut c = headed(other);
                    c.actions = other == ChatEvent::Delegated && a.card.actions;
                    direct.push(dm(a.to.clone(), c));
                }
            }
            for (who, card) in direct {
                for u in who {
                    if let Some(id) = self.slack_id(slack, &u).await? {
                        self.counted("slack", slack.post(&id, &card).await)
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        if let (Some(teams), true) = (&self.teams, a.route.teams) {
            let links = if a.event == ChatEvent::AwaitingApproval || a.event == ChatEvent::Delegated
            {
                self.links(a, nonce)
            } else {
                Vec::new()
            };
            self.counted("teams", teams.post(&adaptive_card(&a.card, &links)).await)
                .map_err(|e| format!("Teams webhook: {e}"))?;
        }
        Ok(posted)
    }

    /// Each approver's own Approve and Deny links.
    fn links(&self, a: &Announcement, nonce: &str) -> Vec<(String, String)> {
        let (Some(base), Some(secret)) = (&self.public_url, &self.link_secret) else {
            return Vec::new();
        };
        let exp = Timestamp::now().as_second() + LINK_LIFETIME_SECS;
        let who: Vec<&UserName> = if a.event == ChatEvent::Delegated {
            a.to.iter().collect()
        } else {
            a.approvers.iter().collect()
        };
        let mut out = Vec::new();
        for u in who {
            for (d, label) in [("approve", "Approve"), ("deny", "Deny")] {
                let link = VoteLink {
                    t: a.card.ticket_id.clone(),
                    a: u.to_string(),
                    d: d.into(),
                    exp,
                    n: format!("{nonce}-{u}-{d}"),
                };
                let token = sign_link(secret.expose().as_bytes(), &link);
                out.push((
                    format!("{label} ({u})"),
                    format!("{}/teams/vote?link={token}", base.trim_end_matches('/')),
                ));
            }
        }
        out
    }

    /// The Slack user id of `u`, by the email the identity store has for them.
    async fn slack_id(&self, slack: &SlackClient, u: &UserName) -> Result<Option<String>, String> {
        let Some(email) = self.aws.user_email(u).await.map_err(|e| e.to_string())? else {
            tracing::warn!(user = %u, "no email in the identity store: not notified");
            return Ok(None);
        };
        let id = slack
            .user_by_email(&email)
            .await
            .map_err(|e| e.to_string())?;
        if id.is_none() {
            tracing::warn!(user = %u, "not found in Slack: not notified");
        }
        Ok(id)
    }
}
