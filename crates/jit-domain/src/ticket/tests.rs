use std::collections::BTreeSet;

use super::*;
use crate::approval::ApprovalStep;
use crate::ids::{InstanceArn, PermissionSetArn, PrincipalId};
use crate::stack::PrincipalType;
use crate::*;

fn u(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

pub(crate) fn request() -> TicketRequest {
    TicketRequest {
        ticket_id: TicketId::parse("t1").unwrap(),
        requester: u("alice"),
        principal: Principal::User(u("bob")),
        targets: vec![Target {
            account: AccountId::parse("111111111111").unwrap(),
            permission_set: PermissionSetName::parse("ReadOnly").unwrap(),
        }],
        bundle: None,
        duration: SignedDuration::from_hours(1),
        justification: Justification::parse("investigate incident 42").unwrap(),
        start_at: None,
        break_glass: false,
    }
}

fn plan(steps: Vec<ApprovalStep>) -> ApprovalPlan {
    ApprovalPlan {
        name: "p".into(),
        steps,
        max_duration: SignedDuration::from_hours(4),
        max_total: SignedDuration::from_hours(6),
        extension_needs_approval: false,
        approval_timeout: SignedDuration::from_hours(1),
        break_glass_ratify_within: None,
        admins: BTreeSet::from([u("erin")]),
        remind_every: None,
        escalation: None,
        notify: Default::default(),
    }
}

fn sre(quorum: u32) -> ApprovalStep {
    ApprovalStep {
        name: "sre".into(),
        approvers: [u("carol"), u("dave")].into(),
        quorum,
        groups: Vec::new(),
        users: Default::default(),
    }
}

fn target() -> ResolvedTarget {
    let t = request().targets[0].clone();
    ResolvedTarget {
        assignment: AssignmentRef {
            instance_arn: InstanceArn::parse("arn:i").unwrap(),
            account: t.account.clone(),
            permission_set_arn: PermissionSetArn::parse("arn:ps").unwrap(),
            principal_type: PrincipalType::User,
            principal_id: PrincipalId::parse("u-1").unwrap(),
        },
        target: t,
        account_name: "dev".into(),
        standing: false,
    }
}

fn t0() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn evaluated(p: ApprovalPlan) -> Ticket {
    let mut t = Ticket::new(request(), t0());
    t.evaluated(
        Evaluated {
            plan: p,
            targets: vec![target()],
            delegations: vec![],
            policy: None,
            hints: Default::default(),
        },
        t0(),
    )
    .unwrap();
    t
}

fn active(p: ApprovalPlan) -> Ticket {
    let mut t = evaluated(p);
    t.enter(Phase::PendingApproval, t0());
    t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap();
    t.enter(Phase::Active, t0());
    t.active_since = Some(t0());
    t.expires_at = Some(t0() + SignedDuration::from_hours(1));
    t
}

#[test]
fn requests_need_targets_without_duplicates_and_bounded_durations() {
    let limits = Limits::default();
    let mut r = request();
    assert!(r.validate(&limits).is_ok());
    r.targets.push(r.targets[0].clone());
    assert!(r.validate(&limits).unwrap_err().problem.contains("twice"));
    r.targets.clear();
    assert_eq!(r.validate(&limits).unwrap_err().field, "targets");
    r = request();
    r.duration = SignedDuration::from_hours(13);
    assert_eq!(r.validate(&limits).unwrap_err().field, "duration");
    r = request();
    r.break_glass = true;
    r.justification = Justification::parse("short one!").unwrap();
    assert_eq!(r.validate(&limits).unwrap_err().field, "justification");
    // The minimum is a limit: a minute by default, lower where configured.
    r = request();
    r.duration = SignedDuration::from_secs(5);
    let e = r.validate(&limits).unwrap_err();
    assert!(e.problem.contains("at least 1 minute"), "{e}");
    let short = Limits {
        min_duration: SignedDuration::from_secs(5),
        ..limits
    };
    assert!(r.validate(&short).is_ok());
    r.duration = SignedDuration::from_secs(4);
    assert!(
        r.validate(&short)
            .unwrap_err()
            .problem
            .contains("at least 5s")
    );
}

#[test]
fn the_plan_caps_the_duration_and_must_allow_break_glass() {
    let mut t = Ticket::new(request(), t0());
    let mut p = plan(vec![sre(1)]);
    p.max_duration = SignedDuration::from_mins(30);
    let e = t
        .evaluated(
            Evaluated {
                plan: p,
                targets: vec![target()],
                delegations: vec![],
                policy: None,
                hints: Default::default(),
            },
            t0(),
        )
        .unwrap_err();
    assert!(e.contains("longer than plan p's maximum"), "{e}");
    let mut r = request();
    r.break_glass = true;
    let mut t = Ticket::new(r, t0());
    let e = t
        .evaluated(
            Evaluated {
                plan: plan(vec![sre(1)]),
                targets: vec![target()],
                delegations: vec![],
                policy: None,
                hints: Default::default(),
            },
            t0(),
        )
        .unwrap_err();
    assert!(e.contains("does not allow break-glass"), "{e}");
}

#[test]
fn unsatisfiable_plans_are_refused_at_evaluation() {
    let mut t = Ticket::new(request(), t0());
    let step = ApprovalStep {
        name: "sre".into(),
        approvers: [u("carol"), u("bob")].into(),
        quorum: 2,
        groups: Vec::new(),
        users: Default::default(),
    };
    let e = t
        .evaluated(
            Evaluated {
                plan: plan(vec![step]),
                targets: vec![target()],
                delegations: vec![],
                policy: None,
                hints: Default::default(),
            },
            t0(),
        )
        .unwrap_err();
    assert!(e.contains("needs 2 approvers but only 1"), "{e}");
}

#[test]
fn votes_only_while_an_approval_is_open() {
    let mut t = evaluated(plan(vec![sre(1)]));
    assert!(matches!(
        t.check_vote(&u("carol"), t0()),
        Err(VoteRejected::NotPending(_))
    ));
    t.enter(Phase::PendingApproval, t0());
    assert_eq!(
        t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap(),
        VoteEffect::Approved
    );
    assert!(
        t.audit
            .iter()
            .any(|e| e.what == "carol approved in step sre")
    );
}

#[test]
fn extensions_respect_the_total_and_move_the_expiry() {
    let mut t = active(plan(vec![sre(1)]));
    let exp = t.expires_at.unwrap();
    assert!(
        t.check_extend(&u("carol"), SignedDuration::from_hours(1))
            .is_err(),
        "not a party"
    );
    assert!(
        t.extend(&u("alice"), SignedDuration::from_hours(2), None, t0())
            .unwrap()
    );
    assert_eq!(t.expires_at.unwrap(), exp + SignedDuration::from_hours(2));
    assert_eq!(t.granted(), SignedDuration::from_hours(3));
    let e = t
        .check_extend(&u("bob"), SignedDuration::from_hours(4))
        .unwrap_err();
    assert!(e.to_string().contains("plan p allows at most 6h"), "{e}");
    assert!(
        t.check_extend(&u("bob"), SignedDuration::from_hours(3))
            .is_ok()
    );
}

#[test]
fn extensions_needing_approval_wait_and_can_be_denied() {
    let mut p = plan(vec![sre(1)]);
    p.extension_needs_approval = true;
    let mut t = active(p);
    let exp = t.expires_at;
    assert!(
        !t.extend(&u("alice"), SignedDuration::from_hours(1), None, t0())
            .unwrap()
    );
    assert_eq!(t.expires_at, exp, "not yet");
    assert!(
        t.check_extend(&u("alice"), SignedDuration::from_hours(1))
            .is_err(),
        "one at a time"
    );
    assert_eq!(t.pending_approvers(t0()), vec![u("carol"), u("dave")]);
    t.vote(&u("dave"), Decision::Deny, Some("enough".into()), t0())
        .unwrap();
    assert_eq!(t.extension_decision(), Some(Decision::Deny));
    t.drop_extension(t0());
    assert_eq!(t.expires_at, exp);
    assert!(
        t.extend(&u("alice"), SignedDuration::from_hours(1), None, t0())
            .is_ok(),
        "may ask again"
    );
    t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap();
    assert_eq!(t.extension_decision(), Some(Decision::Approve));
    t.apply_extension(t0());
    assert_eq!(t.expires_at, exp.map(|e| e + SignedDuration::from_hours(1)));
}

#[test]
fn who_may_end_a_ticket_and_when() {
    let t = evaluated(plan(vec![sre(1)]));
    assert!(t.check_end(EndKind::Cancel, &u("alice")).is_ok());
    assert!(
        t.check_end(EndKind::Cancel, &u("bob")).is_err(),
        "only the requester cancels"
    );
    assert!(
        t.check_end(EndKind::Relinquish, &u("alice")).is_err(),
        "nothing to give up yet"
    );
    let mut t = active(plan(vec![sre(1)]));
    assert!(t.check_end(EndKind::Cancel, &u("alice")).is_err());
    assert!(t.check_end(EndKind::Relinquish, &u("bob")).is_ok());
    assert!(
        t.check_end(EndKind::Revoke, &u("dave")).is_ok(),
        "an approver"
    );
    assert!(t.check_end(EndKind::Revoke, &u("erin")).is_ok(), "an admin");
    assert!(t.check_end(EndKind::Revoke, &u("zed")).is_err());
    t.request_end(
        EndKind::Revoke,
        &u("dave"),
        Some("incident over".into()),
        t0(),
    )
    .unwrap();
    assert_eq!(t.end_request.as_ref().unwrap().phase(), Phase::Revoked);
    assert!(
        t.check_end(EndKind::Relinquish, &u("bob")).is_err(),
        "already ending"
    );
    assert_eq!(t.end_reason().unwrap(), "revoked by dave: incident over");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Act {
        Extend(&'static str, i64),
        Vote(&'static str, bool),
    }

    fn act() -> impl Strategy<Value = Act> {
        let who = prop::sample::select(vec!["alice", "bob", "carol", "dave", "zed"]);
        prop_oneof![
            (who.clone(), -30i64..400).prop_map(|(w, m)| Act::Extend(w, m)),
            (who, any::<bool>()).prop_map(|(w, ok)| Act::Vote(w, ok)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn extensions_never_exceed_the_plans_total(
            reapprove in any::<bool>(),
            acts in prop::collection::vec(act(), 0..30),
        ) {
            let mut p = plan(vec![sre(1)]);
            p.extension_needs_approval = reapprove;
            let max_total = p.max_total;
            let mut t = active(p);
            let since = t.active_since.unwrap();
            for a in acts {
                match a {
                    Act::Extend(who, mins) => {
                        let _ = t.extend(&u(who), SignedDuration::from_mins(mins), None, t0());
                    }
                    Act::Vote(who, ok) => {
                        let d = if ok { Decision::Approve } else { Decision::Deny };
                        if t.vote(&u(who), d, None, t0()).is_ok() {
                            match t.extension_decision() {
                                Some(Decision::Approve) => t.apply_extension(t0()),
                                Some(Decision::Deny) => t.drop_extension(t0()),
                                None => {}
                            }
                        }
                    }
                }
                prop_assert!(t.granted() <= max_total, "{:#} > {:#}", t.granted(), max_total);
                prop_assert_eq!(t.expires_at.unwrap().duration_since(since), t.granted());
                // Only the requester or the principal ever extends.
                prop_assert!(t.extensions.iter().all(|e| t.is_party(&e.by)));
            }
        }
    }
}
