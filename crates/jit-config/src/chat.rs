//! The `chat:` section: Slack and Teams. Secrets (bot token, signing secret, webhook URL, the
//! key that signs vote links) come only from the environment or files named there, never
//! from the config file, and never print ([`Secret`]).

use std::path::PathBuf;

use serde::Deserialize;

use crate::ConfigError;

/// A secret value; its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// Where approvers' vote links point: the API's HTTP address as they reach it.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The Web API's base URL (JIT_SLACK_API_URL).
    #[serde(default = "slack_api")]
    pub api_url: String,
    /// Break-glass tickets are announced here.
    #[serde(default)]
    pub audit_channel: Option<String>,
}

fn slack_api() -> String {
    "https://slack.com/api".into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    pub api_url: String,
    /// JIT_SLACK_BOT_TOKEN or JIT_SLACK_BOT_TOKEN_FILE.
    pub bot_token: Secret,
    /// JIT_SLACK_SIGNING_SECRET(_FILE): the API verifies interactive requests with it.
    pub signing_secret: Option<Secret>,
    pub audit_channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsSettings {
    /// JIT_TEAMS_WEBHOOK_URL(_FILE): a Workflows webhook.
    pub webhook_url: Secret,
}

/// Chat, resolved: each part present only when its secret is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatSettings {
    pub slack: Option<SlackSettings>,
    pub teams: Option<TeamsSettings>,
    /// JIT_PUBLIC_URL.
    pub public_url: Option<String>,
    /// JIT_LINK_SECRET(_FILE): signs Teams vote links.
    pub link_secret: Option<Secret>,
}

/// `VAR`, or the contents of the file `VAR_FILE` names (trimmed).
pub(crate) fn secret(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
) -> Result<Option<Secret>, ConfigError> {
    if let Some(v) = env(var).filter(|v| !v.is_empty()) {
        return Ok(Some(Secret(v)));
    }
    let file_var = format!("{var}_FILE");
    match env(&file_var) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(PathBuf::from(&path))
            .map(|s| Some(Secret(s.trim().to_owned())))
            .map_err(|e| ConfigError::Env {
                var: file_var,
                problem: format!("cannot read {path}: {e}"),
            }),
    }
}

impl ChatConfig {
    pub fn settings(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ChatSettings, ConfigError> {
        let slack = match secret(env, "JIT_SLACK_BOT_TOKEN")? {
            None => None,
            Some(bot_token) => {
                let cfg = self.slack.clone().unwrap_or(SlackConfig {
                    api_url: slack_api(),
                    audit_channel: None,
                });
                Some(SlackSettings {
                    api_url: env("JIT_SLACK_API_URL").unwrap_or(cfg.api_url),
                    bot_token,
                    signing_secret: secret(env, "JIT_SLACK_SIGNING_SECRET")?,
                    audit_channel: cfg.audit_channel,
                })
            }
        };
        let teams =
            secret(env, "JIT_TEAMS_WEBHOOK_URL")?.map(|webhook_url| TeamsSettings { webhook_url });
        Ok(ChatSettings {
            slack,
            teams,
            public_url: env("JIT_PUBLIC_URL").or_else(|| self.public_url.clone()),
            link_secret: secret(env, "JIT_LINK_SECRET")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_env_or_files_and_never_print() {
        let dir = std::env::temp_dir().join(format!("jit-chat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "xoxb-from-file\n").unwrap();
        let path = f.display().to_string();
        let env = move |v: &str| match v {
            "JIT_SLACK_BOT_TOKEN_FILE" => Some(path.clone()),
            "JIT_SLACK_SIGNING_SECRET" => Some("shh".into()),
            _ => None,
        };
        let s = ChatConfig::default().settings(&env).unwrap();
        let slack = s.slack.clone().unwrap();
        assert_eq!(slack.bot_token.expose(), "xoxb-from-file");
        assert_eq!(slack.api_url, "https://slack.com/api");
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("xoxb") && !printed.contains("shh"),
            "{printed}"
        );
        assert!(s.teams.is_none(), "no webhook, no Teams");
        let none = ChatConfig::default().settings(&|_| None).unwrap();
        assert!(none.slack.is_none() && none.link_secret.is_none());
    }
}
