//! Organizations: the service control policies jit keeps on an account to cut off sessions
//! that outlive their access (their statements come from `jit_trail::cutoff`). jit's policies
//! on an account are named `jit-session-cutoff-<account>-<n>`, attached to that account only;
//! nothing else is read or written.

use aws_sdk_organizations::types::PolicyType;

use super::IdentityCenter;
use crate::error::{AwsError, aws};

/// One of jit's cut-off policies on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoffPolicy {
    pub id: String,
    pub name: String,
    pub content: String,
}

/// The name of jit's `n`-th cut-off policy of `account`.
pub fn cutoff_policy_name(account: &str, n: usize) -> String {
    format!("jit-session-cutoff-{account}-{n}")
}

impl IdentityCenter {
    /// The organization's id (`o-…`), for the organization trail's key layout.
    pub async fn organization_id(&self) -> Result<String, AwsError> {
        let out = self
            .org
            .describe_organization()
            .send()
            .await
            .map_err(|e| aws("DescribeOrganization", e))?;
        out.organization()
            .and_then(|o| o.id())
            .map(str::to_owned)
            .ok_or(AwsError::Final {
                op: "DescribeOrganization",
                message: "no organization id in the answer".into(),
            })
    }

    /// jit's cut-off policies attached to `account`, in name order.
    pub async fn cutoff_policies(&self, account: &str) -> Result<Vec<CutoffPolicy>, AwsError> {
        let prefix = format!("jit-session-cutoff-{account}-");
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .org
                .list_policies_for_target()
                .target_id(account)
                .filter(PolicyType::ServiceControlPolicy)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws("ListPoliciesForTarget", e))?;
            for p in page.policies() {
                if let (Some(id), Some(name)) = (p.id(), p.name())
                    && name.starts_with(&prefix)
                {
                    ids.push((name.to_owned(), id.to_owned()));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        ids.sort();
        let mut out = Vec::new();
        for (name, id) in ids {
            let d = self
                .org
                .describe_policy()
                .policy_id(&id)
                .send()
                .await
                .map_err(|e| aws("DescribePolicy", e))?;
            let content = d
                .policy()
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_owned();
            out.push(CutoffPolicy { id, name, content });
        }
        Ok(out)
    }

    /// Makes `account`'s cut-off policies hold exactly `documents`: updates those there,
    /// creates and attaches what is missing, detaches and deletes what is left over.
    pub async fn write_cutoff_policies(
        &self,
        account: &str,
        documents: &[String],
    ) -> Result<(), AwsError> {
        let existing = self.cutoff_policies(account).await?;
        for (n, doc) in documents.iter().enumerate() {
            let name = cutoff_policy_name(account, n);
            match existing.iter().find(|p| p.name == name) {
                Some(p) if &p.content == doc => {}
                Some(p) => {
                    self.org
                        .update_policy()
                        .policy_id(&p.id)
                        .content(doc)
                        .send()
                        .await
                        .map_err(|e| aws("UpdatePolicy", e))?;
                }
                None => {
                    let created = self
                        .org
                        .create_policy()
                        .name(&name)
                        .description(
                            "jit: denies sessions issued before a revoked access ended \
                             (statements expire on their own; see docs/audit.md)",
                        )
                        .r#type(PolicyType::ServiceControlPolicy)
                        .content(doc)
                        .send()
                        .await
                        .map_err(|e| aws("CreatePolicy", e))?;
                    let id = created
                        .policy()
                        .and_then(|p| p.policy_summary())
                        .and_then(|s| s.id())
                        .ok_or(AwsError::Final {
                            op: "CreatePolicy",
                            message: "no policy id in the answer".into(),
                        })?
                        .to_owned();
                    self.org
                        .attach_policy()
                        .policy_id(&id)
                        .target_id(account)
                        .send()
                        .await
                        .map_err(|e| aws("AttachPolicy", e))?;
                }
            }
        }
        for p in existing
            .iter()
            .filter(|p| !(0..documents.len()).any(|n| p.name == cutoff_policy_name(account, n)))
        {
            self.org
                .detach_policy()
                .policy_id(&p.id)
                .target_id(account)
                .send()
                .await
                .map_err(|e| aws("DetachPolicy", e))?;
            self.org
                .delete_policy()
                .policy_id(&p.id)
                .send()
                .await
                .map_err(|e| aws("DeletePolicy", e))?;
        }
        Ok(())
    }
}
