//! The parts of a CloudTrail record (AWS's documented record format) that session audit
//! reads. Every field is optional: CloudTrail omits what does not apply.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// RFC 3339, UTC (`2026-12-04T10:00:00Z`).
    #[serde(default)]
    pub event_time: Option<String>,
    /// `s3.amazonaws.com`, `signin.amazonaws.com`, ...
    #[serde(default)]
    pub event_source: Option<String>,
    #[serde(default)]
    pub event_name: Option<String>,
    /// `AwsApiCall`, `AwsConsoleSignIn`, ...
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub aws_region: Option<String>,
    #[serde(default)]
    pub recipient_account_id: Option<String>,
    #[serde(default)]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub user_identity: Option<UserIdentity>,
    #[serde(default)]
    pub request_parameters: Option<RequestParameters>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `AssumedRole`, `SAMLUser`, `IAMUser`, ...
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>` for an assumed role.
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub session_context: Option<SessionContext>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default)]
    pub session_issuer: Option<SessionIssuer>,
    #[serde(default)]
    pub attributes: Option<SessionAttributes>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// When the role session was issued (RFC 3339).
    #[serde(default)]
    pub creation_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    /// The role's name.
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
}

/// The request of `AssumeRoleWithSAML` (Identity Center's federation into the account).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestParameters {
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub role_session_name: Option<String>,
}

/// Who made a record: in which account, as which role, under which session name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor<'a> {
    pub account: &'a str,
    pub role: &'a str,
    pub session: &'a str,
}

impl Record {
    /// The account, role and session of the record's caller — for an assumed role its
    /// identity, for the federation (`AssumeRoleWithSAML`) the role and session it asked for.
    /// `None` for anything else (IAM users, services, the root user).
    pub fn actor(&self) -> Option<Actor<'_>> {
        let account = self
            .recipient_account_id
            .as_deref()
            .or_else(|| self.user_identity.as_ref()?.account_id.as_deref())?;
        if self.event_name.as_deref() == Some("AssumeRoleWithSAML") {
            let p = self.request_parameters.as_ref()?;
            let role = p.role_arn.as_deref()?.rsplit('/').next()?;
            let session = p.role_session_name.as_deref()?;
            return Some(Actor {
                account,
                role,
                session,
            });
        }
        let id = self.user_identity.as_ref()?;
        if id.kind.as_deref() != Some("AssumedRole") {
            return None;
        }
        // arn:aws:sts::<account>:assumed-role/<role>/<session>
        let rest = id.arn.as_deref()?.split_once(":assumed-role/")?.1;
        let (role, session) = rest.split_once('/')?;
        Some(Actor {
            account,
            role,
            session,
        })
    }

    /// The event's time.
    pub fn time(&self) -> Option<jiff::Timestamp> {
        self.event_time.as_deref()?.parse().ok()
    }

    /// When the caller's role session was issued: from the session context of an
    /// assumed-role call, or the event's own time for the federation that issues it
    /// (`AssumeRoleWithSAML`). `None` when the record does not say.
    pub fn session_issued(&self) -> Option<jiff::Timestamp> {
        if self.event_name.as_deref() == Some("AssumeRoleWithSAML") {
            return self.time();
        }
        self.user_identity
            .as_ref()?
            .session_context
            .as_ref()?
            .attributes
            .as_ref()?
            .creation_date
            .as_deref()?
            .parse()
            .ok()
    }

    /// The service, short (`s3` of `s3.amazonaws.com`).
    pub fn service(&self) -> &str {
        let s = self.event_source.as_deref().unwrap_or("unknown");
        s.strip_suffix(".amazonaws.com").unwrap_or(s)
    }

    /// Refused for lack of permission.
    pub fn denied(&self) -> bool {
        self.error_code.as_deref().is_some_and(|c| {
            c.contains("AccessDenied") || c.contains("UnauthorizedOperation") || c == "Forbidden"
        })
    }

    pub fn is_console_sign_in(&self) -> bool {
        self.event_name.as_deref() == Some("ConsoleLogin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_of_an_assumed_role_and_of_the_federation() {
        let r: Record = serde_json::from_str(
            r#"{"eventTime":"2026-12-04T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets",
                "recipientAccountId":"111111111111",
                "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_ReadOnly_0123456789abcdef/bob@example.com"}}"#,
        )
        .unwrap();
        assert_eq!(
            r.actor(),
            Some(Actor {
                account: "111111111111",
                role: "AWSReservedSSO_ReadOnly_0123456789abcdef",
                session: "bob@example.com"
            })
        );
        assert_eq!(r.service(), "s3");
        let saml: Record = serde_json::from_str(
            r#"{"eventName":"AssumeRoleWithSAML","eventSource":"sts.amazonaws.com","recipientAccountId":"111111111111",
                "userIdentity":{"type":"SAMLUser"},
                "requestParameters":{"roleArn":"arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/us-east-1/AWSReservedSSO_ReadOnly_0123456789abcdef","roleSessionName":"bob@example.com"}}"#,
        )
        .unwrap();
        assert_eq!(
            saml.actor().map(|a| (a.role, a.session)),
            Some((
                "AWSReservedSSO_ReadOnly_0123456789abcdef",
                "bob@example.com"
            ))
        );
        let user: Record = serde_json::from_str(
            r#"{"recipientAccountId":"1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/x"}}"#,
        )
        .unwrap();
        assert_eq!(user.actor(), None);
    }
}
