//! CloudTrail log files for tests and the trail benchmark, in AWS's documented record format
//! (`{"Records": [...]}`, gzip): assumed-role calls of Identity Center roles with their
//! session context, the federation (`AssumeRoleWithSAML`) and console sign-in that start a
//! session, errors with `errorCode`, IAM users' calls — and the key layout of an organization
//! trail (`AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`).

use std::io::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};

/// Who makes a call: a principal's session of a permission set's role in an account.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: String,
    pub permission_set: String,
    /// The role's 16-character suffix (Identity Center's).
    pub suffix: String,
    pub session: String,
    /// When the session was issued.
    pub issued: Timestamp,
}

impl Actor {
    pub fn role(&self) -> String {
        format!("AWSReservedSSO_{}_{}", self.permission_set, self.suffix)
    }

    fn identity(&self) -> Value {
        let role = self.role();
        json!({
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE{}:{}", &self.suffix[..6], self.session),
            "arn": format!("arn:aws:sts::{}:assumed-role/{role}/{}", self.account, self.session),
            "accountId": self.account,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": format!("AROAEXAMPLE{}", &self.suffix[..6]),
                    "arn": format!(
                        "arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/{role}",
                        self.account
                    ),
                    "accountId": self.account,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": self.issued.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "mfaAuthenticated": "false",
                },
            },
        })
    }

    /// An API call of this session.
    pub fn call(
        &self,
        at: Timestamp,
        source: &str,
        name: &str,
        read_only: bool,
        error: Option<&str>,
    ) -> Value {
        let mut r = json!({
            "eventVersion": "1.09",
            "userIdentity": self.identity(),
            "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": format!("{source}.amazonaws.com"),
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.17.0",
            "requestParameters": null,
            "responseElements": null,
            "requestID": uuid(at, name),
            "eventID": uuid(at, &format!("{name}{}", self.session)),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        });
        if let Some(e) = error {
            r["errorCode"] = json!(e);
            r["errorMessage"] = json!(format!(
                "User is not authorized to perform: {source}:{name}"
            ));
        }
        r
    }

    /// The console sign-in of this session.
    pub fn console_login(&self, at: Timestamp) -> Value {
        let mut r = self.call(at, "signin", "ConsoleLogin", false, None);
        r["eventType"] = json!("AwsConsoleSignIn");
        r["responseElements"] = json!({"ConsoleLogin": "Success"});
        r
    }

    /// The federation that issued this session (in the account, as its own caller).
    pub fn federation(&self) -> Value {
        let role = self.role();
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "SAMLUser", "principalId": format!("x:{}", self.session),
                "userName": self.session, "identityProvider": "AWSSSO"},
            "eventTime": self.issued.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRoleWithSAML",
            "awsRegion": "us-east-1",
            "requestParameters": {
                "roleArn": format!(
                    "arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/{role}",
                    self.account
                ),
                "roleSessionName": self.session,
                "durationSeconds": 3600,
            },
            "eventID": uuid(self.issued, &format!("saml{}", self.session)),
            "readOnly": true,
            "eventType": "AwsApiCall",
            "recipientAccountId": self.account,
        })
    }
}

/// A call by an IAM user (never anyone's session of a permission set).
pub fn iam_user_call(account: &str, at: Timestamp, name: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/deploy"),
            "accountId": account, "userName": "deploy"},
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": uuid(at, name),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    })
}

/// A deterministic id of the shape CloudTrail uses.
fn uuid(at: Timestamp, salt: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{}{salt}", at.as_nanosecond()).as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A log file of `records`, gzip-compressed as CloudTrail delivers it.
pub fn file(records: &[Value]) -> Vec<u8> {
    let body = json!({"Records": records}).to_string();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body.as_bytes()).expect("in memory");
    e.finish().expect("in memory")
}

/// The key of a log file of `account` in `region` delivered for `at` (an organization trail
/// of `org`), `n` telling files of the same moment apart.
pub fn key(org: &str, account: &str, region: &str, at: Timestamp, n: u32) -> String {
    let z = at.to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "AWSLogs/{org}/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{n:04}.json.gz",
        z.strftime("%Y/%m/%d"),
        z.strftime("%Y%m%dT%H%MZ"),
    )
}
