//! `tessera-bench`: starts `tessera serve` on a temporary SQLite database or a throwaway
//! PostgreSQL cluster, runs every hot path under load, measures this machine's ceilings in
//! the same run, and writes `REPORT.md` and `report.json`. bench/README.md explains it.

mod ceilings;
mod http;
mod load;
mod procstat;
mod report;
mod scenarios;
mod server;
mod sessions;
mod signin;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use load::{Flow, Measured, Probe, Shape};
use report::{Run, Scenario};
use server::{Server, Store};
use signin::App;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "tessera-bench",
    about = "Tessera's load benchmark (bench/README.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Internal>,
    /// Run on a throwaway PostgreSQL cluster instead of SQLite.
    #[arg(long, conflicts_with = "all")]
    postgres: bool,
    /// Run on SQLite, then on PostgreSQL.
    #[arg(long)]
    all: bool,
    /// A couple of seconds per scenario: proves every scenario runs with zero errors,
    /// asserts no speed, and writes no report unless --out is given.
    #[arg(long)]
    smoke: bool,
    /// Measured seconds per scenario (after a warm-up).
    #[arg(long)]
    duration: Option<f64>,
    /// Keep-alive connections per scenario.
    #[arg(long)]
    connections: Option<usize>,
    /// Portal sessions to create for the memory figure.
    #[arg(long)]
    sessions: Option<usize>,
    /// Accounts to seed for the full sign-in (each with a confirmed TOTP key; one TOTP time
    /// step of 30 s signs an account in once, so more than 30 × the sign-in rate).
    #[arg(long)]
    accounts: Option<usize>,
    /// Threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// The `tessera` binary under test (default: beside this one).
    #[arg(long, value_name = "PATH")]
    tessera_bin: Option<PathBuf>,
    /// Run only these scenarios (repeatable; for profiling): discovery, client_credentials,
    /// refresh, introspection, userinfo, signin (the full password sign-in), codeflow,
    /// sessions.
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// Only re-render REPORT.md from the report.json in --out (default bench/).
    #[arg(long)]
    render_only: bool,
    /// Where REPORT.md and report.json go.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Internal {
    /// The bare-HTTP ceiling's server (started by the benchmark itself).
    #[command(hide = true)]
    Hello {
        #[arg(long)]
        listen: String,
    },
}

/// Settings derived from the command line.
#[derive(Clone, Debug)]
struct Plan {
    smoke: bool,
    shape: Shape,
    connections: usize,
    sessions: usize,
    accounts: usize,
    client_threads: usize,
    bin: PathBuf,
    argon2_time: Duration,
    es256_time: Duration,
    only: Vec<String>,
}

impl Plan {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Internal::Hello { listen }) = &cli.command {
        return match ceilings::serve_hello(listen) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tessera-bench hello: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tessera-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<bool> {
    if cli.render_only {
        let dir = cli.out.clone().unwrap_or_else(|| PathBuf::from("bench"));
        report::rerender(&dir)?;
        println!("bench: re-rendered {}", dir.join("REPORT.md").display());
        return Ok(true);
    }
    let bin = match &cli.tessera_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory for tessera-bench")?
            .join("tessera"),
    };
    let smoke = cli.smoke;
    let plan = Plan {
        smoke,
        shape: Shape {
            warmup: Duration::from_secs_f64(if smoke { 0.3 } else { 2.0 }),
            duration: Duration::from_secs_f64(cli.duration.unwrap_or(if smoke {
                1.5
            } else {
                10.0
            })),
            rate: None,
        },
        connections: cli.connections.unwrap_or(if smoke { 4 } else { 32 }),
        sessions: cli.sessions.unwrap_or(if smoke { 2000 } else { 100_000 }),
        accounts: cli.accounts.unwrap_or(if smoke { 500 } else { 4000 }),
        client_threads: cli.client_threads.max(1),
        bin,
        argon2_time: Duration::from_secs(if smoke { 1 } else { 6 }),
        es256_time: Duration::from_secs(if smoke { 1 } else { 3 }),
        only: cli.only.clone(),
    };
    let stores = if cli.all {
        vec![Store::Sqlite, Store::Postgres]
    } else if cli.postgres {
        vec![Store::Postgres]
    } else {
        vec![Store::Sqlite]
    };
    let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("tessera-bench {}", args.join(" "))
    });
    let mut all_ok = true;
    let mut summary = Vec::new();
    for store in stores {
        let run = run_store(&plan, store).await?;
        let errors = run.errors();
        all_ok &= errors == 0;
        summary.push(format!(
            "{}: {} scenarios, {errors} errors",
            store.as_str(),
            run.scenarios.len() + run.half_peak.len() + 1
        ));
        if let Some(dir) = &cli.out {
            report::write(dir, &run, &command)?;
        }
        if !smoke {
            for c in &run.checks {
                println!(
                    "bench[{}] target {:<40} {:>28}  ({})  {}",
                    store.as_str(),
                    c.what,
                    c.figure,
                    c.target,
                    if c.met { "met" } else { "MISSED" }
                );
            }
        }
    }
    let verdict = if all_ok { "passed" } else { "FAILED" };
    let mode = if smoke { "smoke" } else { "run" };
    println!("bench: {mode} {verdict}: {}", summary.join("; "));
    if let Some(dir) = &cli.out {
        println!("bench: wrote {}", dir.join("REPORT.md").display());
    }
    Ok(all_ok)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{} × {cpu}, Linux {}", ceilings::cores(), kernel.trim())
}

fn print_line(store: Store, name: &str, m: &Measured, ratio: Option<(f64, &str)>) {
    let rate = if m.iterations == m.requests {
        format!("{:.0} req/s", m.requests_per_s)
    } else {
        format!(
            "{:.1} flows/s ({:.0} req/s)",
            m.iterations_per_s, m.requests_per_s
        )
    };
    println!(
        "bench[{}] {name:<20} {rate:>22}  p50 {:.2} ms  p99 {:.2} ms  max {:.1} ms  {} errors  {:.0} µs CPU/op  {:.0}/s per core{}  (others took {:.0}% of the machine)",
        store.as_str(),
        m.p50_ms,
        m.p99_ms,
        m.max_ms,
        m.errors,
        m.cpu_per_iteration() * 1e6,
        m.per_core(),
        ratio
            .map(|(r, c)| format!("  {:.0}% of {c}", r * 100.0))
            .unwrap_or_default(),
        m.others_share() * 100.0
    );
    for e in &m.error_samples {
        println!("bench[{}]   error: {e}", store.as_str());
    }
}

async fn measure<F: Flow>(
    addr: SocketAddr,
    flows: Vec<F>,
    shape: Shape,
    probe: Probe,
) -> Result<Measured> {
    load::run(addr, flows, shape, probe).await
}

/// Fresh refresh tokens, one per connection (each from a code flow of the signed-in browser).
async fn refresh_flows(
    addr: SocketAddr,
    app: &App,
    jar: &signin::Jar,
    n: usize,
) -> Result<Vec<scenarios::Refresh>> {
    let mut conn = http::Conn::open(addr).await?;
    let mut jar = jar.clone();
    let mut flows = Vec::with_capacity(n);
    for _ in 0..n {
        let (t, _) = signin::code_flow(&mut conn, &mut jar, app)
            .await
            .context("a code flow for a refresh token")?;
        flows.push(scenarios::Refresh {
            app: app.clone(),
            token: t.refresh_token,
        });
    }
    Ok(flows)
}

async fn run_store(plan: &Plan, store: Store) -> Result<Run> {
    let tag = store.as_str();
    println!("bench[{tag}] measuring ceilings");
    let (argon2_per_s, argon2_per_core, argon2_params) = ceilings::argon2(plan.argon2_time).await?;
    let es_time = plan.es256_time;
    let (es256_per_s, es256_per_core) =
        tokio::task::spawn_blocking(move || ceilings::es256(es_time)).await??;
    let cores = ceilings::cores();
    let hello = {
        let h = ceilings::HelloServer::start()?;
        let flows = (0..plan.connections).map(|_| scenarios::Hello).collect();
        let probe = Probe {
            server: h.pid(),
            db: None,
        };
        measure(h.addr, flows, plan.shape, probe).await?
    };
    let c = ceilings::Ceilings {
        cores,
        argon2_per_s,
        argon2_per_core,
        argon2_params,
        es256_per_s,
        es256_per_core,
        hello_per_s: hello.requests_per_s,
        hello_per_core: hello.per_core(),
    };
    if hello.errors > 0 {
        bail!(
            "the hello ceiling had {} errors: {:?}",
            hello.errors,
            hello.error_samples
        );
    }
    println!(
        "bench[{tag}] ceilings: Argon2id {:.1}/s ({:.1}/s per core, {}), ES256 {:.0}/s ({:.0}/s per core), hello {:.0} req/s ({:.0}/s per core)",
        c.argon2_per_s,
        c.argon2_per_core,
        c.argon2_params,
        c.es256_per_s,
        c.es256_per_core,
        c.hello_per_s,
        c.hello_per_core
    );

    let accounts = if plan.wants("signin") {
        plan.accounts
    } else {
        0
    };
    let (mut server, seed) = Server::start(&plan.bin, store, accounts).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = procstat::rss_bytes(server.pid())?;
    println!(
        "bench[{tag}] tessera serve (pid {}) at {}; idle RSS {:.1} MB",
        server.pid(),
        server.addr,
        idle_rss as f64 / 1e6
    );
    let outcome = scenarios_on(plan, store, &server, &seed, &c).await;
    if outcome.is_err() {
        eprintln!("bench[{tag}] server log (end):\n{}", server.log_tail());
    }
    let (scenarios, half_peak, sessions) = outcome?;
    let seed_accounts = seed.accounts.len();
    server.stop();

    let mut run = Run {
        store: tag.to_owned(),
        smoke: plan.smoke,
        date: tessera_domain::Clock::now(&tessera_domain::SystemClock)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        machine: machine(),
        connections: plan.connections,
        seconds_per_scenario: plan.shape.duration.as_secs_f64(),
        client_threads: plan.client_threads,
        ceilings: c,
        idle_rss,
        scenarios,
        half_peak,
        sessions,
        checks: Vec::new(),
        notes: vec![format!(
            "full password sign-in: authorize → username → password → TOTP code → \
                 complete → authorize with the new session → code → token, a new browser \
                 each time, round robin over {} seeded accounts with confirmed TOTP keys \
                 (one sign-in per account per 30 s time step). code flow (signed in): \
                 authorize with an existing session → code → token.",
            seed_accounts
        )],
    };
    run.checks = report::judge(&mut run);
    Ok(run)
}

type Outcome = (Vec<Scenario>, Vec<Scenario>, sessions::SessionMemory);

async fn scenarios_on(
    plan: &Plan,
    store: Store,
    server: &Server,
    seed: &server::Seed,
    c: &ceilings::Ceilings,
) -> Result<Outcome> {
    let addr = server.addr;
    let probe = Probe {
        server: server.pid(),
        db: server.postmaster,
    };
    let n = plan.connections;
    let shape = plan.shape;
    let web = App {
        client_id: seed.web_client.0.clone(),
        basic: signin::basic(&seed.web_client.0, &seed.web_client.1),
    };
    let service_basic = signin::basic(&seed.service_client.0, &seed.service_client.1);
    let es_per_core = c.es256_per_core;
    let mut out = Vec::new();
    let mut half = Vec::new();
    let scenario = |name: &str, m: Measured, ceiling: (f64, &str)| {
        let figure = m.per_core();
        let ratio = if ceiling.0 > 0.0 {
            figure / ceiling.0
        } else {
            0.0
        };
        print_line(store, name, &m, Some((ratio, ceiling.1)));
        Scenario {
            name: name.to_owned(),
            measured: m,
            figure,
            figure_unit: "/s per core".into(),
            ceiling_name: ceiling.1.to_owned(),
            ceiling: ceiling.0,
            ratio,
            target: String::new(),
            met: None,
        }
    };
    let hello = (c.hello_per_core, "hello");
    let cc_ceiling = if es_per_core < c.hello_per_core {
        (es_per_core, "ES256")
    } else {
        hello
    };
    let refresh_ceiling = if es_per_core / 2.0 < c.hello_per_core {
        (es_per_core / 2.0, "ES256÷2")
    } else {
        hello
    };

    // First, while the server is fresh: later scenarios' allocations would blur the delta.
    let mut s = sessions::SessionMemory::default();
    if plan.wants("sessions") {
        println!(
            "bench[{}] creating {} sessions",
            store.as_str(),
            plan.sessions
        );
        s = sessions::measure(server, &seed.user_id, plan.sessions).await?;
        println!(
            "bench[{}] sessions: {} created in {:.1} s, resolved in {:.1} s, {} errors; RSS {:.1} → {:.1} MB",
            store.as_str(),
            s.sessions,
            s.insert_seconds,
            s.sweep_seconds,
            s.errors,
            s.rss_before as f64 / 1e6,
            s.rss_after as f64 / 1e6
        );
    }

    // The account's first sign-in: enrols its authenticator; the browser stays signed in.
    let mut conn = http::Conn::open(addr).await?;
    let (browser, _totp) = signin::enrol_and_sign_in(&mut conn, &web)
        .await
        .context("the first sign-in (authenticator enrolment)")?;
    drop(conn);

    if plan.wants("discovery") {
        let flows = (0..n)
            .map(|_| scenarios::Discovery { turn: false })
            .collect();
        out.push(scenario(
            "discovery + JWKS",
            measure(addr, flows, shape, probe).await?,
            hello,
        ));
    }

    let cc = || {
        (0..n)
            .map(|_| scenarios::ClientCredentials {
                basic: service_basic.clone(),
            })
            .collect::<Vec<_>>()
    };
    if plan.wants("client_credentials") {
        let m = measure(addr, cc(), shape, probe).await?;
        let slow = Shape {
            rate: Some(m.iterations_per_s / 2.0),
            ..shape
        };
        out.push(scenario("client_credentials", m, cc_ceiling));
        half.push(scenario(
            "client_credentials at half peak",
            measure(addr, cc(), slow, probe).await?,
            cc_ceiling,
        ));
    }

    if plan.wants("refresh") {
        let m = measure(
            addr,
            refresh_flows(addr, &web, &browser, n).await?,
            shape,
            probe,
        )
        .await?;
        let slow = Shape {
            rate: Some(m.iterations_per_s / 2.0),
            ..shape
        };
        out.push(scenario("refresh", m, refresh_ceiling));
        half.push(scenario(
            "refresh at half peak",
            measure(
                addr,
                refresh_flows(addr, &web, &browser, n).await?,
                slow,
                probe,
            )
            .await?,
            refresh_ceiling,
        ));
    }

    // A user's access token (lives 5 minutes: taken fresh here).
    let mut conn = http::Conn::open(addr).await?;
    let (tokens, _) = signin::code_flow(&mut conn, &mut browser.clone(), &web).await?;
    drop(conn);
    if plan.wants("introspection") {
        let flows = (0..n)
            .map(|_| scenarios::Introspection {
                basic: service_basic.clone(),
                token: tokens.access_token.clone(),
            })
            .collect();
        out.push(scenario(
            "introspection",
            measure(addr, flows, shape, probe).await?,
            hello,
        ));
    }
    if plan.wants("userinfo") {
        let flows = (0..n)
            .map(|_| scenarios::Userinfo {
                bearer: format!("Bearer {}", tokens.access_token),
            })
            .collect();
        out.push(scenario(
            "userinfo",
            measure(addr, flows, shape, probe).await?,
            hello,
        ));
    }

    if plan.wants("signin") {
        if seed.accounts.is_empty() {
            bail!("the full sign-in needs seeded accounts (--accounts)");
        }
        let accounts = scenarios::Accounts::new(seed.accounts.clone());
        let flows = (0..n)
            .map(|_| scenarios::FullSignIn {
                app: web.clone(),
                accounts: accounts.clone(),
            })
            .collect();
        // The hash's cost moves with the neighbours' use of the memory bus: measure it
        // again right before, so both sides of the ratio see the same machine.
        let (_, argon2_now, _) = ceilings::argon2(plan.argon2_time / 2).await?;
        println!(
            "bench[{}] Argon2id ceiling just before sign-in: {argon2_now:.1}/s per core",
            store.as_str()
        );
        let m = measure(addr, flows, shape, probe).await?;
        out.push(scenario(
            "full password sign-in",
            m,
            (argon2_now, "Argon2id"),
        ));
    }

    if plan.wants("codeflow") {
        let flows = (0..n)
            .map(|_| scenarios::CodeFlow {
                app: web.clone(),
                jar: browser.clone(),
            })
            .collect();
        out.push(scenario(
            "code flow (signed in)",
            measure(addr, flows, shape, probe).await?,
            refresh_ceiling,
        ));
    }

    Ok((out, half, s))
}
