//! The web console's benchmark (`cargo xtask bench console`): the first load's JavaScript,
//! gzipped (what `console/dist/index.html` loads: its module script and preloads), and, in
//! headless Debian Chromium, the app shell's cold load and "My tickets" with 1,000 tickets
//! becoming interactive — on the real stack (dev server, worker, moto; this process serves
//! the API and the console, release build). Writes `docs/benchmarks/console.md`.
//!
//! Usage: `console_bench [OUT.md] [--tickets N] [--runs R]`.

use std::io::Write;
use std::time::{Duration, Instant};

use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;

fn as_user<T>(user: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer dev:{user}").parse().unwrap(),
    );
    r
}

/// The files `index.html` makes the browser fetch first, by kind.
fn first_load(dist: &std::path::Path) -> anyhow::Result<Vec<(String, u64, u64)>> {
    let html = std::fs::read_to_string(dist.join("index.html"))?;
    let mut out = Vec::new();
    for part in html.split(['"', '\'']) {
        if let Some(rel) = part.strip_prefix("/assets/") {
            let bytes = std::fs::read(dist.join("assets").join(rel))?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&bytes)?;
            let zipped = gz.finish()?.len() as u64;
            if !out.iter().any(|(n, _, _)| n == rel) {
                out.push((rel.to_owned(), bytes.len() as u64, zipped));
            }
        }
    }
    Ok(out)
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let out_file = args.first().filter(|a| !a.starts_with("--")).cloned();
    let tickets = flag("--tickets").unwrap_or(1000);
    let runs = flag("--runs").unwrap_or(5);

    let root = jit_devstack::repo_root();
    let chromium = jit_devstack::ensure_chromium(&root)?;
    let dist = jit_devstack::ensure_console(&root)?;
    let files = first_load(&dist)?;
    let js_gz: u64 = files
        .iter()
        .filter(|(n, _, _)| n.ends_with(".js"))
        .map(|f| f.2)
        .sum();
    let css_gz: u64 = files
        .iter()
        .filter(|(n, _, _)| n.ends_with(".css"))
        .map(|f| f.2)
        .sum();

    let stack = jit_devstack::TestStack::shared();
    let task_queue = format!("jit-console-bench-{}", std::process::id());
    let policy_file = root.join("deploy/local/policy.yaml");
    // prod's plan needs approvals: the tickets wait, and their list is what is measured.
    let account = stack
        .seed
        .accounts
        .get("prod")
        .expect("a prod account")
        .clone();
    jit_e2e::spawn_worker_thread(stack, &task_queue, &policy_file)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (http, created) = rt.block_on(async {
        let mut s = jit_e2e::api_settings(
            &stack.temporal_address,
            &stack.namespace,
            &task_queue,
            &policy_file,
        );
        s.http_listen = Some("127.0.0.1:0".into());
        s.console = Some(jit_e2e::dev_console(&dist, &["bob"]));
        let api = jit_api::Api::build(s).await?;
        let addr = api.local_addr()?;
        let http = api.http_addr().expect("the HTTP port");
        tokio::spawn(api.run_until_stopped(std::future::pending()));
        let mut c = TicketServiceClient::connect(format!("http://{addr}")).await?;
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for worker in 0..20 {
            let mut c = c.clone();
            let account = account.clone();
            set.spawn(async move {
                for i in (worker..tickets).step_by(20) {
                    let msg = jit_e2e::create_request(
                        &format!("console-bench-{i}"),
                        &account,
                        "ReadOnly",
                        3600,
                        &format!("console benchmark ticket {i}"),
                    );
                    c.create_ticket(as_user("bob", msg)).await.expect("created");
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r?;
        }
        eprintln!("{tickets} tickets created in {:.1?}", started.elapsed());
        // Visibility catches up with the starts.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut n = 0;
            let mut token = String::new();
            loop {
                let r = c
                    .list_tickets(as_user(
                        "bob",
                        pb::ListTicketsRequest {
                            requester: "bob".into(),
                            page_size: 500,
                            page_token: token.clone(),
                            ..Default::default()
                        },
                    ))
                    .await?
                    .into_inner();
                n += r.tickets.len();
                token = r.next_page_token;
                if token.is_empty() {
                    break;
                }
            }
            if n >= tickets || Instant::now() > deadline {
                break anyhow::Ok((http, n));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })?;
    anyhow::ensure!(
        created >= tickets,
        "only {created} of {tickets} tickets are listed"
    );

    let node = std::process::Command::new("node")
        .arg(root.join("console/bench/list.mjs"))
        .current_dir(root.join("console"))
        .env("JIT_CONSOLE_URL", format!("http://{http}"))
        .env("JIT_CHROMIUM", &chromium)
        .env("JIT_TICKETS", created.to_string())
        .env("JIT_RUNS", runs.to_string())
        .output()?;
    anyhow::ensure!(
        node.status.success(),
        "the browser half failed:\n{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&node.stdout)?;
    let nums = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
            .unwrap_or_default()
    };
    let (mut shell, mut list) = (nums("shell_ms"), nums("list_ms"));
    let (shell_min, shell_max) = (
        *shell.iter().min().unwrap_or(&0),
        *shell.iter().max().unwrap_or(&0),
    );
    let (list_min, list_max) = (
        *list.iter().min().unwrap_or(&0),
        *list.iter().max().unwrap_or(&0),
    );
    let (shell_p50, list_p50) = (median(&mut shell), median(&mut list));

    let mut md = String::new();
    md.push_str("# Console benchmark\n\n");
    md.push_str(&format!(
        "`cargo xtask bench console`, {} on this machine ({} cores): the console as built by \
         `npm run build`, served by jit-api (release build) over the real stack; headless \
         Debian Chromium ({}) driven by playwright-core; {runs} runs, median [min..max].\n\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d"),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        chromium.display()
    ));
    md.push_str("| | measured | target |\n|---|---|---|\n");
    md.push_str(&format!(
        "| first load: JavaScript, gzipped | **{:.0} KB** | ≤ 600 KB |\n",
        js_gz as f64 / 1024.0
    ));
    md.push_str(&format!(
        "| first load: CSS, gzipped | {:.0} KB | |\n",
        css_gz as f64 / 1024.0
    ));
    md.push_str(&format!(
        "| app shell, cold (new browser context to the sign-in form) | {shell_p50} ms [{shell_min}..{shell_max}] | |\n"
    ));
    md.push_str(&format!(
        "| My tickets with {created} tickets interactive (click to the full count and a clickable first row) | **{list_p50} ms** [{list_min}..{list_max}] | ≤ 1,000 ms |\n\n"
    ));
    md.push_str("The files of the first load (gzip level 6):\n\n| file | bytes | gzipped |\n|---|---|---|\n");
    for (n, raw, gz) in &files {
        md.push_str(&format!("| `assets/{n}` | {raw} | {gz} |\n"));
    }
    md.push_str(
        "\nThe list reads every page of `ListTickets` (500 a page, as requester and as \
         principal) and filters, sorts and pages in the browser (Cloudscape's collection \
         hooks), 25 rows a page.\n",
    );
    print!("{md}");
    if let Some(f) = out_file {
        std::fs::write(f, md)?;
    }
    Ok(())
}
