//! The resource stack: every AWS resource a ticket creates, recorded *before* it is created.
//!
//! The order of operations is the invariant that makes grants leak-proof:
//!
//! 1. look whether the assignment already exists — if it does it is standing access, never
//!    ours, and it is never pushed;
//! 2. push an [`EntryState::Intended`] entry;
//! 3. create (idempotently: "already exists" counts as created by us, because step 1 proved
//!    it did not exist before we pushed).
//!
//! A crash anywhere after step 2 leaves an entry to unwind; a crash before it leaves nothing
//! in AWS. Unwinding walks the entries last-in first-out and deletes each one that is not
//! already removed (deleting what is absent is fine).

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InstanceArn, PermissionSetArn, PrincipalId};

/// Whether an assignment's principal is a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrincipalType {
    User,
    Group,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Group => "GROUP",
        }
    }
}

/// One account assignment in IAM Identity Center, fully resolved to AWS ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssignmentRef {
    pub instance_arn: InstanceArn,
    pub account: AccountId,
    pub permission_set_arn: PermissionSetArn,
    pub principal_type: PrincipalType,
    pub principal_id: PrincipalId,
}

/// Where one stack entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Recorded; the create may or may not have reached AWS.
    Intended,
    /// AWS confirmed the assignment (status SUCCEEDED and listed).
    Created,
    /// Deleted and confirmed gone (or never created).
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackEntry {
    pub assignment: AssignmentRef,
    pub state: EntryState,
}

/// The resources one ticket owns, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceStack {
    entries: Vec<StackEntry>,
}

impl ResourceStack {
    pub fn entries(&self) -> &[StackEntry] {
        &self.entries
    }

    /// Records the intent to create `assignment`; returns its index.
    pub fn push_intent(&mut self, assignment: AssignmentRef) -> usize {
        self.entries.push(StackEntry {
            assignment,
            state: EntryState::Intended,
        });
        self.entries.len() - 1
    }

    pub fn mark(&mut self, index: usize, state: EntryState) {
        if let Some(e) = self.entries.get_mut(index) {
            e.state = state;
        }
    }

    /// Indices still to unwind, last in first out.
    pub fn unwind_order(&self) -> Vec<usize> {
        (0..self.entries.len())
            .rev()
            .filter(|i| self.entries[*i].state != EntryState::Removed)
            .collect()
    }

    /// True when nothing recorded can still exist in AWS.
    pub fn is_unwound(&self) -> bool {
        self.entries.iter().all(|e| e.state == EntryState::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u8) -> AssignmentRef {
        AssignmentRef {
            instance_arn: InstanceArn::parse("arn:i").unwrap(),
            account: AccountId::parse(&format!("{:012}", n)).unwrap(),
            permission_set_arn: PermissionSetArn::parse("arn:ps").unwrap(),
            principal_type: PrincipalType::User,
            principal_id: PrincipalId::parse("u-1").unwrap(),
        }
    }

    #[test]
    fn unwinds_last_in_first_out_skipping_removed() {
        let mut s = ResourceStack::default();
        let i0 = s.push_intent(a(1));
        let i1 = s.push_intent(a(2));
        let i2 = s.push_intent(a(3));
        s.mark(i0, EntryState::Created);
        s.mark(i1, EntryState::Removed);
        assert_eq!(s.unwind_order(), vec![i2, i0]);
        assert!(!s.is_unwound());
        s.mark(i2, EntryState::Removed);
        s.mark(i0, EntryState::Removed);
        assert!(s.is_unwound());
        assert!(s.unwind_order().is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn unwinding_removes_everything_last_in_first_out(
                created in prop::collection::vec(any::<bool>(), 0..12),
                removed_early in prop::collection::vec(any::<bool>(), 0..12),
            ) {
                let mut s = ResourceStack::default();
                for (i, c) in created.iter().enumerate() {
                    let idx = s.push_intent(a(u8::try_from(i).unwrap()));
                    if *c {
                        s.mark(idx, EntryState::Created);
                    }
                    if removed_early.get(i).copied().unwrap_or(false) {
                        s.mark(idx, EntryState::Removed);
                    }
                }
                let order = s.unwind_order();
                prop_assert!(order.windows(2).all(|w| w[0] > w[1]), "LIFO: {order:?}");
                for i in order {
                    s.mark(i, EntryState::Removed);
                }
                prop_assert!(s.is_unwound());
                prop_assert!(s.unwind_order().is_empty());
            }
        }
    }
}
