//! The web console in a real browser: Playwright (`console/tests/*.spec.ts`) drives Debian's
//! Chromium (installed with apt-get when missing) against the console built from
//! `console/` and served by a real jit-api (dev sign-in) over the real worker, Temporal and
//! the sandbox. The whole story: bob requests ReadOnly and sees the plan; carol approves
//! from her queue; dave delegates to frank, frank approves as dave; erin approves; bob's page
//! turns Active live and the sandbox holds the assignment; bob extends; erin (an admin)
//! revokes and the assignment is gone; bob's own approval is refused with the workflow's
//! words; a duration over the cap is shown on its field; a justification with `<script>` and
//! `<!channel>` is text; a stranger cannot open the ticket; axe finds no serious or critical
//! violation on any page; no Content-Security-Policy violation. Screenshots of each page,
//! light and dark, go to `target/console-screenshots` (`JIT_CONSOLE_SCREENSHOTS` to put them
//! elsewhere, e.g. `docs/console`).
//!
//! A second test signs in the production way: OIDC authorization code with PKCE against a
//! real provider (`tests/oidc`, panva's oidc-provider), through the provider's own pages, to
//! an API that accepts only the provider's JWTs; the token is in no storage.
//!
//! The browser asks the sandbox through a small HTTP endpoint of this test
//! (`/assignments?user=&permission_set=`): the count of the account's assignments, read with
//! the real AWS SDK.

use std::process::Command;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;

use crate::api::ApiServer;
use crate::support::TestApp;

/// The local stack's production plan, on this test's account.
const POLICY: &str = r#"
admins: { users: [erin] }
eligibility:
  - { name: engineers-look, groups: [engineers], accounts: ["{account}"], permission_sets: [ReadOnly] }
  - { name: sre-anything, groups: [sre], accounts: ["{account}"], permission_sets: ["*"] }
plans:
  - name: production
    accounts: ["{account}"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 2 }
      - { name: security, groups: [security], quorum: 1 }
    max_duration: 4h
    max_total: 8h
    approval_timeout: 2h
"#;

#[derive(serde::Deserialize)]
struct Ask {
    user: String,
    permission_set: String,
}

struct Sandbox {
    aws: jit_aws::IdentityCenter,
    account: jit_domain::AccountId,
}

async fn assignments(
    State(s): State<Arc<Sandbox>>,
    Query(q): Query<Ask>,
) -> axum::Json<serde_json::Value> {
    let a = jit_e2e::assignment(&s.aws, &s.account, &q.user, &q.permission_set).await;
    let n = s.aws.count_assignments(&a).await.expect("list assignments");
    axum::Json(serde_json::json!({ "count": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_tells_the_whole_story_in_a_real_browser() {
    let root = jit_devstack::repo_root();
    let chromium = jit_devstack::ensure_chromium(&root).expect("Debian's Chromium");
    let dist = jit_devstack::ensure_console(&root).expect("the console builds");
    let app = TestApp::with_policy("console", POLICY).await;
    let api = ApiServer::configured(&app, |s| {
        s.http_listen = Some("127.0.0.1:0".into());
        s.console = Some(jit_e2e::dev_console(
            &dist,
            &["alice", "bob", "carol", "dave", "erin", "frank", "gina"],
        ));
    })
    .await;
    let http = api.http.expect("the HTTP port");

    let sandbox = Arc::new(Sandbox {
        aws: jit_e2e::sandbox(&app.stack.sandbox_url, &app.stack.region).await,
        account: app.account.clone(),
    });
    let check = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let check_url = format!("http://{}", check.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            check,
            axum::Router::new()
                .route("/assignments", get(assignments))
                .with_state(sandbox),
        )
        .await
    });

    // One reconcile run (dry), for the Admin page's report.
    let id = format!("reconcile-{}", app.task_queue);
    app.reconcile("ReadOnly", true, &id, crate::T).await;

    let shots = std::env::var_os("JIT_CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/console-screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let results = app.stack.logs.join(format!("console-{}", app.task_queue));
    playwright(
        "tests/story.spec.ts",
        &results,
        vec![
            ("JIT_CONSOLE_URL", format!("http://{http}")),
            ("JIT_CHECK_URL", check_url),
            ("JIT_CHROMIUM", chromium.display().to_string()),
            ("JIT_ACCOUNT", app.account.to_string()),
            ("JIT_CONSOLE_SCREENSHOTS", shots.display().to_string()),
        ],
    )
    .await;
}

/// Runs Playwright on `spec` in its own process (this runtime keeps serving the API
/// meanwhile); fails the test with its report when a test fails.
async fn playwright(spec: &str, results: &std::path::Path, env: Vec<(&'static str, String)>) {
    let console = jit_devstack::repo_root().join("console");
    let spec = spec.to_owned();
    let results = results.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(console.join("node_modules/.bin/playwright"))
            .args(["test", &spec, "--reporter=line", "--output"])
            .arg(&results)
            .current_dir(&console)
            .envs(env)
            .env("CI", "1")
            .output()
            .expect("playwright runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "the browser suite failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_with_openid_connect_code_and_pkce() {
    let root = jit_devstack::repo_root();
    let chromium = jit_devstack::ensure_chromium(&root).expect("Debian's Chromium");
    let dist = jit_devstack::ensure_console(&root).expect("the console builds");
    let app = TestApp::new("console-oidc").await;
    let dir = app
        .stack
        .logs
        .join(format!("console-oidc-{}", app.task_queue));
    std::fs::create_dir_all(&dir).unwrap();
    // The console's origin must be known to the provider (its redirect URI) before the API
    // binds it.
    let port = jit_devstack::process::free_port().expect("a free port");
    let origin = format!("http://127.0.0.1:{port}");
    let idp = jit_devstack::OidcProvider::start_with(
        &root,
        std::time::Duration::from_secs(300),
        &dir.join("idp.log"),
        Some(&format!("{origin}/callback")),
    )
    .expect("the OpenID provider");
    let _api = ApiServer::configured(&app, |s| {
        s.dev_auth = false;
        s.jwt = Some(jit_config::JwtConfig {
            issuer: idp.issuer.clone(),
            audience: "jit".into(),
            jwks_url: idp.jwks_url.clone(),
        });
        s.http_listen = Some(format!("127.0.0.1:{port}"));
        s.console = Some(jit_config::ConsoleSettings {
            dir: dist.clone(),
            client_id: Some("jit-console".into()),
            scope: "openid".into(),
            resource: None,
            dev_users: Vec::new(),
        });
    })
    .await;
    playwright(
        "tests/oidc.spec.ts",
        &app.stack
            .logs
            .join(format!("console-oidc-results-{}", app.task_queue)),
        vec![
            ("JIT_CONSOLE_URL", origin),
            ("JIT_CHROMIUM", chromium.display().to_string()),
        ],
    )
    .await;
}
