//! gRPC-Web on the API's HTTP port, as a browser speaks it: a ticket created, watched
//! (server streaming), approved and read through tonic-web's client over HTTP/1.1; the
//! text mode (`application/grpc-web-text`) a browser falls back to; a refusal's field
//! violation (`google.rpc.BadRequest`) arriving in the gRPC-Web trailers; CORS answered only
//! for the configured origin, and not at all by a server with none.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use tonic_types::StatusExt as _;

use crate::api::{ApiServer, as_user, create_msg};
use crate::support::TestApp;

const CONSOLE: &str = "http://console.test:5173";

type WebClient = TicketServiceClient<
    tonic_web::GrpcWebClientService<
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            tonic_web::GrpcWebCall<tonic::body::Body>,
        >,
    >,
>;

/// A gRPC-Web client of the HTTP port at `http` (HTTP/1.1, as a browser).
fn web_client(http: SocketAddr) -> WebClient {
    let h1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let svc = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(h1);
    TicketServiceClient::with_origin(svc, format!("http://{http}").parse().unwrap())
}

async fn preflight(http: SocketAddr, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{http}/jit.v1.TicketService/CreateTicket"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .send()
        .await
        .expect("the preflight is answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_drives_a_ticket_over_grpc_web_and_cors_opens_only_to_its_origin() {
    let app = TestApp::new("web").await;
    let api = ApiServer::configured(&app, |s| {
        s.http_listen = Some("127.0.0.1:0".into());
        s.web_origins = vec![CONSOLE.into()];
    })
    .await;
    let http = api.http.expect("the HTTP port");
    let mut web = web_client(http);

    // Create, then watch the stream while carol approves.
    let created = web
        .create_ticket(as_user("dev:bob", create_msg(&app, "web-1", 1)))
        .await
        .expect("created over gRPC-Web")
        .into_inner();
    let id = created.ticket.expect("a ticket").ticket_id;
    let mut stream = web
        .watch_ticket(as_user(
            "dev:bob",
            pb::WatchTicketRequest {
                ticket_id: id.clone(),
            },
        ))
        .await
        .expect("watching over gRPC-Web")
        .into_inner();
    let mut seen = Vec::new();
    let approver = {
        let mut web = web_client(http);
        let id = id.clone();
        tokio::spawn(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let r = web
                    .approve_ticket(as_user(
                        "dev:carol",
                        pb::ApproveTicketRequest {
                            ticket_id: id.clone(),
                            comment: "from the browser".into(),
                        },
                    ))
                    .await;
                match r {
                    Ok(v) => return v.into_inner().effect,
                    // Not waiting for approval yet (still evaluating).
                    Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                        assert!(std::time::Instant::now() < deadline, "{s:?}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(s) => panic!("approving over gRPC-Web: {s:?}"),
                }
            }
        })
    };
    let watched = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(m) = stream.message().await.expect("the stream goes on") {
            let t = m.ticket.expect("a ticket");
            let status = pb::TicketStatus::try_from(t.status).unwrap();
            seen.push(status);
            if status == pb::TicketStatus::Active {
                return t;
            }
        }
        panic!("the stream ended before Active: {seen:?}");
    })
    .await
    .expect("Active within 90 s");
    assert_eq!(approver.await.unwrap(), "counted; approved");
    assert!(seen.len() >= 2, "the stream sent the changes: {seen:?}");
    assert_eq!(watched.votes.len(), 1);
    assert_eq!(watched.votes[0].voter, "carol");
    assert!(watched.expire_time.is_some());
    let got = web
        .get_ticket(as_user(
            "dev:bob",
            pb::GetTicketRequest {
                ticket_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(got.status, pb::TicketStatus::Active as i32);

    // A refusal names its field in the message and as a BadRequest field violation.
    let mut bad = create_msg(&app, "web-2", 1);
    bad.targets[0].account_id = "12".into();
    let s = web
        .create_ticket(as_user("dev:bob", bad))
        .await
        .expect_err("refused");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    let v = s
        .get_details_bad_request()
        .expect("a BadRequest in the trailers");
    assert_eq!(
        v.field_violations[0].field, "targets[0].account_id",
        "{v:?}"
    );
    assert!(
        s.message().starts_with("targets[0].account_id: "),
        "{}",
        s.message()
    );

    // Text mode, byte for byte: an empty GetCallerRequest is one frame of five zero bytes.
    let b64 = base64::engine::general_purpose::STANDARD;
    let r = reqwest::Client::new()
        .post(format!("http://{http}/jit.v1.TicketService/GetCaller"))
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .header("origin", CONSOLE)
        .header("x-grpc-web", "1")
        .header("authorization", "Bearer dev:dave")
        .body(b64.encode([0u8; 5]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    // The cross-origin answer lets the console's page read gRPC's status.
    let exposed = r
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("grpc-status"), "{exposed}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web-text"),
        "{:?}",
        r.headers()
    );
    let body = r.text().await.unwrap();
    // The body is base64 chunks (the message, then the trailers), each padded on its own.
    let mut bytes = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        // A chunk ends after its padding, or at the end.
        let end = match rest.find('=') {
            Some(i) => i + rest[i..].chars().take_while(|c| *c == '=').count(),
            None => rest.len(),
        };
        bytes.extend(b64.decode(&rest[..end]).expect("base64"));
        rest = &rest[end..];
    }
    assert_eq!(bytes[0], 0, "a data frame first");
    let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    let caller = <pb::GetCallerResponse as prost::Message>::decode(&bytes[5..5 + len]).unwrap();
    assert_eq!(caller.subject, "dave");
    let trailers = String::from_utf8_lossy(&bytes[5 + len + 5..]).to_lowercase();
    assert_eq!(bytes[5 + len], 0x80, "then the trailers frame");
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    // CORS: the console's origin is answered; another is not.
    let ok = preflight(http, CONSOLE).await;
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(CONSOLE),
        "{:?}",
        ok.headers()
    );
    let other = preflight(http, "http://evil.test").await;
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers()
    );

    // A server with no web origins sends no CORS header at all, yet serves its own origin.
    let closed = ApiServer::configured(&app, |s| {
        s.http_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let closed_http = closed.http.unwrap();
    let r = preflight(closed_http, CONSOLE).await;
    assert!(
        r.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers()
    );
    let me = web_client(closed_http)
        .get_caller(as_user("dev:erin", pb::GetCallerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, "erin");
}
