//! The session-audit benchmark (`cargo xtask bench trail`): how fast one core reads CloudTrail
//! logs for a ticket, and how much memory it takes. Generates realistic log files
//! (`jit_e2e::trail`: assumed-role calls of many people in many roles, federations, console
//! sign-ins, IAM users' calls; gzip) into a folder, at least `--gigabytes` of them compressed,
//! then reads them all on one thread with the scan the `session_audit` activity uses
//! (`jit_trail::Scan`: records that name no Identity Center role passed over unparsed, the
//! rest tested against the ticket's window), and checks it attributed exactly the records the
//! generator made for the ticket. Reports compressed and uncompressed MB/s, records/s and the
//! process's peak RSS (`VmHWM`), to the file given first.
//!
//! Usage: `trail_bench OUT.md [--gigabytes G] [--dir DIR] [--reuse]` (`--reuse`: read the
//! files an earlier run generated in DIR, if it generated as many).

use std::io::Write as _;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use jit_e2e::trail::{Actor, iam_user_call};
use jit_trail::{Scan, Summary, Window};

const ACCOUNT: &str = "111111111111";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: trail_bench OUT.md [--gigabytes G] [--dir DIR]"))?;
    let mut gigabytes = 1.0_f64;
    let mut dir = jit_devstack::repo_root().join("target/trail-bench");
    let mut reuse = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--gigabytes" => gigabytes = args.next().unwrap_or_default().parse()?,
            "--dir" => dir = args.next().unwrap_or_default().into(),
            "--reuse" => reuse = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let start: Timestamp = "2026-12-04T08:00:00Z".parse()?;
    let window = Window {
        account: ACCOUNT.into(),
        permission_set: "ReadOnly".into(),
        session_names: vec!["user7".into(), "user7@example.com".into()],
        from: start,
        ended: start + SignedDuration::from_hours(1),
        until: start + SignedDuration::from_hours(13),
    };
    let stats = dir.join("generated.json");
    let earlier: Option<Generated> = std::fs::read(&stats)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|g: &Generated| reuse && g.compressed as f64 >= gigabytes * 1e9);
    let generated = match earlier {
        Some(g) => g,
        None => {
            eprintln!(
                "generating {gigabytes} GB of compressed logs in {}",
                dir.display()
            );
            let g = generate(&dir, gigabytes, start)?;
            std::fs::write(&stats, serde_json::to_vec(&g)?)?;
            g
        }
    };
    eprintln!(
        "generated {} files, {:.0} MB compressed, {:.0} MB of JSON, {} records ({} the ticket's)",
        generated.files,
        mb(generated.compressed),
        mb(generated.json),
        generated.records,
        generated.ticket
    );

    let windows = [window];
    let patterns: Vec<String> = jit_policy::rules::DEFAULT_NOTABLE
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let scan = Scan::new(&windows, &patterns);
    let mut summary = Summary::default();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .collect();
    paths.sort();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut attributed = 0u64;
    for p in &paths {
        let f = std::fs::File::open(p)?;
        scan.file(f, &mut summary, |_| attributed += 1)?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let peak = peak_rss_mb();
    anyhow::ensure!(
        attributed == generated.ticket && summary.events == generated.ticket,
        "attributed {attributed}, expected {}",
        generated.ticket
    );
    let md = format!(
        "# Session-audit benchmark\n\n\
         `cargo xtask bench trail` (release build; `tests/examples/trail_bench.rs`): generated \
         CloudTrail log files (gzip, CloudTrail's record format: assumed-role calls of 2,000 \
         people in 6 Identity Center roles and IAM users' calls, federations, console \
         sign-ins), read on **one thread** from local disk with `jit_trail::Scan` — what the \
         `session_audit` activity runs on each file it streams from S3 — for one ticket's \
         window. The scan attributed exactly the {ticket} records the generator made for the \
         ticket.\n\n\
         | | |\n|---|---:|\n\
         | files | {files} |\n\
         | compressed | {c:.0} MB |\n\
         | uncompressed JSON | {j:.0} MB |\n\
         | records | {records} |\n\
         | wall time | {wall:.1} s |\n\
         | CPU time | {cpu:.1} s |\n\
         | **compressed MB/s (one core)** | **{cmbs:.0}** |\n\
         | uncompressed MB/s | {jmbs:.0} |\n\
         | records/s | {rps:.0} |\n\
         | **peak RSS of the process** | **{peak:.0} MB** |\n\n\
         Aims: ≥ 50 MB/s of compressed logs on one core, ≤ 100 MB RSS. Memory does not grow \
         with the logs: one file is read at a time as a stream (gzip decoded as it comes, one \
         record's text in memory). Records are found by their brackets, not parsed \
         (`jit_trail::split`), and only those naming one of the window's roles \
         (`AWSReservedSSO_<set>_`) and one of its session names (a multi-pattern search) are \
         parsed and tested. The generated logs compress about {ratio:.0}:1; real trails \
         compress less, which makes the compressed rate only better.\n",
        ticket = generated.ticket,
        files = generated.files,
        c = mb(generated.compressed),
        j = mb(generated.json),
        records = generated.records,
        cmbs = mb(generated.compressed) / wall,
        jmbs = mb(generated.json) / wall,
        rps = generated.records as f64 / wall,
        ratio = generated.json as f64 / generated.compressed.max(1) as f64,
    );
    print!("{md}");
    std::fs::write(&out, md)?;
    eprintln!("wrote {out}");
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Generated {
    files: u64,
    compressed: u64,
    json: u64,
    records: u64,
    ticket: u64,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Writes log files into `dir` until `gigabytes` of them (compressed) are there. Records are
/// written one by one into the gzip stream: the generator's memory stays small too.
fn generate(dir: &std::path::Path, gigabytes: f64, start: Timestamp) -> anyhow::Result<Generated> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let target = (gigabytes * 1e9) as u64;
    let sets = [
        "ReadOnly",
        "Developer",
        "Admin",
        "Billing",
        "ReadOnly_Extra",
        "Network",
    ];
    let calls = [
        ("s3", "GetObject", true),
        ("s3", "ListBuckets", true),
        ("ec2", "DescribeInstances", true),
        ("ec2", "RunInstances", false),
        ("iam", "GetRole", true),
        ("kms", "Decrypt", true),
        ("dynamodb", "Query", true),
        ("lambda", "InvokeFunction", false),
        ("sts", "GetCallerIdentity", true),
        ("cloudwatch", "PutMetricData", false),
    ];
    let mut g = Generated {
        files: 0,
        compressed: 0,
        json: 0,
        records: 0,
        ticket: 0,
    };
    let mut n: u64 = 0;
    while g.compressed < target {
        let path = dir.join(format!("{:06}.json.gz", g.files));
        let file = std::fs::File::create(&path)?;
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::default(),
        );
        gz.write_all(b"{\"Records\":[")?;
        let mut json = 12u64;
        for i in 0..4000u64 {
            n += 1;
            let at =
                start + SignedDuration::from_millis(i64::try_from(n % 36_000_000).unwrap_or(0));
            let who = n % 2000;
            let record = if n.is_multiple_of(10) {
                iam_user_call(ACCOUNT, at, "PutObject")
            } else {
                let actor = Actor {
                    account: ACCOUNT.into(),
                    permission_set: sets[((n / 3) % 6) as usize].into(),
                    suffix: "0123456789abcdef".into(),
                    session: format!("user{who}"),
                    issued: start + SignedDuration::from_mins(i64::try_from(n % 50).unwrap_or(0)),
                };
                let (svc, name, ro) = calls[(n % 10) as usize];
                let mut r = actor.call(
                    at,
                    svc,
                    name,
                    ro,
                    n.is_multiple_of(97).then_some("AccessDenied"),
                );
                r["requestParameters"] = serde_json::json!({
                    "bucketName": format!("data-{}", n % 300), "key": format!("reports/2026/{n}.csv"),
                    "maxResults": 100, "filters": [{"name": "tag:team", "values": [format!("team-{}", n % 40)]}],
                });
                r["tlsDetails"] = serde_json::json!({"tlsVersion": "TLSv1.3",
                    "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("{svc}.us-east-1.amazonaws.com")});
                if window_holds(&actor, at, start) {
                    g.ticket += 1;
                }
                r
            };
            let text = record.to_string();
            if i > 0 {
                gz.write_all(b",")?;
                json += 1;
            }
            gz.write_all(text.as_bytes())?;
            json += text.len() as u64;
            g.records += 1;
        }
        gz.write_all(b"]}")?;
        json += 2;
        gz.finish()?.flush()?;
        g.compressed += std::fs::metadata(&path)?.len();
        g.json += json;
        g.files += 1;
    }
    Ok(g)
}

/// The generator's own account of which records belong to the ticket (user7 as ReadOnly,
/// session issued in the first hour, used within 13 hours).
fn window_holds(a: &Actor, at: Timestamp, start: Timestamp) -> bool {
    (a.session == "user7" || a.session == "user7@example.com")
        && a.permission_set == "ReadOnly"
        && a.issued >= start
        && a.issued <= start + SignedDuration::from_hours(1)
        && at >= start
        && at <= start + SignedDuration::from_hours(13)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
