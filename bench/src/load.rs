//! The load driver: one worker per keep-alive connection, each repeating its flow for a
//! fixed time (closed loop), or on a fixed schedule (open loop, for the rate-limited run).
//! Latencies are kept exactly (one entry per iteration); every failed iteration is counted.

use crate::http::Conn;
use crate::procstat;
use anyhow::Result;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One scenario's unit of work on one connection. Returns how many HTTP requests it made.
pub trait Flow: Send + 'static {
    fn step(&mut self, conn: &mut Conn) -> impl Future<Output = Result<u32>> + Send;
}

/// How long and how hard.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Not measured: lets connections, caches and the allocator settle.
    pub warmup: Duration,
    pub duration: Duration,
    /// Open loop: iterations per second over all connections, each latency counted from
    /// when its iteration was due (so a stall is not hidden by waiting it out).
    pub rate: Option<f64>,
}

/// The processes whose CPU time and memory the run charges.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub server: u32,
    /// The PostgreSQL postmaster, whose backends do the server's SQL.
    pub db: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    server: f64,
    db: f64,
    client: f64,
    machine: f64,
}

impl Probe {
    fn cpu(&self) -> Cpu {
        Cpu {
            server: procstat::cpu_seconds(self.server).unwrap_or(0.0),
            db: self.db.map(procstat::tree_cpu_seconds).unwrap_or(0.0),
            client: procstat::cpu_seconds(std::process::id()).unwrap_or(0.0),
            machine: procstat::machine_busy_seconds(),
        }
    }

    pub fn rss(&self) -> u64 {
        procstat::rss_bytes(self.server).unwrap_or(0)
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Measured {
    pub connections: usize,
    pub seconds: f64,
    /// Flow iterations completed inside the window (a sign-in is one iteration of 5 requests).
    pub iterations: u64,
    pub requests: u64,
    pub iterations_per_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Failed iterations, warm-up included. Any error fails the scenario.
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub server_cpu_s: f64,
    pub db_cpu_s: f64,
    /// The load generator's CPU over the window.
    pub client_cpu_s: f64,
    /// CPU taken by every other process on the machine over the window: the noise.
    pub others_cpu_s: f64,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl Measured {
    /// Server CPU seconds per iteration (tessera, plus PostgreSQL's backends if any).
    pub fn cpu_per_iteration(&self) -> f64 {
        if self.iterations == 0 {
            return 0.0;
        }
        (self.server_cpu_s + self.db_cpu_s) / self.iterations as f64
    }

    /// The share of the machine's CPU that other processes took during the window.
    pub fn others_share(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
        if self.seconds <= 0.0 {
            return 0.0;
        }
        self.others_cpu_s / (self.seconds * cores)
    }

    /// Iterations per second of server CPU: the rate one fully busy core would sustain.
    pub fn per_core(&self) -> f64 {
        let cpu = self.server_cpu_s + self.db_cpu_s;
        if cpu <= 0.0 {
            return 0.0;
        }
        self.iterations as f64 / cpu
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    iterations: u64,
    requests: u64,
    errors: u64,
    samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        if self.samples.len() < 5 {
            self.samples.push(format!("{e:#}"));
        }
    }
}

/// Runs `flows` (one per connection) against `addr` and measures the window after warm-up.
pub async fn run<F: Flow>(
    addr: SocketAddr,
    flows: Vec<F>,
    shape: Shape,
    probe: Probe,
) -> Result<Measured> {
    let connections = flows.len();
    let rss_before = probe.rss();
    let start = Instant::now();
    let window_start = start + shape.warmup;
    let end = window_start + shape.duration;
    let tally = Arc::new(Mutex::new(Tally::default()));

    let mut workers = Vec::with_capacity(connections);
    for (i, flow) in flows.into_iter().enumerate() {
        let tally = tally.clone();
        let interval = shape
            .rate
            .map(|r| Duration::from_secs_f64(connections as f64 / r.max(0.001)));
        // Spread the open-loop schedules evenly over one interval.
        let offset = interval.map(|iv| iv.mul_f64(i as f64 / connections as f64));
        workers.push(tokio::spawn(worker(
            addr,
            flow,
            Schedule {
                start: start + offset.unwrap_or_default(),
                interval,
                window_start,
                end,
            },
            tally,
        )));
    }

    tokio::time::sleep_until(window_start).await;
    let cpu0 = probe.cpu();
    let t0 = Instant::now();
    tokio::time::sleep_until(end).await;
    let cpu1 = probe.cpu();
    let seconds = t0.elapsed().as_secs_f64();
    for w in workers {
        w.await?;
    }
    let rss_after = probe.rss();

    let mut t = std::mem::take(&mut *tally.lock().map_err(|_| anyhow::anyhow!("tally lock"))?);
    t.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if t.latencies_us.is_empty() {
            return 0.0;
        }
        let idx = ((t.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(t.latencies_us[idx.min(t.latencies_us.len() - 1)]) / 1000.0
    };
    Ok(Measured {
        connections,
        seconds,
        iterations: t.iterations,
        requests: t.requests,
        iterations_per_s: t.iterations as f64 / seconds,
        requests_per_s: t.requests as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        errors: t.errors,
        error_samples: t.samples,
        server_cpu_s: cpu1.server - cpu0.server,
        db_cpu_s: cpu1.db - cpu0.db,
        client_cpu_s: cpu1.client - cpu0.client,
        others_cpu_s: ((cpu1.machine - cpu0.machine)
            - (cpu1.server - cpu0.server)
            - (cpu1.db - cpu0.db)
            - (cpu1.client - cpu0.client))
            .max(0.0),
        rss_before,
        rss_after,
    })
}

struct Schedule {
    start: Instant,
    interval: Option<Duration>,
    window_start: Instant,
    end: Instant,
}

async fn worker<F: Flow>(addr: SocketAddr, mut flow: F, s: Schedule, tally: Arc<Mutex<Tally>>) {
    let mut local = Tally::default();
    let mut conn: Option<Conn> = None;
    let mut k: u32 = 0;
    loop {
        let due = match s.interval {
            Some(iv) => {
                let due = s.start + iv * k;
                k = k.saturating_add(1);
                if due >= s.end {
                    break;
                }
                if Instant::now() < due {
                    tokio::time::sleep_until(due).await;
                    // Idle until due: the server had nothing of ours before the send, and
                    // tokio's timer fires up to a millisecond late; that lateness is the
                    // client's, so count from the wake-up. A flow still busy at its due
                    // time (a slow server) is counted from when it was due.
                    Instant::now()
                } else {
                    due
                }
            }
            None => {
                let now = Instant::now();
                if now >= s.end {
                    break;
                }
                now
            }
        };
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(addr).await {
                Ok(c) => c,
                Err(e) => {
                    local.error(&e);
                    // Do not spin on a refused connection.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let mut c = c;
        let outcome = flow.step(&mut c).await;
        let done = Instant::now();
        match outcome {
            Ok(n) => {
                conn = Some(c);
                if due >= s.window_start && due < s.end {
                    local.iterations += 1;
                    local.requests += u64::from(n);
                    let us = done.duration_since(due).as_micros();
                    local
                        .latencies_us
                        .push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            // The connection may be mid-response: start a fresh one.
            Err(e) => local.error(&e),
        }
    }
    if let Ok(mut t) = tally.lock() {
        t.latencies_us.extend_from_slice(&local.latencies_us);
        t.iterations += local.iterations;
        t.requests += local.requests;
        t.errors += local.errors;
        for m in local.samples {
            if t.samples.len() < 5 {
                t.samples.push(m);
            }
        }
    }
}
