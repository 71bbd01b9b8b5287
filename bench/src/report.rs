//! The results: each scenario against its ceiling and its target, written as JSON
//! (`report.json`, one section per store, merged with the sections already there) and as
//! the Markdown tables of `REPORT.md`, rendered from that JSON.

use crate::ceilings::Ceilings;
use crate::load::Measured;
use crate::sessions::SessionMemory;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// One scenario, with the figure its target is about and the ceiling it is compared to.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub name: String,
    pub measured: Measured,
    /// The figure the ceiling ratio uses (see `figure_unit`).
    pub figure: f64,
    pub figure_unit: String,
    pub ceiling_name: String,
    pub ceiling: f64,
    pub ratio: f64,
    /// The target for this scenario, and whether it was met (set by [`judge`]).
    pub target: String,
    pub met: Option<bool>,
}

/// A target, and whether this run met it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub figure: String,
    pub target: String,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub store: String,
    pub smoke: bool,
    pub date: String,
    pub machine: String,
    pub connections: usize,
    pub seconds_per_scenario: f64,
    pub client_threads: usize,
    pub ceilings: Ceilings,
    pub idle_rss: u64,
    pub scenarios: Vec<Scenario>,
    /// Open-loop runs at half the closed-loop peak.
    pub half_peak: Vec<Scenario>,
    pub sessions: SessionMemory,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
}

impl Run {
    pub fn errors(&self) -> u64 {
        self.scenarios
            .iter()
            .chain(&self.half_peak)
            .map(|s| s.measured.errors)
            .sum::<u64>()
            + self.sessions.errors
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn check(what: &str, figure: String, target: &str, met: bool) -> Check {
    Check {
        what: what.to_owned(),
        figure,
        target: target.to_owned(),
        met,
    }
}

/// Judges every target on this run: marks each scenario and returns the list of checks.
pub fn judge(run: &mut Run) -> Vec<Check> {
    let checks = checks(run);
    for sc in run.scenarios.iter_mut().chain(run.half_peak.iter_mut()) {
        let key = scenario_target_name(&sc.name);
        if let Some(c) = checks.iter().find(|c| c.what == key) {
            sc.target = c.target.clone();
            sc.met = Some(c.met);
        }
    }
    checks
}

fn scenario_target_name(scenario: &str) -> String {
    match scenario {
        "full password sign-in" => "password sign-ins".into(),
        "discovery + JWKS" => "discovery, JWKS".into(),
        other => other.to_owned(),
    }
}

fn checks(run: &Run) -> Vec<Check> {
    let mut out = Vec::new();
    for s in &run.scenarios {
        let m = &s.measured;
        let per_core = |name: &str, t: f64| {
            check(
                name,
                format!("{:.0}/s per core", m.per_core()),
                &format!("≥ {t:.0}/s per core"),
                m.per_core() >= t,
            )
        };
        out.push(match s.name.as_str() {
            "full password sign-in" => check(
                "password sign-ins",
                format!("{:.2} × Argon2id ceiling", s.ratio),
                "≥ 0.9 × Argon2id ceiling (per core)",
                s.ratio >= 0.9,
            ),
            "client_credentials" => per_core("client_credentials", 8000.0),
            "refresh" => {
                let t = if run.store == "postgres" {
                    3000.0
                } else {
                    1500.0
                };
                check(
                    "refresh",
                    format!("{:.0}/s (whole box)", m.requests_per_s),
                    &format!("≥ {t:.0}/s (whole box)"),
                    m.requests_per_s >= t,
                )
            }
            "introspection" => per_core("introspection", 10_000.0),
            "userinfo" => per_core("userinfo", 5000.0),
            "discovery + JWKS" => per_core("discovery, JWKS", 15_000.0),
            _ => continue,
        });
    }
    out.push(check(
        "idle RSS",
        format!("{:.1} MB", mb(run.idle_rss)),
        "≤ 20 MB",
        mb(run.idle_rss) <= 20.0,
    ));
    let growth = run.sessions.growth() as f64 / 1e6;
    let scaled = if run.sessions.sessions > 0 {
        growth * 100_000.0 / run.sessions.sessions as f64
    } else {
        0.0
    };
    out.push(check(
        &format!("RSS growth for {} sessions", run.sessions.sessions),
        format!("{growth:.1} MB"),
        "≤ 40 MB per 100k",
        scaled <= 40.0,
    ));
    for h in &run.half_peak {
        out.push(check(
            &h.name,
            format!(
                "{:.2} ms at {:.0}/s",
                h.measured.p99_ms, h.measured.requests_per_s
            ),
            "p99 ≤ 5 ms",
            h.measured.p99_ms <= 5.0,
        ));
    }
    out
}

/// Merges this run's section into `report.json` and re-renders `REPORT.md` from it.
pub fn write(dir: &Path, run: &Run, command: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join("report.json");
    let mut doc: Value = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    doc["command"] = Value::String(command.to_owned());
    if !doc["runs"].is_object() {
        doc["runs"] = serde_json::json!({});
    }
    doc["runs"][&run.store] = serde_json::to_value(run)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md_path = dir.join("REPORT.md");
    let previous = std::fs::read_to_string(&md_path).unwrap_or_default();
    std::fs::write(&md_path, splice(&previous, &render(&doc)))
        .with_context(|| format!("writing {}", md_path.display()))?;
    Ok(())
}

const START: &str = "<!-- generated: start -->\n";
const END: &str = "<!-- generated: end -->\n";

/// Replaces the generated part of `REPORT.md`, keeping the hand-written analysis around it.
fn splice(previous: &str, generated: &str) -> String {
    let block = format!("{START}{generated}{END}");
    match (previous.find(START), previous.find(END)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{block}{}", &previous[..a], &previous[b + END.len()..])
        }
        _ => format!("# Tessera benchmark report\n\n{block}"),
    }
}

/// Re-renders `REPORT.md` from the `report.json` beside it (after a change to the layout).
pub fn rerender(dir: &Path) -> Result<()> {
    let json_path = dir.join("report.json");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&json_path)
            .with_context(|| format!("reading {}", json_path.display()))?,
    )?;
    let md_path = dir.join("REPORT.md");
    let previous = std::fs::read_to_string(&md_path).unwrap_or_default();
    std::fs::write(&md_path, splice(&previous, &render(&doc)))
        .with_context(|| format!("writing {}", md_path.display()))?;
    Ok(())
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64().unwrap_or(0.0)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `REPORT.md` from the merged JSON: one section per store.
pub fn render(doc: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Generated by `{}` between these markers (bench/README.md explains every figure); \
         the analysis outside them is written by hand.\n",
        s(doc, "command")
    );
    let Some(runs) = doc["runs"].as_object() else {
        return md;
    };
    for store in ["sqlite", "postgres"] {
        let Some(run) = runs.get(store) else { continue };
        render_run(&mut md, store, run);
    }
    md
}

fn render_run(md: &mut String, store: &str, run: &Value) {
    let title = if store == "postgres" {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let c = &run["ceilings"];
    let _ = writeln!(
        md,
        "## {title}{}\n\n{} · {} · {} connections, {:.0} s per scenario, load client on {} thread(s)\n",
        if run["smoke"].as_bool() == Some(true) {
            " (smoke run: figures mean nothing)"
        } else {
            ""
        },
        s(run, "date"),
        s(run, "machine"),
        f(run, &["connections"]),
        f(run, &["seconds_per_scenario"]),
        f(run, &["client_threads"]),
    );
    let _ = writeln!(
        md,
        "Ceilings: Argon2id ({}) **{:.1} hashes/s** on {} cores, {:.1}/s per core · ES256 JWS \
         **{:.0}/s** on {} cores, {:.0}/s per core · bare axum hello **{:.0} req/s**, \
         {:.0}/s per core. Ratios compare per-core figures (per second of CPU), which neighbours \
         on a shared machine disturb far less than rates.\n",
        s(c, "argon2_params"),
        f(c, &["argon2_per_s"]),
        f(c, &["cores"]),
        f(c, &["argon2_per_core"]),
        f(c, &["es256_per_s"]),
        f(c, &["cores"]),
        f(c, &["es256_per_core"]),
        f(c, &["hello_per_s"]),
        f(c, &["hello_per_core"]),
    );
    md.push_str(
        "| scenario | req/s | p50 / p99 / max ms | errors | server CPU µs/op | per core /s | RSS before → after MB | others' CPU | ceiling | ratio | target | met? |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|\n",
    );
    let empty = Vec::new();
    let rows = run["scenarios"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .chain(run["half_peak"].as_array().unwrap_or(&empty));
    for sc in rows {
        let m = &sc["measured"];
        let iters = f(m, &["iterations"]).max(1.0);
        let cpu = f(m, &["server_cpu_s"]) + f(m, &["db_cpu_s"]);
        let db = f(m, &["db_cpu_s"]);
        let per_core = if cpu > 0.0 { iters / cpu } else { 0.0 };
        let rate = if f(m, &["iterations"]) == f(m, &["requests"]) {
            format!("{:.0}", f(m, &["requests_per_s"]))
        } else {
            format!(
                "{:.1} flows ({:.0} req)",
                f(m, &["iterations_per_s"]),
                f(m, &["requests_per_s"])
            )
        };
        let cpu_cell = if db > 0.0 {
            format!("{:.0} (db {:.0})", cpu / iters * 1e6, db / iters * 1e6)
        } else {
            format!("{:.0}", cpu / iters * 1e6)
        };
        let cores = f(run, &["ceilings", "cores"]).max(1.0);
        let others = f(m, &["others_cpu_s"]) / (f(m, &["seconds"]).max(1e-9) * cores);
        let met = match sc["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            md,
            "| {} | {rate} | {:.2} / {:.2} / {:.1} | {} | {cpu_cell} | {per_core:.0} | {:.1} → {:.1} | {:.0}% | {} {:.0}{} | {:.2} | {} | {met} |",
            s(sc, "name"),
            f(m, &["p50_ms"]),
            f(m, &["p99_ms"]),
            f(m, &["max_ms"]),
            f(m, &["errors"]),
            f(m, &["rss_before"]) / 1e6,
            f(m, &["rss_after"]) / 1e6,
            others * 100.0,
            s(sc, "ceiling_name"),
            f(sc, &["ceiling"]),
            s(sc, "figure_unit"),
            f(sc, &["ratio"]),
            s(sc, "target"),
        );
    }
    let ss = &run["sessions"];
    let _ = writeln!(
        md,
        "\nSessions: {:.0} inserted in {:.1} s, each resolved once over HTTP in {:.1} s ({:.0}/s); \
         RSS {:.1} → {:.1} MB.\n",
        f(ss, &["sessions"]),
        f(ss, &["insert_seconds"]),
        f(ss, &["sweep_seconds"]),
        f(ss, &["sweep_per_s"]),
        f(ss, &["rss_before"]) / 1e6,
        f(ss, &["rss_after"]) / 1e6,
    );
    md.push_str("| target | figure | target | met? |\n|---|---:|---|---|\n");
    let memory = |ch: &&Value| s(ch, "what").contains("RSS");
    for ch in run["checks"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(memory)
    {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            s(ch, "what"),
            s(ch, "figure"),
            s(ch, "target"),
            if ch["met"].as_bool() == Some(true) {
                "yes"
            } else {
                "**no**"
            }
        );
    }
    for n in run["notes"].as_array().unwrap_or(&empty) {
        let _ = writeln!(md, "\n- {}", n.as_str().unwrap_or(""));
    }
    md.push('\n');
}
