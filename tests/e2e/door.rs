//! Bad input is refused at the door: a table of malformed values (AWS's model rules, the
//! well-known types' ranges, visibility-query breakers, hidden characters) driven through
//! the real API. Each must come back with its code, name its field, quote no more than a
//! short prefix, and start no workflow. Bodies that are not protobuf at all come back
//! INVALID_ARGUMENT too.

use std::time::Duration;

use bytes::{Buf, BufMut};
use jit_proto::v1 as pb;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionRequest;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::api::ApiServer;
use crate::support::TestApp;

/// The policy: engineers may ask for anything; plans cap ReadOnly at 2 hours; one bundle.
const POLICY: &str = r#"
admins: { users: [erin] }
bundles:
  readers:
    targets: [{ account: "{account}", permission_set: ReadOnly }]
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: ["*"] }
plans:
  - name: short
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 2h
    max_total: 4h
    approval_timeout: 24h
"#;

enum Call {
    Create(Box<pb::CreateTicketRequest>),
    List(pb::ListTicketsRequest),
    Get(pb::GetTicketRequest),
    Approve(pb::ApproveTicketRequest),
    Delegate(pb::DelegateApprovalRequest),
    Extend(pb::ExtendTicketRequest),
    Cancel(pb::CancelTicketRequest),
}

struct Case {
    name: String,
    call: Call,
    code: Code,
    /// The message starts with this (the field's path and a colon).
    field: String,
}

fn dur(seconds: i64, nanos: i32) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos }
}

fn ts(seconds: i64, nanos: i32) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos }
}

/// User names the identity store (or our policy's wildcards) refuses.
fn bad_users() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("space", "al ice".into()),
        ("wildcard", "*".into()),
        ("question mark", "al?ce".into()),
        ("NUL", "al\0ice".into()),
        ("TAG characters", "alice\u{E0061}\u{E0064}".into()),
        ("RLO", "alice\u{202E}".into()),
        ("zero width space", "al\u{200B}ice".into()),
        ("line separator", "al\u{2028}ice".into()),
        ("private use", "al\u{E000}ice".into()),
        ("129 characters", "a".repeat(129)),
        ("newline", "alice\n".into()),
        ("tab", "al\tice".into()),
    ]
}

fn bad_groups() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("leading space", " sre".into()),
        ("trailing space", "sre ".into()),
        ("tab", "s\tre".into()),
        ("TAG", "sre\u{E0041}".into()),
        ("wildcard", "sre*".into()),
        ("129 characters", "g".repeat(129)),
        ("bidi isolate", "sre\u{2066}".into()),
    ]
}

fn bad_accounts() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("11 digits", "12345678901".into()),
        ("13 digits", "1234567890123".into()),
        ("letters", "12345678901a".into()),
        ("arabic-indic digits", "١٢٣٤٥٦٧٨٩٠١٢".into()),
        ("fullwidth digits", "１２３４５６７８９０１２".into()),
        (
            "an ARN",
            "arn:aws:organizations::123456789012:account/o-x/123456789012".into(),
        ),
        ("spaces", " 123456789012".into()),
        ("NUL", "12345678901\0".into()),
        ("SQL", "1' OR '1'='1".into()),
        ("100000 digits", "1".repeat(100_000)),
        ("negative", "-12345678901".into()),
    ]
}

fn bad_permission_sets() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("33 characters", "P".repeat(33)),
        ("space", "Read Only".into()),
        ("slash", "Read/Only".into()),
        ("quote", "Read'Only".into()),
        ("NUL", "Read\0Only".into()),
        ("unicode letter", "ReadÖnly".into()),
        ("TAG", "ReadOnly\u{E0041}".into()),
        ("an ARN", "arn:aws:sso:::permissionSet/ssoins-1/ps-1".into()),
        ("asterisk", "*".into()),
    ]
}

fn bad_justifications() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("too short", "fix".into()),
        ("only spaces", "            ".into()),
        ("1001 characters", "j".repeat(1001)),
        ("RLO", "deploying the \u{202E}xif\u{202C} now".into()),
        ("LRI", "deploying the \u{2066}fix\u{2069} now".into()),
        (
            "TAG characters",
            "deploying the fix\u{E0069}\u{E0067}\u{E006E}".into(),
        ),
        ("line separator", "deploying the\u{2028}fix now".into()),
        ("paragraph separator", "deploying the\u{2029}fix now".into()),
        ("NUL", "deploying the\0fix now".into()),
        ("bell", "deploying the\u{7}fix now".into()),
        ("zero width space", "deploying the\u{200B}fix now".into()),
        ("soft hyphen", "deploying the\u{AD}fix now".into()),
    ]
}

fn bad_durations() -> Vec<(&'static str, prost_types::Duration)> {
    vec![
        (
            "i64::MAX seconds, 1.5e9 nanos",
            dur(i64::MAX, 1_500_000_000),
        ),
        (
            "i64::MIN seconds, -1.5e9 nanos",
            dur(i64::MIN, -1_500_000_000),
        ),
        ("i64::MAX seconds", dur(i64::MAX, 0)),
        ("nanos 1e9", dur(3600, 1_000_000_000)),
        ("mixed signs", dur(3600, -1)),
        ("mixed signs, negative seconds", dur(-3600, 1)),
        ("negative", dur(-3600, 0)),
        ("zero", dur(0, 0)),
        ("1 second", dur(1, 0)),
        ("over the global cap", dur(13 * 3600, 0)),
        ("i32::MAX nanos", dur(0, i32::MAX)),
    ]
}

fn bad_times() -> Vec<(&'static str, prost_types::Timestamp)> {
    let now = jiff::Timestamp::now().as_second();
    vec![
        ("1970", ts(0, 0)),
        ("an hour ago", ts(now - 3600, 0)),
        ("year 10000", ts(253_402_300_800, 0)),
        ("i64::MAX", ts(i64::MAX, 0)),
        ("i64::MIN", ts(i64::MIN, 0)),
        ("negative nanos", ts(now + 3600, -1)),
        ("nanos 1e9", ts(now + 3600, 1_000_000_000)),
        ("a year ahead", ts(now + 366 * 86_400, 0)),
    ]
}

fn cases(app: &TestApp) -> Vec<Case> {
    let base = || pb::CreateTicketRequest {
        request_id: String::new(),
        targets: vec![pb::Target {
            account_id: app.account.to_string(),
            account_name: String::new(),
            permission_set: "ReadOnly".into(),
        }],
        duration: Some(dur(3600, 0)),
        justification: "investigating INC-1234 in production".into(),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut create = |name: String, f: &dyn Fn(&mut pb::CreateTicketRequest), code, field: &str| {
        let mut r = base();
        f(&mut r);
        out.push(Case {
            name,
            call: Call::Create(Box::new(r)),
            code,
            field: field.to_owned(),
        });
    };
    let invalid = Code::InvalidArgument;
    for (what, v) in bad_users() {
        let p = v.clone();
        create(
            format!("principal.user {what}"),
            &|r| {
                r.principal = Some(pb::Principal {
                    kind: Some(pb::principal::Kind::User(p.clone())),
                })
            },
            invalid,
            "principal.user: ",
        );
        let q = v.clone();
        if !v.is_empty() {
            create(
                format!("requester {what}"),
                &|r| r.requester = q.clone(),
                invalid,
                "requester: ",
            );
        }
    }
    for (what, v) in bad_groups() {
        create(
            format!("principal.group {what}"),
            &|r| {
                r.principal = Some(pb::Principal {
                    kind: Some(pb::principal::Kind::Group(v.clone())),
                })
            },
            invalid,
            "principal.group: ",
        );
    }
    create(
        "principal with neither user nor group".into(),
        &|r| r.principal = Some(pb::Principal { kind: None }),
        invalid,
        "principal: ",
    );
    for (what, v) in bad_accounts() {
        create(
            format!("account {what}"),
            &|r| r.targets[0].account_id = v.clone(),
            invalid,
            "targets[0].account_id: ",
        );
    }
    for (what, v) in bad_permission_sets() {
        create(
            format!("permission set {what}"),
            &|r| r.targets[0].permission_set = v.clone(),
            invalid,
            "targets[0].permission_set: ",
        );
    }
    for (what, v) in bad_justifications() {
        create(
            format!("justification {what}"),
            &|r| r.justification = v.clone(),
            invalid,
            "justification: ",
        );
    }
    for (what, v) in bad_durations() {
        create(
            format!("duration {what}"),
            &|r| r.duration = Some(v),
            invalid,
            "duration: ",
        );
    }
    for (what, v) in bad_times() {
        create(
            format!("start_time {what}"),
            &|r| r.start_time = Some(v),
            invalid,
            "start_time: ",
        );
    }
    for (what, v) in [
        ("empty", String::new()),
        ("65 characters", "r".repeat(65)),
        ("space", "req 1".into()),
        ("slash", "req/1".into()),
        ("NUL", "req\u{0}1".into()),
        ("unicode", "réq".into()),
    ] {
        create(
            format!("request_id {what}"),
            &|r| r.request_id = v.clone(),
            invalid,
            "request_id: ",
        );
    }
    create(
        "no targets and no bundle".into(),
        &|r| r.targets.clear(),
        invalid,
        "targets: ",
    );
    create(
        "a target twice".into(),
        &|r| r.targets.push(r.targets[0].clone()),
        invalid,
        "targets: ",
    );
    create(
        "account_name sent".into(),
        &|r| r.targets[0].account_name = "prod".into(),
        invalid,
        "targets[0].account_name: ",
    );
    create(
        "bundle with capitals".into(),
        &|r| r.bundle = "Readers".into(),
        invalid,
        "bundle: ",
    );
    create(
        "break-glass with a short reason".into(),
        &|r| {
            r.break_glass = true;
            r.justification = "prod is on fire".into();
        },
        invalid,
        "justification: ",
    );
    // Decided without a ticket: what does not exist, what the plan cannot give.
    create(
        "account outside the organization".into(),
        &|r| r.targets[0].account_id = "999999999999".into(),
        Code::NotFound,
        "targets[0].account_id: ",
    );
    create(
        "unknown permission set".into(),
        &|r| r.targets[0].permission_set = "NoSuchSet".into(),
        Code::NotFound,
        "targets[0].permission_set: ",
    );
    create(
        "unknown bundle".into(),
        &|r| {
            r.targets.clear();
            r.bundle = "no-such-bundle".into();
        },
        Code::NotFound,
        "bundle: ",
    );
    create(
        "longer than the plan allows".into(),
        &|r| r.duration = Some(dur(3 * 3600, 0)),
        Code::InvalidArgument,
        "duration: ",
    );

    // Lists: filters that would break out of a visibility query, or are not names.
    let list = |f: &dyn Fn(&mut pb::ListTicketsRequest)| {
        let mut r = pb::ListTicketsRequest::default();
        f(&mut r);
        Call::List(r)
    };
    let mut lists: Vec<(String, Call, &str)> = Vec::new();
    for (what, v) in [
        ("NUL", "Read\0Only"),
        ("quote", "Read'Only"),
        ("SQL", "x' OR '1'='1"),
        ("comment", "ReadOnly --"),
        ("double quote", "Read\"Only"),
        ("backslash", "Read\\Only"),
        ("empty-looking unicode", "\u{200B}"),
    ] {
        lists.push((
            format!("list permission_set {what}"),
            list(&|r| r.permission_set = v.into()),
            "permission_set: ",
        ));
    }
    for (what, v) in [
        ("quote", "bob' OR 'a'='a"),
        ("NUL", "bob\0"),
        ("space", "bob OR 1=1"),
    ] {
        lists.push((
            format!("list requester {what}"),
            list(&|r| r.requester = v.into()),
            "requester: ",
        ));
        lists.push((
            format!("list principal {what}"),
            list(&|r| r.principal = v.into()),
            "principal: ",
        ));
    }
    lists.push((
        "list principal group with a tab".into(),
        list(&|r| r.principal = "group:s\tre".into()),
        "principal: ",
    ));
    lists.push((
        "list principal group with a quote".into(),
        list(&|r| r.principal = "group:sre' OR 'x'='x".into()),
        "principal: ",
    ));
    for (what, v) in [("NUL", "12345678901\0"), ("SQL", "1' OR '1'='1")] {
        lists.push((
            format!("list account_id {what}"),
            list(&|r| r.account_id = v.into()),
            "account_id: ",
        ));
    }
    for (what, v) in [
        ("deadbeef", "deadbeef"),
        ("not hex", "zz"),
        ("long hex", &"ab".repeat(64)),
    ] {
        lists.push((
            format!("list page_token {what}"),
            list(&|r| r.page_token = v.into()),
            "page_token: ",
        ));
    }
    for n in [-1, 501, i32::MAX] {
        lists.push((
            format!("list page_size {n}"),
            list(&|r| r.page_size = n),
            "page_size: ",
        ));
    }
    lists.push((
        "list status 99".into(),
        list(&|r| r.status = 99),
        "status: ",
    ));
    for (name, call, field) in lists {
        out.push(Case {
            name,
            call,
            code: invalid,
            field: field.into(),
        });
    }

    // Ticket ids, votes, delegations, extensions, ends.
    for (what, v) in [
        ("empty", String::new()),
        ("capitals", "R-ABC".into()),
        ("a path", "../r-abc".into()),
        ("NUL", "r-ab\0c".into()),
        ("100000 characters", "r".repeat(100_000)),
        ("trailing dash", "r-abc-".into()),
    ] {
        out.push(Case {
            name: format!("get ticket_id {what}"),
            call: Call::Get(pb::GetTicketRequest { ticket_id: v }),
            code: invalid,
            field: "ticket_id: ".into(),
        });
    }
    for (what, v) in [
        ("1001 characters", "c".repeat(1001)),
        ("RLO", "ok \u{202E}devorppa".into()),
        ("TAG", "ok\u{E0041}".into()),
    ] {
        out.push(Case {
            name: format!("approve comment {what}"),
            call: Call::Approve(pb::ApproveTicketRequest {
                ticket_id: "r-abc".into(),
                comment: v.clone(),
            }),
            code: invalid,
            field: "comment: ".into(),
        });
        out.push(Case {
            name: format!("cancel reason {what}"),
            call: Call::Cancel(pb::CancelTicketRequest {
                ticket_id: "r-abc".into(),
                reason: v,
            }),
            code: invalid,
            field: "reason: ".into(),
        });
    }
    let now = jiff::Timestamp::now().as_second();
    for (what, delegate, expire_time, field) in [
        (
            "to a wildcard",
            "*".to_owned(),
            Some(ts(now + 3600, 0)),
            "delegate: ",
        ),
        (
            "to with a TAG",
            "dave\u{E0041}".into(),
            Some(ts(now + 3600, 0)),
            "delegate: ",
        ),
        ("until missing", "dave".into(), None, "expire_time: "),
        (
            "until in the past",
            "dave".into(),
            Some(ts(now - 60, 0)),
            "expire_time: ",
        ),
        (
            "until i64::MAX",
            "dave".into(),
            Some(ts(i64::MAX, 0)),
            "expire_time: ",
        ),
        (
            "until bad nanos",
            "dave".into(),
            Some(ts(now + 3600, -5)),
            "expire_time: ",
        ),
    ] {
        out.push(Case {
            name: format!("delegate {what}"),
            call: Call::Delegate(pb::DelegateApprovalRequest {
                ticket_id: "r-abc".into(),
                delegate,
                expire_time,
                reason: String::new(),
            }),
            code: invalid,
            field: field.into(),
        });
    }
    for (what, extra) in [
        ("missing", None),
        ("negative", Some(dur(-60, 0))),
        ("overflowing", Some(dur(i64::MAX, 1_500_000_000))),
        ("mixed signs", Some(dur(60, -5))),
    ] {
        out.push(Case {
            name: format!("extend extra {what}"),
            call: Call::Extend(pb::ExtendTicketRequest {
                ticket_id: "r-abc".into(),
                extra_duration: extra,
                reason: String::new(),
            }),
            code: invalid,
            field: "extra_duration: ".into(),
        });
    }
    out
}

fn as_user<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", "Bearer dev:alice".parse().unwrap());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_malformed_values_are_refused_at_the_door_and_start_nothing() {
    let app = TestApp::with_policy("door", POLICY).await;
    let api = ApiServer::start(&app, true, None).await;
    let mut c = api.client().await;
    let cases = cases(&app);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut created_ids = Vec::new();
    let mut failures = Vec::new();
    for (i, mut case) in cases.into_iter().enumerate() {
        let result = match case.call {
            Call::Create(ref mut r) => {
                // Every create its own request id, unless the case is about the id.
                if !case.name.starts_with("request_id") {
                    r.request_id = format!("door-{i}");
                }
                created_ids.push(r.request_id.clone());
                c.create_ticket(as_user((**r).clone())).await.map(|_| ())
            }
            Call::List(ref r) => c.list_tickets(as_user(r.clone())).await.map(|_| ()),
            Call::Get(ref r) => c.get_ticket(as_user(r.clone())).await.map(|_| ()),
            Call::Approve(ref r) => c.approve_ticket(as_user(r.clone())).await.map(|_| ()),
            Call::Delegate(ref r) => c.delegate_approval(as_user(r.clone())).await.map(|_| ()),
            Call::Extend(ref r) => c.extend_ticket(as_user(r.clone())).await.map(|_| ()),
            Call::Cancel(ref r) => c.cancel_ticket(as_user(r.clone())).await.map(|_| ()),
        };
        match result {
            Ok(()) => failures.push(format!("{}: accepted", case.name)),
            Err(s) => {
                if s.code() != case.code || !s.message().starts_with(&case.field) {
                    failures.push(format!(
                        "{}: {:?} {:?}, wanted {:?} starting {:?}",
                        case.name,
                        s.code(),
                        s.message(),
                        case.code,
                        case.field
                    ));
                }
                // A refused value names its field for a form, too.
                if s.code() == Code::InvalidArgument {
                    use tonic_types::StatusExt as _;
                    let field = case.field.trim_end_matches(": ");
                    let named = s
                        .get_details_bad_request()
                        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()));
                    if named.as_deref() != Some(field) {
                        failures.push(format!(
                            "{}: field violation {named:?}, wanted {field:?}",
                            case.name
                        ));
                    }
                }
                if s.message().len() > 512 {
                    failures.push(format!(
                        "{}: a message of {} bytes",
                        case.name,
                        s.message().len()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // No workflow was started for any of them: each request id's ticket does not exist.
    for id in created_ids {
        let ticket = jit_api::service::ticket_id_for("alice", &id);
        let described = app
            .client
            .connection()
            .workflow_service()
            .describe_workflow_execution(tonic::Request::new(DescribeWorkflowExecutionRequest {
                namespace: app.stack.namespace.clone(),
                execution: Some(
                    temporalio_common::protos::temporal::api::common::v1::WorkflowExecution {
                        workflow_id: ticket.workflow_id(),
                        run_id: String::new(),
                    },
                ),
            }))
            .await;
        assert_eq!(
            described.map(|_| ()).unwrap_err().code(),
            Code::NotFound,
            "request {id:?} started {ticket}"
        );
    }
    // Nor any assignment.
    assert_eq!(app.assignment_count("alice", "ReadOnly").await, 0);

    // And a valid request still goes through, with a start a moment ago meaning now.
    let mut ok = pb::CreateTicketRequest {
        request_id: "door-valid".into(),
        targets: vec![pb::Target {
            account_id: app.account.to_string(),
            account_name: String::new(),
            permission_set: "ReadOnly".into(),
        }],
        duration: Some(dur(3600, 0)),
        justification: "investigating INC-1234 (see the runbook) 👩‍💻".into(),
        ..Default::default()
    };
    ok.start_time = Some(ts(jiff::Timestamp::now().as_second() - 30, 0));
    let t = c
        .create_ticket(as_user(ok))
        .await
        .expect("a valid request is accepted")
        .into_inner()
        .ticket
        .unwrap();
    assert!(t.start_time.is_none(), "a start a moment ago is now");
}

/// Bytes as they are, both ways: to send what no generated client would.
#[derive(Default, Clone)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_the_message_are_invalid_argument_not_internal() {
    let app = TestApp::with_policy("door-raw", POLICY).await;
    let api = ApiServer::start(&app, true, None).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", api.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    let bodies: [(&str, &str, Vec<u8>); 8] = [
        ("CreateTicket", "request_id as a varint", vec![0x08, 0x01]),
        (
            "CreateTicket",
            "request_id not UTF-8",
            vec![0x0a, 0x02, 0xc3, 0x28],
        ),
        (
            "CreateTicket",
            "a length past the end",
            vec![0x0a, 0x7f, b'a'],
        ),
        (
            "CreateTicket",
            "garbage",
            b"\xff\xff\xff\xff\xff\xff".to_vec(),
        ),
        (
            "CreateTicket",
            "a duration of the wrong type",
            vec![0x2a, 0x01],
        ),
        ("GetTicket", "ticket_id not UTF-8", vec![0x0a, 0x01, 0xff]),
        ("ListTickets", "a group wire type", vec![0x0b]),
        ("ApproveTicket", "field zero", vec![0x00, 0x00]),
    ];
    for (method, what, body) in bodies {
        grpc.ready().await.unwrap();
        let path = format!("/jit.v1.TicketService/{method}")
            .parse::<http::uri::PathAndQuery>()
            .unwrap();
        let mut req = tonic::Request::new(body);
        req.metadata_mut()
            .insert("authorization", "Bearer dev:alice".parse().unwrap());
        let e = grpc
            .unary::<Vec<u8>, Vec<u8>, _>(req, path, Raw)
            .await
            .expect_err(what);
        assert_eq!(e.code(), Code::InvalidArgument, "{method} {what}: {e:?}");
        assert!(
            e.message().starts_with("the body is not a valid "),
            "{what}: {}",
            e.message()
        );
    }
}
