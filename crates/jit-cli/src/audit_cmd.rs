//! `jit audit export`: the records of the tickets that ended in a period, read from the audit
//! bucket (where the workers write them; `docs/audit.md`), as JSON lines for a SIEM or as a
//! table. Reads S3 directly with the caller's AWS credentials: the bucket is the durable
//! record, whatever Temporal still holds.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;
use jiff::civil::Date;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_domain::{AUDIT_SCHEMA, AuditRecord};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the records of the tickets that ended between `--since` and `--until`.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// From this day or time (UTC), e.g. 2026-12-01 or 2026-12-01T08:00:00Z.
    #[arg(long)]
    since: String,
    /// Until this day (inclusive) or time; default: now.
    #[arg(long)]
    until: Option<String>,
    /// The audit bucket (JIT_AUDIT_BUCKET).
    #[arg(long, env = "JIT_AUDIT_BUCKET")]
    bucket: String,
    /// The key prefix the workers write under (`worker.audit.prefix`).
    #[arg(long, default_value = "", env = "JIT_AUDIT_PREFIX")]
    prefix: String,
    /// The S3 endpoint (AWS_ENDPOINT_URL; the local stack's sandbox, say). Default: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// `jsonl`: one record per line, as written; `table`: a line per ticket.
    #[arg(long = "format", value_enum, default_value = "jsonl")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Jsonl,
    Table,
}

/// A day or an instant, as people write them.
fn instant(what: &str, s: &str, end_of_day: bool) -> anyhow::Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let d: Date = s.parse().map_err(|_| {
        anyhow::anyhow!("--{what}: {s:?} is neither a day (2026-12-01) nor a time (RFC 3339)")
    })?;
    let day = if end_of_day {
        d.tomorrow()?
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp()
            .checked_sub(jiff::SignedDuration::from_nanos(1))?
    } else {
        d.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp()
    };
    Ok(day)
}

pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::Export(a) = cmd;
    let since = instant("since", &a.since, false)?;
    let until = match &a.until {
        Some(u) => instant("until", u, true)?,
        None => Timestamp::now(),
    };
    anyhow::ensure!(since <= until, "--since is after --until");
    let aws = IdentityCenter::connect(&AwsSettings {
        region: a.region.clone(),
        endpoint_url: a.endpoint_url.clone(),
        requests_per_second: 0.0,
    })
    .await;
    let first = since.to_zoned(jiff::tz::TimeZone::UTC).date();
    let last = until.to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut rows = Vec::new();
    let mut day = first;
    while day <= last {
        let dir = jit_domain::audit::day_prefix(&a.prefix, day);
        let objects = aws
            .list_objects(&a.bucket, &dir)
            .await
            .map_err(|e| anyhow::anyhow!("listing s3://{}/{dir}: {e}", a.bucket))?;
        for o in objects {
            let bytes = aws
                .get_object(&a.bucket, &o.key)
                .await
                .map_err(|e| anyhow::anyhow!("reading s3://{}/{}: {e}", a.bucket, o.key))?;
            let record: AuditRecord = serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("s3://{}/{}: not an audit record: {e}", a.bucket, o.key)
            })?;
            anyhow::ensure!(
                record.schema == AUDIT_SCHEMA,
                "s3://{}/{}: schema {:?}, this jit reads {AUDIT_SCHEMA}",
                a.bucket,
                o.key,
                record.schema
            );
            if record.ended_at.is_some_and(|t| since <= t && t <= until) {
                rows.push((record, bytes));
            }
        }
        day = day.tomorrow()?;
    }
    rows.sort_by_key(|(r, _)| r.ended_at);
    match a.format {
        Format::Jsonl => {
            for (_, bytes) in &rows {
                println!("{}", String::from_utf8_lossy(bytes).trim_end());
            }
        }
        Format::Table => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::NOTHING).set_header([
                "ENDED",
                "TICKET",
                "OUTCOME",
                "PRINCIPAL",
                "TARGETS",
                "APPROVED BY",
                "SESSION",
            ]);
            for (r, _) in &rows {
                let approvers: Vec<String> = r
                    .plan
                    .iter()
                    .flat_map(|p| &p.votes)
                    .map(|v| {
                        if v.voter == v.cast_by {
                            v.voter.clone()
                        } else {
                            format!("{} as {}", v.cast_by, v.voter)
                        }
                    })
                    .collect();
                let targets: Vec<String> = r
                    .targets
                    .iter()
                    .map(|x| format!("{} in {}", x.permission_set, x.account))
                    .collect();
                t.add_row([
                    r.ended_at.map(|t| t.to_string()).unwrap_or_default(),
                    r.ticket_id.clone(),
                    r.outcome.to_string(),
                    r.principal.clone(),
                    targets.join(", "),
                    approvers.join(", "),
                    r.session.as_ref().map(|s| s.line()).unwrap_or_default(),
                ]);
            }
            println!("{t}");
        }
    }
    eprintln!("{} record(s)", rows.len());
    Ok(ExitCode::SUCCESS)
}
