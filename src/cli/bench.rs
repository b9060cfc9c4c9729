//! `seqlearn-nest bench`: performance benchmarks of both engines and of a NEST
//! baseline network built from NEST's own models (issue 5; docs/benchmarks.md).
//!
//! Every case runs in a child process (this executable, `bench --case NAME`)
//! that prints one JSON row, so that the peak RSS is the case's own. The
//! parent collects the rows, prints the table and the ratios, and writes the
//! JSON array.
//!
//! Definitions (docs/benchmarks.md):
//! - `wall_s`: wall time of the simulation proper. For the engines it is the
//!   wall time of an `S`-second run minus that of a 20-step run of the same
//!   job (network instantiation, NEST connection set-up), so it compares
//!   with the baseline's timed `Simulate(S)` after a warm-up `Simulate`.
//! - `rtf = wall_s / S`; `rtf_total` includes the set-up.
//! - `synapse_updates_per_s = synapses * steps / wall_s`: every synapse is
//!   evaluated (weight times EPSP) once per 1 ms step.
//! - `peak_rss_mib`: `getrusage(RUSAGE_SELF).ru_maxrss` of the child process.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use seqlearn_nest::engine::native::{self, Stage, StageProfile};
use seqlearn_nest::engine::wait_policy;
use seqlearn_nest::model::config::{Config, PhaseConfig, PhaseRole, Selection, SelectionKeyword};
use seqlearn_nest::run::{self, Backend, Prepared};

/// Command-line arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Simulated seconds per case.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Cases to run, comma-separated names or prefixes (native, native+rec,
    /// nest-1t, nest-2t, nest+rec, baseline-1t, baseline-2t, plastic-1t,
    /// plastic-2t; `nest` selects every NEST case). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub cases: Vec<String>,
    /// Also run the scaling sweep (native, NEST and baseline on 1 thread over
    /// --grids; n_conn = 20 per circuit).
    #[arg(long)]
    pub scaling: bool,
    /// Only the scaling sweep (implies --scaling).
    #[arg(long)]
    pub scaling_only: bool,
    /// Grids of the scaling sweep.
    #[arg(long, value_delimiter = ',', value_parser = run::parse_grid,
          default_value = "10x5,20x10,40x20,40x40")]
    pub grids: Vec<[usize; 2]>,
    /// Simulated seconds per scaling case.
    #[arg(long, default_value_t = 2.0)]
    pub scaling_seconds: f64,
    /// Run every case this many times and keep the fastest (wall time) run:
    /// on a shared machine other load only ever slows a run down.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Run one case in this process and print its JSON row (internal).
    #[arg(long, hide = true)]
    pub case: Option<String>,
    /// Grid of the internal case run.
    #[arg(long, hide = true, value_parser = run::parse_grid)]
    pub grid: Option<[usize; 2]>,
    /// Network rate the baseline is tuned to (internal).
    #[arg(long, hide = true)]
    pub target_rate_hz: Option<f64>,
    /// Threads the internal case run uses (a user's run's plan).
    #[arg(long, hide = true)]
    pub threads_used: Option<usize>,
}

/// One benchmark result. Skipped cases carry `skipped` and no numbers.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Row {
    pub case: String,
    /// `native`, `nest` or `nest_baseline`.
    pub backend: String,
    pub threads: usize,
    pub grid: String,
    pub n_conn: usize,
    pub neurons: usize,
    pub synapses: usize,
    /// Recording of 100 sampled neurons at dt_rec = 1 ms.
    pub recording: bool,
    pub simulated_s: f64,
    pub rtf: Option<f64>,
    pub rtf_total: Option<f64>,
    pub synapse_updates_per_s: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub wall_s: Option<f64>,
    /// CPU time (all threads) of the simulation proper, same subtraction.
    pub cpu_s: Option<f64>,
    /// `cpu_s / simulated_s`: what the RTF would be on an idle machine with
    /// one thread (insensitive to other load on a shared machine).
    pub rtf_cpu: Option<f64>,
    pub setup_s: Option<f64>,
    /// Network build (Rust side: network, input, plan) in the child.
    pub build_s: Option<f64>,
    /// Mean firing rate of the network neurons (Hz).
    pub network_rate_hz: Option<f64>,
    /// Mean rate of the input channels (Hz).
    pub input_rate_hz: Option<f64>,
    pub network_spikes: Option<usize>,
    pub engine_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// OpenMP wait policy of a NEST or baseline case, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// `native-stages`: wall time per stage of a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageTime>>,
    /// `native-stages`: STDP synapse updates per step (learned in-degree of
    /// every spike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdp_synapses_per_step: Option<f64>,
    /// `native-stages`: jump additions per step (fan-out of every spiking
    /// source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries_per_step: Option<f64>,
}

/// One stage of the native step and its mean wall time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageTime {
    pub stage: String,
    pub us_per_step: f64,
}

/// What a case runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Native,
    Nest,
    Baseline,
}

#[derive(Debug, Clone, Copy)]
struct CaseSpec {
    name: &'static str,
    kind: Kind,
    threads: usize,
    record: bool,
    /// Baseline only: NEST's plastic built-ins instead of static synapses.
    plastic: bool,
    /// Native only: every stage of every step timed.
    stages: bool,
}

/// One thread, no recording, static synapses, no stage clocks: what a case
/// changes is written out.
const PLAIN: CaseSpec = CaseSpec {
    name: "",
    kind: Kind::Native,
    threads: 1,
    record: false,
    plastic: false,
    stages: false,
};

const CASES: [CaseSpec; 10] = [
    CaseSpec {
        name: "native",
        kind: Kind::Native,
        ..PLAIN
    },
    CaseSpec {
        name: "native+rec",
        kind: Kind::Native,
        record: true,
        ..PLAIN
    },
    CaseSpec {
        name: "native-stages",
        kind: Kind::Native,
        stages: true,
        ..PLAIN
    },
    CaseSpec {
        name: "nest-1t",
        kind: Kind::Nest,
        ..PLAIN
    },
    CaseSpec {
        name: "nest-2t",
        kind: Kind::Nest,
        threads: 2,
        ..PLAIN
    },
    CaseSpec {
        name: "nest+rec",
        kind: Kind::Nest,
        record: true,
        ..PLAIN
    },
    CaseSpec {
        name: "baseline-1t",
        kind: Kind::Baseline,
        ..PLAIN
    },
    CaseSpec {
        name: "baseline-2t",
        kind: Kind::Baseline,
        threads: 2,
        ..PLAIN
    },
    CaseSpec {
        name: "plastic-1t",
        kind: Kind::Baseline,
        plastic: true,
        ..PLAIN
    },
    CaseSpec {
        name: "plastic-2t",
        kind: Kind::Baseline,
        threads: 2,
        plastic: true,
        ..PLAIN
    },
];

/// Cases of the scaling sweep (one thread each).
const SCALING_CASES: [&str; 4] = ["native", "nest-1t", "baseline-1t", "plastic-1t"];

/// The paper's grid.
const PAPER_GRID: [usize; 2] = [10, 5];

/// Marked circuit pairs per circuit: the paper's 1000 pairs on 50 circuits.
/// Scaling keeps it (in-degree and cost per neuron stay those of the paper).
pub const PAIRS_PER_CIRCUIT: usize = 20;

/// Steps of the short run whose wall time is taken as the set-up cost.
const SETUP_STEPS: u64 = 20;

fn spec(name: &str) -> Result<CaseSpec> {
    CASES
        .iter()
        .find(|c| c.name == name)
        .copied()
        .with_context(|| {
            let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
            format!("unknown bench case `{name}`; known: {}", names.join(", "))
        })
}

fn grid_str(g: [usize; 2]) -> String {
    format!("{}x{}", g[0], g[1])
}

/// `n_conn` for a grid: [`PAIRS_PER_CIRCUIT`] per circuit.
pub fn n_conn_for(grid: [usize; 2]) -> usize {
    PAIRS_PER_CIRCUIT * grid[0] * grid[1]
}

/// The paper's training setup (Config::default: K 2..10, 100 inputs, STP,
/// STDP with variance tracking) on `grid`, one training phase of `seconds`,
/// recording off or 100 random neurons at 1 ms.
pub fn bench_config(grid: [usize; 2], seconds: f64, record: bool) -> Result<Config> {
    let mut c = Config::default();
    c.network.grid = grid;
    c.network.n_conn = n_conn_for(grid);
    c.phases = vec![PhaseConfig::new(
        "train",
        PhaseRole::Train,
        (seconds * 1000.0).round(),
    )];
    c.record.synapses = Selection::Keyword(SelectionKeyword::None);
    c.record.neurons = if record {
        Selection::Random { random: 100 }
    } else {
        Selection::Keyword(SelectionKeyword::None)
    };
    c.record.dt_rec_ms = 1.0;
    c.record.phases = vec![PhaseRole::Train];
    c.validate()?;
    Ok(c)
}

/// Peak resident set size of this process (MiB).
pub fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return f64::NAN;
    }
    ru.ru_maxrss as f64 / 1024.0
}

/// CPU time of this process, all threads (s).
pub fn cpu_time_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the struct we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err(seqlearn_nest::usage!(
            "--seconds must be > 0, got {}",
            args.seconds
        ));
    }
    if let Some(name) = &args.case {
        let row = run_case(name, args.grid.unwrap_or(PAPER_GRID), args.seconds, args)?;
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    run_all(args)
}

/// Runs one case in this process.
fn run_case(name: &str, grid: [usize; 2], seconds: f64, args: &BenchArgs) -> Result<Row> {
    let mut sp = spec(name)?;
    if sp.kind == Kind::Nest {
        // the threads of the plan the parent measured (at most the case's)
        sp.threads = args.threads_used.unwrap_or(sp.threads).clamp(1, sp.threads);
    }
    let cfg = bench_config(grid, seconds, sp.record)?;
    let t0 = Instant::now();
    let prep = Prepared::new(cfg, None, None)?;
    let build_s = t0.elapsed().as_secs_f64();
    let net = &prep.network;
    let steps = prep.schedule.n_steps();
    let sim_s = steps as f64 * prep.config.model.dt_ms * 1e-3;
    let mut row = Row {
        case: sp.name.into(),
        backend: match sp.kind {
            Kind::Native => "native",
            Kind::Nest => "nest",
            Kind::Baseline => "nest_baseline",
        }
        .into(),
        threads: sp.threads,
        grid: grid_str(grid),
        n_conn: prep.config.network.n_conn,
        neurons: net.n_neurons(),
        synapses: net.synapses.len(),
        recording: sp.record,
        simulated_s: sim_s,
        build_s: Some(build_s),
        input_rate_hz: Some(prep.input.spikes.len() as f64 / (net.n_inputs as f64 * sim_s)),
        ..Row::default()
    };
    match sp.kind {
        Kind::Baseline => {
            let target = args.target_rate_hz.unwrap_or_else(|| {
                // Expected rate: every circuit fires R_max in total.
                prep.config.model.r_max_hz * net.circuits.len() as f64 / net.n_neurons() as f64
            });
            let input_rate = row.input_rate_hz.unwrap_or(5.0);
            drop(prep);
            match run_baseline(&row, sp.plastic, target, input_rate, seconds) {
                Ok(b) => fill_baseline_row(&mut row, &b, steps),
                Err(e) => row.skipped = Some(format!("{e:#}")),
            }
        }
        Kind::Native | Kind::Nest => match time_engine(&prep, sp) {
            Ok(t) => fill_engine_row(&mut row, &t, steps),
            Err(e) => row.skipped = Some(format!("{e:#}")),
        },
    }
    Ok(row)
}

/// Wall and CPU times (s) of a 20-step run and of the whole run of a job.
struct EngineTimes {
    setup: (f64, f64),
    total: (f64, f64),
    outcome: seqlearn_nest::engine::Outcome,
    /// `native-stages`: the whole run's stage times.
    profile: Option<StageProfile>,
}

/// Runs the job twice on its engine: cut to [`SETUP_STEPS`], then whole.
fn time_engine(prep: &Prepared, sp: CaseSpec) -> Result<EngineTimes> {
    let backend = if sp.kind == Kind::Native {
        Backend::Native
    } else {
        Backend::Nest
    };
    let mut engine = run::make_engine(backend, &mut run::Silent)?;
    // Set-up cost: the same job cut to a few steps.
    let mut short = prep.schedule.clone();
    for p in &mut short.phases {
        p.start = p.start.min(SETUP_STEPS);
        p.end = p.end.min(SETUP_STEPS);
    }
    let mut job = prep.job(sp.threads);
    job.schedule = &short;
    let (t, c) = (Instant::now(), cpu_time_s());
    engine.run(&job, &mut |_| {})?;
    let setup = (t.elapsed().as_secs_f64(), cpu_time_s() - c);
    let job = prep.job(sp.threads);
    let (t, c) = (Instant::now(), cpu_time_s());
    let (outcome, profile) = if sp.stages {
        let (o, p) = native::run_profiled(&job, &mut |_| {})?;
        (o, Some(p))
    } else {
        (engine.run(&job, &mut |_| {})?, None)
    };
    let total = (t.elapsed().as_secs_f64(), cpu_time_s() - c);
    Ok(EngineTimes {
        setup,
        total,
        outcome,
        profile,
    })
}

/// The numbers of an engine case: the short run minus its own simulated
/// steps (at the long run's mean cost per step) is the set-up cost.
fn fill_engine_row(row: &mut Row, t: &EngineTimes, steps: u64) {
    let sim_s = row.simulated_s;
    let ((setup, setup_cpu), (total, total_cpu)) = (t.setup, t.total);
    let share = SETUP_STEPS.min(steps) as f64 / steps as f64;
    let cpu = total_cpu - (setup_cpu - total_cpu * share).clamp(0.0, total_cpu * 0.999);
    row.cpu_s = Some(cpu);
    row.rtf_cpu = Some(cpu / sim_s);
    let overhead = (setup - total * share).clamp(0.0, total * 0.999);
    let wall = total - overhead;
    row.wall_s = Some(wall);
    row.setup_s = Some(overhead);
    row.rtf = Some(wall / sim_s);
    row.rtf_total = Some(total / sim_s);
    row.synapse_updates_per_s = Some(row.synapses as f64 * steps as f64 / wall);
    let spikes = t.outcome.spikes.len();
    row.network_spikes = Some(spikes);
    row.network_rate_hz = Some(spikes as f64 / (row.neurons as f64 * sim_s));
    row.engine_version = Some(t.outcome.engine_version.clone());
    row.peak_rss_mib = Some(peak_rss_mib());
    if let Some(p) = t.profile.as_ref().filter(|p| p.steps > 0) {
        let per_step = |x: f64| x / p.steps as f64;
        row.stages = Some(
            Stage::ALL
                .iter()
                .map(|&st| StageTime {
                    stage: st.name().into(),
                    us_per_step: per_step(p.seconds[st as usize]) * 1e6,
                })
                .collect(),
        );
        row.stdp_synapses_per_step = Some(per_step(p.stdp_synapses as f64));
        row.deliveries_per_step = Some(per_step(p.deliveries as f64));
    }
}

/// The numbers of a NEST baseline case.
fn fill_baseline_row(row: &mut Row, b: &BaselineOut, steps: u64) {
    let sim_s = row.simulated_s;
    row.wall_s = Some(b.wall_s);
    row.cpu_s = Some(b.cpu_s);
    row.rtf_cpu = Some(b.cpu_s / sim_s);
    row.setup_s = Some(b.build_s);
    let synapses = match b.plastic.as_str() {
        "none" => "static_synapse".to_string(),
        p => format!("tsodyks2_synapse inputs + {p}_synapse recurrent"),
    };
    row.note = Some(format!(
        "iaf_psc_exp + {synapses} ({:.0} B/synapse); private Poisson drive {:.0} Hz tuned to {:.2} Hz",
        b.bytes_per_synapse, b.drive_rate_hz, b.target_rate_hz
    ));
    row.rtf = Some(b.wall_s / sim_s);
    row.rtf_total = Some((b.wall_s + b.build_s) / sim_s);
    row.synapse_updates_per_s = Some(row.synapses as f64 * steps as f64 / b.wall_s);
    row.peak_rss_mib = Some(b.peak_rss_mib);
    row.network_rate_hz = Some(b.rate_hz);
    row.input_rate_hz = Some(b.input_rate_hz);
    row.network_spikes = Some(b.spikes);
    row.engine_version = Some(format!("NEST {} (built-in models)", b.nest_version));
}

/// What `scripts/nest_baseline.py` prints.
#[derive(Debug, Deserialize)]
struct BaselineOut {
    wall_s: f64,
    cpu_s: f64,
    drive_rate_hz: f64,
    target_rate_hz: f64,
    build_s: f64,
    rate_hz: f64,
    input_rate_hz: f64,
    spikes: usize,
    peak_rss_mib: f64,
    nest_version: String,
    /// `none` (static synapses), `stdp` or `stdp_hom`.
    plastic: String,
    /// Mean of NEST's `sizeof` over the network's connection types.
    bytes_per_synapse: f64,
}

/// The crate directory this binary was built from.
fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Interpreter for the baseline: `SEQLEARN_PYTHON`, else the crate's
/// `.venv`, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SEQLEARN_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = crate_dir().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn run_baseline(
    row: &Row,
    plastic: bool,
    target_hz: f64,
    input_hz: f64,
    seconds: f64,
) -> Result<BaselineOut> {
    let script = crate_dir().join("scripts/nest_baseline.py");
    if !script.exists() {
        bail!("{} not found", script.display());
    }
    let py = python();
    let mut cmd = Command::new(&py);
    cmd.arg(&script)
        .args(["--neurons", &row.neurons.to_string()])
        .args(["--synapses", &row.synapses.to_string()])
        .args([
            "--inputs",
            &(Config::default().network.n_inputs).to_string(),
        ])
        .args(["--input-rate", &format!("{input_hz}")])
        .args(["--target-rate", &format!("{target_hz}")])
        .args(["--seconds", &format!("{seconds}")])
        .args(["--threads", &row.threads.to_string()])
        .args(["--plastic", if plastic { "stdp" } else { "none" }])
        // The drive calibration runs ~8 short simulations; shorter ones
        // for large networks (the rate per drive does not depend on size).
        .args([
            "--calib-seconds",
            if row.neurons > 2000 { "0.3" } else { "1.0" },
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped());
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        cmd.env("OMP_WAIT_POLICY", "passive");
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {}", py.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!(
            "{} {} failed ({}): {last}",
            py.display(),
            script.display(),
            out.status
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the baseline script printed no JSON")?;
    serde_json::from_str(line).context("parsing the baseline script's JSON")
}

/// Runs one case `repeat` times in child processes; keeps the fastest run.
fn spawn_best(
    name: &str,
    grid: [usize; 2],
    seconds: f64,
    target_hz: Option<f64>,
    repeat: usize,
) -> Row {
    let mut best = spawn_case(name, grid, seconds, target_hz);
    for _ in 1..repeat.max(1) {
        if best.skipped.is_some() {
            break;
        }
        let row = spawn_case(name, grid, seconds, target_hz);
        if row.skipped.is_none() && row.rtf < best.rtf {
            best = row;
        }
    }
    best
}

/// Runs one case in a child process.
fn spawn_case(name: &str, grid: [usize; 2], seconds: f64, target_hz: Option<f64>) -> Row {
    let skipped = |why: String| Row {
        case: name.into(),
        backend: spec(name)
            .map(|s| match s.kind {
                Kind::Native => "native",
                Kind::Nest => "nest",
                Kind::Baseline => "nest_baseline",
            })
            .unwrap_or("?")
            .into(),
        threads: spec(name).map(|s| s.threads).unwrap_or(1),
        grid: grid_str(grid),
        n_conn: n_conn_for(grid),
        simulated_s: seconds,
        skipped: Some(why),
        ..Row::default()
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return skipped(format!("cannot find own executable: {e}")),
    };
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "--case", name, "--grid", &grid_str(grid)])
        .args(["--seconds", &format!("{seconds}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(r) = target_hz {
        cmd.args(["--target-rate-hz", &format!("{r}")]);
    }
    // The threads and policy a user's run would get now (a NEST kernel
    // reads the policy when it is loaded, so the child gets it in its
    // environment). The baselines are plain NEST: their threads as given.
    let policy = spec(name)
        .ok()
        .filter(|s| s.kind != Kind::Native)
        .map(|s| wait_policy::decide(s.threads, s.kind == Kind::Baseline));
    if let Some(c) = &policy {
        cmd.env("OMP_WAIT_POLICY", c.policy.as_env())
            .args(["--threads-used", &c.threads.to_string()]);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            match text
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with('{'))
                .map(serde_json::from_str::<Row>)
            {
                Some(Ok(mut row)) => {
                    row.wait_policy =
                        policy.map(|c| format!("{} ({})", c.policy.as_env(), c.reason));
                    row
                }
                Some(Err(e)) => skipped(format!("bad row from the case process: {e}")),
                None => skipped("the case process printed no row".into()),
            }
        }
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            skipped(format!("case process failed ({}): {last}", out.status))
        }
        Err(e) => skipped(format!("cannot start the case process: {e}")),
    }
}

fn selected(name: &str, filter: &[String]) -> bool {
    filter.is_empty() || filter.iter().any(|f| name.starts_with(f.as_str()))
}

/// Refuses flags that would run nothing (exit 2, naming the flag).
fn check_flags(args: &BenchArgs) -> Result<()> {
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    if let Some(bad) = args
        .cases
        .iter()
        .find(|f| !names.iter().any(|n| n.starts_with(f.as_str())))
    {
        return Err(seqlearn_nest::usage!(
            "--cases: `{bad}` matches no case; choose names or prefixes of {}",
            names.join(", ")
        ));
    }
    if let Some(g) = args.grids.iter().find(|g| g[0] == 0 || g[1] == 0) {
        return Err(seqlearn_nest::usage!(
            "--grids: {}x{} must have both sizes >= 1",
            g[0],
            g[1]
        ));
    }
    if args.repeat == 0 {
        return Err(seqlearn_nest::usage!("--repeat must be >= 1, got 0"));
    }
    Ok(())
}

fn run_all(args: &BenchArgs) -> Result<()> {
    check_flags(args)?;
    let machine = machine_description();
    println!("{machine}");
    match std::env::var("OMP_WAIT_POLICY") {
        Ok(p) => println!("OpenMP wait policy: {p} (OMP_WAIT_POLICY)"),
        Err(_) => println!(
            "OpenMP wait policy: a user's run's, chosen per case: active only with a free core \
             per thread, else passive (set OMP_WAIT_POLICY to choose)"
        ),
    }
    let mut rows: Vec<Row> = Vec::new();
    let scaling = args.scaling || args.scaling_only;
    if !args.scaling_only {
        println!(
            "\nFull-scale training ({} grid, K 2..10, 100 inputs, {} circuit pairs, STP + STDP + \
             variance tracking), {} s simulated per case:",
            grid_str(PAPER_GRID),
            n_conn_for(PAPER_GRID),
            args.seconds
        );
        // Repeats go round-robin over the cases, so that a burst of other
        // load on a shared machine does not hit every repeat of one case.
        let cases: Vec<&CaseSpec> = CASES
            .iter()
            .filter(|c| selected(c.name, &args.cases))
            .collect();
        let repeat = args.repeat.max(1);
        let mut best: Vec<Option<Row>> = vec![None; cases.len()];
        let mut model_rate = None;
        for pass in 0..repeat {
            if repeat > 1 {
                eprintln!("pass {} of {repeat}", pass + 1);
            } else {
                print_header();
            }
            for (i, c) in cases.iter().enumerate() {
                if best[i].as_ref().is_some_and(|b| b.skipped.is_some()) {
                    continue;
                }
                let row = spawn_case(c.name, PAPER_GRID, args.seconds, model_rate);
                if c.kind == Kind::Native && !c.record && model_rate.is_none() {
                    model_rate = row.network_rate_hz;
                }
                if repeat == 1 {
                    print_row(&row);
                }
                let better = match &best[i] {
                    None => true,
                    Some(b) => row.skipped.is_none() && row.rtf < b.rtf,
                };
                if better {
                    best[i] = Some(row);
                }
            }
        }
        if repeat > 1 {
            println!("(fastest of {repeat} runs per case, taken round-robin)");
            print_header();
        }
        for row in best.into_iter().flatten() {
            if repeat > 1 {
                print_row(&row);
            }
            rows.push(row);
        }
        print_ratios(&rows, "");
        print_stages(&rows);
    }
    if scaling {
        let secs = args.scaling_seconds;
        println!(
            "\nScaling sweep (n_conn = {PAIRS_PER_CIRCUIT} per circuit), {secs} s simulated per case:"
        );
        print_header();
        let mut sweep = Vec::new();
        for &g in &args.grids {
            let mut model_rate = None;
            for name in SCALING_CASES
                .iter()
                .filter(|n| selected(n, &args.cases) || args.cases.is_empty())
            {
                let mut row = spawn_best(name, g, secs, model_rate, args.repeat);
                if *name == "native" {
                    model_rate = row.network_rate_hz;
                }
                row.case = format!("scaling/{}", row.case);
                print_row(&row);
                sweep.push(row);
            }
        }
        print_scaling(&sweep);
        rows.extend(sweep);
    }
    if let Some(path) = &args.json {
        write_json(path, &rows)?;
        println!("\nrows written to {}", path.display());
    }
    Ok(())
}

fn write_json(path: &Path, rows: &[Row]) -> Result<()> {
    let mut f = std::fs::File::create(path)
        .map_err(|e| seqlearn_nest::usage!("cannot write {}: {e}", path.display()))?;
    serde_json::to_writer_pretty(&mut f, rows)?;
    writeln!(f)?;
    Ok(())
}

fn print_header() {
    println!(
        "{:<22} {:<14} {:>3} {:>6} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>11} {:>8} {:>7} wait",
        "case",
        "backend",
        "thr",
        "grid",
        "neurons",
        "synapses",
        "wall s",
        "RTF",
        "RTF cpu",
        "RTF all",
        "syn upd/s",
        "RSS MiB",
        "rate Hz"
    );
}

fn print_row(r: &Row) {
    match &r.skipped {
        Some(why) => println!(
            "{:<22} {:<14} {:>3} {:>6}  skipped: {}",
            r.case, r.backend, r.threads, r.grid, why
        ),
        None => println!(
            "{:<22} {:<14} {:>3} {:>6} {:>7} {:>9} {:>8.3} {:>8.4} {:>8.4} {:>8.4} {:>11.3e} {:>8.1} {:>7.2} {}",
            r.case,
            r.backend,
            r.threads,
            r.grid,
            r.neurons,
            r.synapses,
            r.wall_s.unwrap_or(f64::NAN),
            r.rtf.unwrap_or(f64::NAN),
            r.rtf_cpu.unwrap_or(f64::NAN),
            r.rtf_total.unwrap_or(f64::NAN),
            r.synapse_updates_per_s.unwrap_or(f64::NAN),
            r.peak_rss_mib.unwrap_or(f64::NAN),
            r.network_rate_hz.unwrap_or(f64::NAN),
            r.wait_policy
                .as_deref()
                .and_then(|w| w.split_whitespace().next())
                .unwrap_or("-"),
        ),
    }
}

fn find<'a>(rows: &'a [Row], case: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.case == case && r.skipped.is_none())
}

fn print_ratios(rows: &[Row], prefix: &str) {
    let get = |c: &str| find(rows, &format!("{prefix}{c}")).and_then(|r| r.rtf);
    let get_cpu = |c: &str| find(rows, &format!("{prefix}{c}")).and_then(|r| r.rtf_cpu);
    let pairs: [(&str, &str, &str); 10] = [
        (
            "nest-1t",
            "baseline-1t",
            "NEST backend / static baseline, 1 thread (target <= 1.3)",
        ),
        (
            "nest-2t",
            "baseline-2t",
            "NEST backend / static baseline, 2 threads",
        ),
        (
            "nest-1t",
            "plastic-1t",
            "NEST backend / plastic baseline, 1 thread (target <= 1.0)",
        ),
        (
            "nest-2t",
            "plastic-2t",
            "NEST backend / plastic baseline, 2 threads",
        ),
        (
            "plastic-1t",
            "baseline-1t",
            "plastic / static baseline, 1 thread",
        ),
        ("nest-1t", "native", "NEST backend 1 thread / native"),
        ("baseline-1t", "native", "NEST baseline 1 thread / native"),
        (
            "native+rec",
            "native",
            "native with recording / without (target <= 1.10)",
        ),
        (
            "nest+rec",
            "nest-1t",
            "NEST with recording / without (target <= 1.10)",
        ),
        (
            "nest-2t",
            "nest-1t",
            "NEST 2 threads / 1 thread (target <= 1)",
        ),
    ];
    println!("\nRatios of RTF (same run; wall time, CPU time):");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => format!("{:>8.3}", x / y),
        _ => format!("{:>8}", "n/a"),
    };
    for (a, b, what) in pairs {
        println!(
            "  {what:<58} {} {}",
            ratio(get(a), get(b)),
            ratio(get_cpu(a), get_cpu(b))
        );
    }
    if let Some(r) = find(rows, &format!("{prefix}nest-2t")).filter(|r| r.threads < 2) {
        println!(
            "  (nest-2t ran {} thread, the plan a user's run gets: {})",
            r.threads,
            r.wait_policy.as_deref().unwrap_or("?")
        );
    }
    println!("Against the references (RTF of the full-scale task):");
    for (c, what) in [
        ("native", "native (target <= 0.005)"),
        ("nest-1t", "NEST backend, 1 thread (target <= 0.15)"),
    ] {
        if let Some(x) = get(c) {
            println!(
                "  {what:<42} RTF {x:.4}: {:>6.1}x faster than the 2022 NEST package (0.736, 6 threads), \
                 {:>7.0}x faster than the original Python (41.8)",
                0.736 / x,
                41.8 / x
            );
        }
    }
}

/// The `native-stages` row: where the native step goes, and what the
/// spike-driven stages cost per unit of work.
fn print_stages(rows: &[Row]) {
    let Some(r) = find(rows, "native-stages") else {
        return;
    };
    let (Some(stages), Some(rtf)) = (r.stages.as_ref(), r.rtf) else {
        return;
    };
    let step_us = rtf * 1e3; // RTF x 1 ms per step
    let clocks = find(rows, "native")
        .and_then(|n| n.rtf)
        .map_or(String::new(), |n| {
            format!(
                "; with the clocks {:+.0} % against `native`",
                (rtf / n - 1.0) * 100.0
            )
        });
    println!("\nWhere the native step goes (native-stages, every stage timed{clocks}):");
    let sum: f64 = stages.iter().map(|s| s.us_per_step).sum();
    for s in stages {
        println!(
            "  {:<42} {:>7.2} us/step {:>5.1} %",
            s.stage,
            s.us_per_step,
            100.0 * s.us_per_step / sum
        );
    }
    println!(
        "  {:<42} {sum:>7.2} us/step (the whole step: {step_us:.2})",
        "sum of the stages"
    );
    let us = |name: Stage| {
        stages
            .iter()
            .find(|s| s.stage == name.name())
            .map(|s| s.us_per_step)
    };
    // the stage's time per unit of its work (none in a run without spikes)
    let each = |stage: Stage, n: Option<f64>| match (us(stage), n) {
        (Some(t), Some(n)) if n > 0.0 => format!("{:.2} ns each", t * 1e3 / n),
        _ => "none".to_string(),
    };
    let (n_stdp, n_jump) = (r.stdp_synapses_per_step, r.deliveries_per_step);
    println!(
        "  STDP: {:.0} synapse updates per step, {}; jumps: {:.0} additions per step, {}",
        n_stdp.unwrap_or(0.0),
        each(Stage::Learn, n_stdp),
        n_jump.unwrap_or(0.0),
        each(Stage::Sources, n_jump)
    );
    if let Some(learn) = us(Stage::Learn) {
        println!(
            "  the STDP stage alone is RTF {:.4} (native target 0.005)",
            learn * 1e-3
        );
    }
}

fn print_scaling(rows: &[Row]) {
    println!(
        "\nCost per synapse and step (ns) = wall / (synapses * steps), and memory per synapse:"
    );
    println!(
        "{:<22} {:>6} {:>9} {:>10} {:>12}",
        "case", "grid", "synapses", "ns/syn-step", "RSS B/syn"
    );
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        if let (Some(u), Some(m)) = (r.synapse_updates_per_s, r.peak_rss_mib) {
            println!(
                "{:<22} {:>6} {:>9} {:>10.3} {:>12.0}",
                r.case,
                r.grid,
                r.synapses,
                1e9 / u,
                m * 1048576.0 / r.synapses as f64
            );
        }
    }
    println!("\nNEST backend per synapse-step against the baselines (same grid, same run):");
    let mut grids: Vec<&str> = rows.iter().map(|r| r.grid.as_str()).collect();
    grids.dedup();
    for g in grids {
        let rtf = |case: &str| {
            rows.iter()
                .find(|r| r.grid == g && r.case == format!("scaling/{case}") && r.skipped.is_none())
                .and_then(|r| r.rtf)
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => format!("{:.3}", x / y),
            _ => "n/a".to_string(),
        };
        println!(
            "  {g:>6}: / static {} (target <= 2 at 40x40), / plastic {}",
            ratio(rtf("nest-1t"), rtf("baseline-1t")),
            ratio(rtf("nest-1t"), rtf("plastic-1t"))
        );
    }
}

/// CPU count and model, memory, kernel, and the commit.
pub fn machine_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let mhz = cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split_once(':'))
        .map_or(String::new(), |(_, v)| format!(" @ {} MHz", v.trim()));
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(String::new(), |kib| {
            format!(", {:.1} GiB RAM", kib / 1048576.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or(String::new(), |s| format!(", Linux {}", s.trim()));
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    format!(
        "machine: {cpus} CPUs ({model}{mhz}){mem}{kernel}\nseqlearn-nest {} (commit {commit})",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_grid_keeps_the_papers_pairs() {
        assert_eq!(n_conn_for(PAPER_GRID), 1000);
        let c = bench_config([20, 10], 1.0, true).unwrap();
        assert_eq!(c.network.n_conn, 4000);
        assert_eq!(c.phases.len(), 1);
    }

    #[test]
    fn case_names_resolve_and_filters_match_prefixes() {
        for c in CASES {
            assert_eq!(spec(c.name).unwrap().name, c.name);
        }
        assert!(spec("nope").is_err());
        let f = vec!["nest".to_string()];
        assert!(selected("nest-2t", &f) && selected("nest+rec", &f) && !selected("native", &f));
    }
}
