//! Seeding the AWS sandbox (moto) from the `sandbox.seed` section of `temporal-dev.yaml`:
//! an organization with accounts, identity-store groups and users, permission sets.
//! Used by `cargo xtask up` and the test kit; works against any empty Identity Center.

use std::collections::BTreeMap;

use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet};
use jit_config::Seed;
use jit_domain::UserName;

use crate::error::{AwsError, aws};
use crate::identity_center::IdentityCenter;

/// The ids the sandbox gave to what was seeded, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub accounts: BTreeMap<String, String>,
    pub groups: BTreeMap<String, String>,
    pub users: BTreeMap<String, String>,
    pub permission_sets: BTreeMap<String, String>,
}

fn missing(op: &'static str, what: &str) -> AwsError {
    AwsError::Final {
        op,
        message: format!("answer without {what}"),
    }
}

impl IdentityCenter {
    /// Creates `bucket` (the sandbox and tests; Object Lock can only be had from the start).
    pub async fn create_bucket(&self, bucket: &str, object_lock: bool) -> Result<(), AwsError> {
        self.s3
            .create_bucket()
            .bucket(bucket)
            .object_lock_enabled_for_bucket(object_lock)
            .send()
            .await
            .map_err(|e| aws("CreateBucket", e))?;
        Ok(())
    }

    /// Seeds an empty sandbox. Not idempotent: run it once after a reset.
    pub async fn seed(&self, seed: &Seed) -> Result<SeedReport, AwsError> {
        let mut report = SeedReport::default();
        let instance = self.instance().await?.clone();

        self.org
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .map_err(|e| aws("CreateOrganization", e))?;
        for b in &seed.buckets {
            self.create_bucket(&b.name, b.object_lock).await?;
        }
        for name in &seed.accounts {
            let id = self.create_account(name).await?;
            report.accounts.insert(name.clone(), id);
        }

        for g in &seed.groups {
            let id = self.create_group(&g.name, &g.description).await?;
            report.groups.insert(g.name.clone(), id);
        }

        for u in &seed.users {
            let user_id = self.create_user(&u.name, &u.display_name, &u.email).await?;
            for g in &u.groups {
                let group_id = report.groups.get(g).ok_or_else(|| AwsError::Final {
                    op: "CreateGroupMembership",
                    message: format!(
                        "user {} is in group {g}, which the seed does not define",
                        u.name
                    ),
                })?;
                self.add_membership(group_id, &user_id).await?;
            }
            report.users.insert(u.name.clone(), user_id);
        }

        for ps in &seed.permission_sets {
            let out = self
                .sso
                .create_permission_set()
                .instance_arn(instance.arn.as_str())
                .name(&ps.name)
                .description(&ps.description)
                // Always pass it: without it moto answers with a value the SDK cannot parse.
                .session_duration(iso8601(ps.session_duration))
                .send()
                .await
                .map_err(|e| aws("CreatePermissionSet", e))?;
            let arn = out
                .permission_set()
                .and_then(|p| p.permission_set_arn())
                .ok_or(missing("CreatePermissionSet", "an ARN"))?
                .to_owned();
            for policy in &ps.managed_policies {
                self.sso
                    .attach_managed_policy_to_permission_set()
                    .instance_arn(instance.arn.as_str())
                    .permission_set_arn(&arn)
                    .managed_policy_arn(policy)
                    .send()
                    .await
                    .map_err(|e| aws("AttachManagedPolicyToPermissionSet", e))?;
            }
            report.permission_sets.insert(ps.name.clone(), arn);
        }
        Ok(report)
    }

    /// Creates an identity-store group; its id.
    pub async fn create_group(&self, name: &str, description: &str) -> Result<String, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let out = self
            .ids
            .create_group()
            .identity_store_id(store)
            .display_name(name)
            .description(description)
            .send()
            .await
            .map_err(|e| aws("CreateGroup", e))?;
        Ok(out.group_id().to_owned())
    }

    /// Creates an identity-store user; its id.
    pub async fn create_user(
        &self,
        name: &str,
        display_name: &str,
        email: &str,
    ) -> Result<String, AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        let (given, family) = display_name.split_once(' ').unwrap_or((display_name, "-"));
        let out = self
            .ids
            .create_user()
            .identity_store_id(store)
            .user_name(name)
            .display_name(display_name)
            .name(
                Name::builder()
                    .given_name(given)
                    .family_name(family)
                    .build(),
            )
            .emails(
                Email::builder()
                    .value(email)
                    .primary(true)
                    .r#type("work")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws("CreateUser", e))?;
        Ok(out.user_id().to_owned())
    }

    async fn add_membership(&self, group_id: &str, user_id: &str) -> Result<(), AwsError> {
        let store = self.instance().await?.identity_store_id.clone();
        self.ids
            .create_group_membership()
            .identity_store_id(store)
            .group_id(group_id)
            .member_id(MemberId::UserId(user_id.to_owned()))
            .send()
            .await
            .map_err(|e| aws("CreateGroupMembership", e))?;
        Ok(())
    }

    /// Puts the user `user` into the group `group` (both by name).
    pub async fn add_to_group(&self, group: &str, user: &UserName) -> Result<(), AwsError> {
        let (group_id, user_id) = self.ids_of(group, user).await?;
        self.add_membership(&group_id, &user_id).await
    }

    /// Takes the user `user` out of the group `group` (both by name).
    pub async fn remove_from_group(&self, group: &str, user: &UserName) -> Result<(), AwsError> {
        let (group_id, user_id) = self.ids_of(group, user).await?;
        let store = self.instance().await?.identity_store_id.clone();
        let page = self
            .ids
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(&group_id)
            .send()
            .await
            .map_err(|e| aws("ListGroupMemberships", e))?;
        for m in page.group_memberships() {
            if m.member_id().and_then(|m| m.as_user_id().ok()) == Some(&user_id) {
                self.ids
                    .delete_group_membership()
                    .identity_store_id(&store)
                    .membership_id(m.membership_id())
                    .send()
                    .await
                    .map_err(|e| aws("DeleteGroupMembership", e))?;
            }
        }
        Ok(())
    }

    async fn ids_of(&self, group: &str, user: &UserName) -> Result<(String, String), AwsError> {
        let group_id = self
            .group_id(group)
            .await?
            .ok_or(missing("GetGroupId", group))?;
        let user_id = self
            .user_id(user)
            .await?
            .ok_or(missing("GetUserId", user.as_str()))?;
        Ok((group_id.as_str().to_owned(), user_id.as_str().to_owned()))
    }

    /// Creates an account in the organization (the seed's; tests use a fresh one each, so
    /// their assignments never meet). Returns its id.
    pub async fn create_account(&self, name: &str) -> Result<String, AwsError> {
        let out = self
            .org
            .create_account()
            .account_name(name)
            .email(format!("aws+{name}@example.com"))
            .send()
            .await
            .map_err(|e| aws("CreateAccount", e))?;
        let status = out
            .create_account_status()
            .ok_or(missing("CreateAccount", "a status"))?;
        if status.state() == Some(&CreateAccountState::Failed) {
            return Err(AwsError::Final {
                op: "CreateAccount",
                message: format!("account {name}: {:?}", status.failure_reason()),
            });
        }
        status
            .account_id()
            .map(str::to_owned)
            .ok_or(missing("CreateAccount", "an account id"))
    }

    /// Creates an assignment directly, bypassing jit (tests use it for standing access).
    pub async fn create_standing_assignment(
        &self,
        a: &jit_domain::AssignmentRef,
    ) -> Result<(), AwsError> {
        self.create_assignment(a, None, &crate::identity_center::NoProgress)
            .await
    }
}

/// `PT1H30M` for 90 minutes: the format CreatePermissionSet wants.
fn iso8601(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || out == "PT" {
        out.push_str(&format!("{s}S"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::iso8601;
    use jiff::SignedDuration;

    #[test]
    fn session_durations_in_iso8601() {
        assert_eq!(iso8601(SignedDuration::from_hours(1)), "PT1H");
        assert_eq!(iso8601(SignedDuration::from_mins(90)), "PT1H30M");
        assert_eq!(iso8601(SignedDuration::from_secs(0)), "PT0S");
        assert_eq!(iso8601(SignedDuration::from_secs(3601)), "PT1H1S");
    }
}
