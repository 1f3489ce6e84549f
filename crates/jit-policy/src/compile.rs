//! Rules -> a standard Casbin model and policy (CSV lines).
//!
//! Every decision is one request `(sub, act, obj, sel)` against policy lines
//! `p, sub, act, obj, sel, rule`; the effect is "some rule allows", and the first matching
//! line (in file order) is the one that decided — which is how "the first plan that matches
//! applies" is expressed. Only `==` and `globMatch` with `*` patterns are used, so the same
//! files load and decide the same in casbin-rs, Go casbin and pycasbin.
//!
//! | act         | sub                         | obj                      | sel              |
//! |-------------|-----------------------------|--------------------------|------------------|
//! | `request`   | `user:alice`, `group:sre`   | account name/id pattern  | permission set   |
//! | `on_behalf` | `group:<requesters>`        | `group:<principals>`     | `*`              |
//! | `plan`      | `any`                       | account name/id pattern  | permission set   |
//! | `approve`   | `user:..`, `group:..`       | plan name                | step name        |
//! | `admin`     | `user:..`, `group:..`       | `*`                      | `*`              |
//! | `act_for`   | `service:<token subject>`   | user pattern             | `*`              |

use crate::rules::{ESCALATION_STEP, Rules, Subjects};

/// The Casbin model every jit policy uses.
pub const MODEL: &str = "\
# jit policy model (generated policies: `jit policy compile`).
# A request asks whether subject `sub` may do `act` on `obj` / `sel`; each policy line
# names the rule of the rules file it came from. The first matching line decides.
[request_definition]
r = sub, act, obj, sel

[policy_definition]
p = sub, act, obj, sel, rule

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.act == p.act && globMatch(r.obj, p.obj) && globMatch(r.sel, p.sel)
";

/// The subject every request for a plan uses (plans apply to everyone).
pub const ANY: &str = "any";

pub fn user_subject(u: &str) -> String {
    format!("user:{u}")
}

pub fn group_subject(g: &str) -> String {
    format!("group:{g}")
}

pub fn service_subject(s: &str) -> String {
    format!("service:{s}")
}

/// One policy line: `[sub, act, obj, sel, rule]`.
pub type Line = [String; 5];

fn subjects(s: &Subjects) -> impl Iterator<Item = String> + '_ {
    s.groups
        .iter()
        .map(|g| group_subject(g))
        .chain(s.users.iter().map(|u| user_subject(u)))
}

/// The policy lines of `rules`, in the order decisions need (plans in file order).
pub fn compile(rules: &Rules) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut push = |sub: String, act: &str, obj: &str, sel: &str, rule: String| {
        out.push([sub, act.to_owned(), obj.to_owned(), sel.to_owned(), rule]);
    };
    for r in &rules.eligibility {
        let who = Subjects {
            groups: r.groups.clone(),
            users: r.users.clone(),
        };
        for sub in subjects(&who) {
            for a in &r.accounts {
                for ps in &r.permission_sets {
                    push(
                        sub.clone(),
                        "request",
                        a,
                        ps,
                        format!("eligibility:{}", r.name),
                    );
                }
            }
        }
    }
    for r in &rules.on_behalf {
        for req in &r.requesters {
            for p in &r.principals {
                push(
                    group_subject(req),
                    "on_behalf",
                    &group_subject(p),
                    "*",
                    format!("on_behalf:{}", r.name),
                );
            }
        }
    }
    for p in &rules.plans {
        for a in &p.accounts {
            for ps in &p.permission_sets {
                push(ANY.to_owned(), "plan", a, ps, format!("plan:{}", p.name));
            }
        }
    }
    for p in &rules.plans {
        for s in &p.steps {
            let who = Subjects {
                groups: s.groups.clone(),
                users: s.users.clone(),
            };
            for sub in subjects(&who) {
                push(
                    sub,
                    "approve",
                    &p.name,
                    &s.name,
                    format!("plan:{}/step:{}", p.name, s.name),
                );
            }
        }
        if let Some(e) = &p.escalation {
            for g in &e.groups {
                push(
                    group_subject(g),
                    "approve",
                    &p.name,
                    ESCALATION_STEP,
                    format!("plan:{}/escalation", p.name),
                );
            }
        }
    }
    for sub in subjects(&rules.admins) {
        push(sub, "admin", "*", "*", "admins".to_owned());
    }
    for r in &rules.services {
        for s in &r.subjects {
            for u in &r.users {
                push(
                    service_subject(s),
                    "act_for",
                    u,
                    "*",
                    format!("services:{}", r.name),
                );
            }
        }
    }
    out
}

/// The policy as a CSV file any Casbin adapter reads.
pub fn to_csv(lines: &[Line]) -> String {
    let mut s = String::from("# generated by `jit policy compile`; edit the rules file instead\n");
    for l in lines {
        s.push_str("p, ");
        s.push_str(&l.join(", "));
        s.push('\n');
    }
    s
}
