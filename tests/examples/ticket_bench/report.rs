//! The report: medians and spread per mode, jit's ratios to the bare engine, one ticket's
//! events by type, the targets, and a JSON line per run.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::Args;
use crate::run::{Memory, Run};

/// Median and [min..max] of `f` over `runs`.
fn spread(runs: &[&Run], f: impl Fn(&Run) -> f64) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs
        .iter()
        .map(|r| f(r))
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn cell(runs: &[&Run], digits: usize, f: impl Fn(&Run) -> f64) -> String {
    if runs.is_empty() {
        return "—".into();
    }
    let (m, lo, hi) = spread(runs, f);
    if runs.len() == 1 {
        format!("{m:.digits$}")
    } else {
        format!("{m:.digits$} [{lo:.digits$}..{hi:.digits$}]")
    }
}

fn per_ticket(r: &Run, x: f64) -> f64 {
    x / r.tickets as f64
}

pub(crate) fn markdown(args: &Args, runs: &[Run], memory: &[Memory]) -> String {
    let of = |mode: &str| runs.iter().filter(|r| r.mode == mode).collect::<Vec<_>>();
    let (jit, raised, bare) = (of("jit"), of("jit-raised"), of("bare"));
    let cols = [
        ("jit", &jit),
        ("jit, limiter raised", &raised),
        ("bare workflow", &bare),
    ];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Ticket benchmark\n\n`cargo xtask bench tickets` (release build; see `tests/examples/ticket_bench/`): \
         {} tickets per run, {} in flight, each its own assignment, created and approved through \
         the real API (jit) or started and approved by update (bare); a {} s grant; the dev \
         server on its SQLite file, moto behind a counting proxy, a worker process per run; {} \
         run(s) of each mode, interleaved. Median [min..max] over runs. Measured on {} logical \
         CPUs.\n",
        args.tickets,
        args.in_flight,
        5,
        args.runs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let _ = writeln!(s, "| | {} |", cols.map(|c| c.0).join(" | "));
    let _ = writeln!(s, "|---|---:|---:|---:|");
    type Row = (&'static str, usize, fn(&Run) -> f64);
    let rows: [Row; 16] = [
        ("tickets/s end to end", 1, |r| r.tickets_per_s),
        ("approvals/s while they arrive", 1, |r| r.approvals_per_s),
        ("approve → active p50 (ms)", 0, |r| {
            r.approve_to_active_ms[0]
        }),
        ("approve → active p95 (ms)", 0, |r| {
            r.approve_to_active_ms[1]
        }),
        ("approve → active p99 (ms)", 0, |r| {
            r.approve_to_active_ms[2]
        }),
        ("revocation lag p50 (ms)", 0, |r| r.revocation_lag_ms[0]),
        ("revocation lag p99 (ms)", 0, |r| r.revocation_lag_ms[1]),
        ("history events per ticket, all workflows", 1, |r| {
            per_ticket(r, r.work.events as f64)
        }),
        ("history bytes per ticket, all workflows", 0, |r| {
            per_ticket(r, r.work.history_bytes as f64)
        }),
        ("workflow tasks per ticket", 1, |r| {
            per_ticket(r, r.work.workflow_tasks as f64)
        }),
        ("billable actions per ticket", 1, |r| {
            per_ticket(r, r.work.actions as f64)
        }),
        ("server CPU per ticket (ms)", 1, |r| {
            per_ticket(r, r.server_cpu_s * 1000.0)
        }),
        ("worker CPU per ticket (ms)", 1, |r| {
            per_ticket(r, r.worker_cpu_s * 1000.0)
        }),
        ("moto CPU per ticket (ms)", 1, |r| {
            per_ticket(r, r.moto_cpu_s * 1000.0)
        }),
        ("AWS requests per ticket", 1, |r| {
            per_ticket(r, r.aws_requests as f64)
        }),
        ("worker peak RSS (MB)", 0, |r| r.worker_peak_rss_mb),
    ];
    for (name, digits, f) in rows {
        let _ = writeln!(
            s,
            "| {name} | {} |",
            cols.map(|(_, rs)| cell(rs, digits, f)).join(" | ")
        );
    }
    let ok = |rs: &[&Run]| {
        rs.iter()
            .map(|r| format!("{}/{}", r.ended_as_expected, r.tickets))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let leaked: usize = runs.iter().map(|r| r.leaked).sum();
    let _ = writeln!(
        s,
        "\nEnded as expected (Expired): jit {}; raised {}; bare {}. Assignments left in AWS after \
         every run: {leaked}.\n",
        ok(&jit),
        ok(&raised),
        ok(&bare)
    );

    // Ratios to the bare engine (medians).
    let med = |rs: &[&Run], f: fn(&Run) -> f64| spread(rs, f).0;
    let cpu = |r: &Run| per_ticket(r, r.server_cpu_s);
    let tput = |r: &Run| r.tickets_per_s;
    let events = |r: &Run| per_ticket(r, r.work.events as f64);
    if !bare.is_empty() {
        let _ = writeln!(s, "## Ratios to the bare workflow (medians)\n");
        let _ = writeln!(s, "| | jit | jit, limiter raised |\n|---|---:|---:|");
        for (name, f) in [
            ("server CPU per ticket", cpu as fn(&Run) -> f64),
            ("throughput", tput),
            ("history events per ticket", events),
        ] {
            let b = med(&bare, f);
            let _ = writeln!(
                s,
                "| {name} | {:.2}× | {:.2}× |",
                med(&jit, f) / b,
                med(&raised, f) / b
            );
        }
        s.push('\n');
    }

    // Metrics on against off, and the codec on against off, same limiter.
    let wcpu = |r: &Run| per_ticket(r, r.worker_cpu_s * 1000.0);
    let scpu = |r: &Run| per_ticket(r, r.server_cpu_s * 1000.0);
    let rss = |r: &Run| r.worker_peak_rss_mb;
    let bytes = |r: &Run| per_ticket(r, r.work.history_bytes as f64);
    overhead(
        &mut s,
        "Metrics overhead (limiter raised, worker metrics off and on)",
        &raised,
        &of("jit-metrics"),
        &[
            ("worker CPU per ticket (ms)", wcpu),
            ("tickets/s end to end", tput),
            ("worker peak RSS (MB)", rss),
        ],
    );
    overhead(
        &mut s,
        "Payload encryption overhead (limiter raised, codec off and on; the API's share runs in \
         the bench process and is not counted)",
        &raised,
        &of("jit-codec"),
        &[
            ("worker CPU per ticket (ms)", wcpu),
            ("server CPU per ticket (ms)", scpu),
            ("history bytes per ticket, all workflows", bytes),
            ("tickets/s end to end", tput),
            ("worker peak RSS (MB)", rss),
        ],
    );

    // Where the events go.
    if let Some(r) = jit.first().or(raised.first()) {
        let _ = writeln!(
            s,
            "## Where a jit ticket's events go (one run, per ticket)\n\n| workflow type | executions started in the run | events per ticket |\n|---|---:|---:|"
        );
        for (ty, (n, e)) in &r.work.by_type {
            let _ = writeln!(s, "| {ty} | {n} | {:.1} |", per_ticket(r, *e as f64));
        }
        let _ = writeln!(
            s,
            "\nOne ticket's own history, by event type:\n\n| event | count |\n|---|---:|"
        );
        let mut v: Vec<(&String, &usize)> = r.work.one_ticket.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total: usize = v.iter().map(|x| *x.1).sum();
        for (name, n) in v {
            let _ = writeln!(s, "| {name} | {n} |");
        }
        let _ = writeln!(s, "| **total** | **{total}** |\n");
    }
    if !memory.is_empty() {
        let _ = writeln!(
            s,
            "## Memory\n\nA fresh worker per line, with N open tickets waiting for approval, \
             by the size of its sticky cache (`worker.cached_workflows`). A ticket waits for \
             days between a few short tasks: it need not stay cached, and one evicted replays \
             its short history when it next has work.\n\n\
             | sticky cache (workflows) | open tickets | RSS (MB) | peak RSS (MB) |\n|---:|---:|---:|---:|"
        );
        for m in memory {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.0} |",
                m.cached_workflows, m.open_tickets, m.rss_mb, m.peak_rss_mb
            );
        }
        s.push('\n');
    }
    // The targets compare with the bare workflow: only when it ran.
    if !bare.is_empty() {
        let _ = writeln!(s, "{}", targets(&jit, &raised, &bare, memory.first()));
    }
    s
}

fn targets(jit: &[&Run], raised: &[&Run], bare: &[&Run], memory: Option<&Memory>) -> String {
    let med = |rs: &[&Run], f: &dyn Fn(&Run) -> f64| spread(rs, f).0;
    let one_ticket = jit.first().map_or(f64::NAN, |r| {
        r.work.one_ticket.values().sum::<usize>() as f64
    });
    let mut t = BTreeMap::new();
    let mut put = |k: &str, target: &str, v: String, ok: bool| {
        t.insert(
            k.to_owned(),
            format!(
                "| {k} | {target} | {v} | {} |",
                if ok { "yes" } else { "no" }
            ),
        );
    };
    put(
        "events in the ticket's history",
        "≤ 35",
        format!("{one_ticket:.0}"),
        one_ticket <= 35.0,
    );
    let all = med(jit, &|r| per_ticket(r, r.work.events as f64));
    put(
        "events across every workflow",
        "≤ 50",
        format!("{all:.1}"),
        all <= 50.0,
    );
    let aws = med(jit, &|r| per_ticket(r, r.aws_requests as f64));
    put(
        "AWS requests per ticket (warm)",
        "≤ 10",
        format!("{aws:.1}"),
        aws <= 10.0,
    );
    let cpu_ratio = med(raised, &|r| per_ticket(r, r.server_cpu_s))
        / med(bare, &|r| per_ticket(r, r.server_cpu_s));
    put(
        "server CPU per ticket vs bare",
        "≤ 1.2×",
        format!("{cpu_ratio:.2}×"),
        cpu_ratio <= 1.2,
    );
    let tput = med(raised, &|r| r.tickets_per_s) / med(bare, &|r| r.tickets_per_s);
    put(
        "throughput (limiter raised) vs bare",
        "≥ 90%",
        format!("{:.0}%", tput * 100.0),
        tput >= 0.9,
    );
    let p50 = med(raised, &|r| r.approve_to_active_ms[0]);
    let p99 = med(raised, &|r| r.approve_to_active_ms[2]);
    put(
        "approve → active p50 / p99 (raised)",
        "≤ 80 / 200 ms",
        format!("{p50:.0} / {p99:.0} ms"),
        p50 <= 80.0 && p99 <= 200.0,
    );
    let rss = med(jit, &|r| r.worker_peak_rss_mb);
    put(
        "worker peak RSS in flight",
        "≤ 40 MB",
        format!("{rss:.0} MB"),
        rss <= 40.0,
    );
    if let Some(m) = memory {
        put(
            "worker RSS, open tickets",
            "< 100 MB",
            format!(
                "{:.0} MB ({} open, cache {})",
                m.rss_mb, m.open_tickets, m.cached_workflows
            ),
            m.rss_mb < 100.0,
        );
    }
    let mut s =
        String::from("## Targets\n\n| target | wanted | reached | met |\n|---|---|---|---|\n");
    for line in t.values() {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// One run as a JSON line.
pub(crate) fn json_line(r: &Run) -> String {
    serde_json::json!({
        "mode": r.mode,
        "round": r.round,
        "tickets": r.tickets,
        "in_flight": r.in_flight,
        "ended_as_expected": r.ended_as_expected,
        "wall_s": r.wall_s,
        "tickets_per_s": r.tickets_per_s,
        "approvals_per_s": r.approvals_per_s,
        "approve_to_active_ms": { "p50": r.approve_to_active_ms[0], "p95": r.approve_to_active_ms[1], "p99": r.approve_to_active_ms[2] },
        "revocation_lag_ms": { "p50": r.revocation_lag_ms[0], "p99": r.revocation_lag_ms[1] },
        "events_per_ticket": r.work.events as f64 / r.tickets as f64,
        "workflow_tasks_per_ticket": r.work.workflow_tasks as f64 / r.tickets as f64,
        "history_bytes_per_ticket": r.work.history_bytes as f64 / r.tickets as f64,
        "actions_per_ticket": r.work.actions as f64 / r.tickets as f64,
        "events_by_type": r.work.by_type.iter().map(|(k, (n, e))| (k.clone(), serde_json::json!({"executions": n, "events": e}))).collect::<serde_json::Map<_, _>>(),
        "one_ticket": r.work.one_ticket,
        "server_cpu_s": r.server_cpu_s,
        "worker_cpu_s": r.worker_cpu_s,
        "moto_cpu_s": r.moto_cpu_s,
        "aws_requests": r.aws_requests,
        "worker_peak_rss_mb": r.worker_peak_rss_mb,
        "leaked": r.leaked,
    })
    .to_string()
}

/// A named figure of a run.
type Figure<'a> = (&'a str, fn(&Run) -> f64);

/// A table of `rows` for runs without (`off`) and with (`on`) something, and the difference
/// of the medians; nothing when either is missing.
fn overhead(s: &mut String, title: &str, off: &[&Run], on: &[&Run], rows: &[Figure]) {
    if off.is_empty() || on.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## {title}\n\n| | off | on | difference |\n|---|---:|---:|---:|"
    );
    for (name, f) in rows {
        let (a, b) = (spread(off, f).0, spread(on, f).0);
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {:+.1}% |",
            cell(off, 1, f),
            cell(on, 1, f),
            (b / a - 1.0) * 100.0
        );
    }
    s.push('\n');
}
