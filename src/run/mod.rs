//! One simulation run: build (or replay) the network and input, step an
//! engine, write the run directory atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::native::NativeEngine;
use crate::engine::{Engine, Job, Outcome};
use crate::model::budget::{self, Estimate};
use crate::model::config::{Config, PhaseRole};
use crate::model::input::{self, Input, Schedule, StepSpikes};
use crate::model::network::Network;
use crate::model::record::RecordPlan;
use crate::rundir::{self, schema, Counts, Summary, Versions, WallTimes};
use crate::usage;

pub mod outdir;
pub mod verify;

/// Which engine steps the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Native,
    Nest,
    /// NEST when it loads, else native.
    Auto,
}

impl Backend {
    /// The names accepted by [`Backend::from_str`](std::str::FromStr).
    pub const NAMES: [&'static str; 3] = ["native", "nest", "auto"];
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "native" => Ok(Backend::Native),
            "nest" => Ok(Backend::Nest),
            "auto" => Ok(Backend::Auto),
            _ => Err(format!(
                "unknown backend `{s}`; choose one of {}",
                Backend::NAMES.join(", ")
            )),
        }
    }
}

/// What a run tells its caller while it runs (the CLI shows it; the
/// library never prints).
pub trait Observer {
    /// A message for the user, e.g. that `auto` fell back to native.
    fn note(&mut self, _message: &str) {}
    /// `done` of `total` steps simulated (`dt` ms each).
    fn progress(&mut self, _done: u64, _total: u64, _dt: f64) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}

/// Options of one run besides the config.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub backend: Backend,
    /// Threads requested: a NEST run uses at most one per free core
    /// (`engine::wait_policy`) unless `exact_threads`.
    pub threads: usize,
    pub exact_threads: bool,
    pub out: PathBuf,
    /// Overwrite an existing run directory.
    pub force: bool,
    /// Take network and input from this run directory.
    pub replay: Option<PathBuf>,
    /// Force the network spikes from this `sender,time_ms` file.
    pub forced_spikes: Option<PathBuf>,
    /// Memory limit in bytes (default: the machine's available memory).
    pub max_memory: Option<f64>,
    /// Let a replay run past the end of its input.
    pub extend_replay: bool,
}

/// The resource estimate of a run of `cfg`, refused (exit 2, naming the
/// keys) when it needs more than `max_memory` bytes or the available memory.
pub fn check_budget(cfg: &Config, max_memory: Option<f64>) -> Result<Estimate> {
    let est = Estimate::of(cfg);
    match max_memory {
        Some(m) => est.check(m, "of --max-memory")?,
        None => est.check(budget::available_memory(), "available on this machine")?,
    }
    Ok(est)
}

/// Refuses replay files larger than `max_memory` (or the available memory)
/// before reading them: the readers hold a few times the file size.
fn check_replay_size(dir: &Path, max_memory: Option<f64>) -> Result<()> {
    let mut total = 0u64;
    for f in schema::FILES {
        if let Ok(m) = std::fs::metadata(dir.join(f.name)) {
            total += m.len();
        }
    }
    let need = total as f64 * 8.0;
    let limit = max_memory.unwrap_or_else(budget::available_memory);
    if need > limit {
        return Err(usage!(
            "--replay {}: its files total {} and need about {} in memory, more than the {} \
             allowed; replay a smaller run (or raise --max-memory)",
            dir.display(),
            budget::bytes(total as f64),
            budget::bytes(need),
            budget::bytes(limit)
        ));
    }
    Ok(())
}

/// Everything that goes into an engine, built from the config (or a replay).
pub struct Prepared {
    pub config: Config,
    pub network: Network,
    pub schedule: Schedule,
    pub input: Input,
    pub forced: Option<StepSpikes>,
    pub plan: RecordPlan,
}

impl Prepared {
    pub fn new(config: Config, replay: Option<&Path>, forced: Option<&Path>) -> Result<Prepared> {
        Self::with_replay(config, replay, forced, false)
    }

    /// [`Prepared::new`]; `extend_replay` lets a replay run past the end of
    /// its input (with no input there) instead of refusing it.
    pub fn with_replay(
        config: Config,
        replay: Option<&Path>,
        forced: Option<&Path>,
        extend_replay: bool,
    ) -> Result<Prepared> {
        let schedule = Schedule::from_config(&config);
        let dt = config.model.dt_ms;
        let (network, input) = match replay {
            Some(dir) => {
                rundir::marker::check_finished(dir)?;
                let per_syn = config.network.stp_draw == crate::model::config::StpDraw::PerSynapse;
                let net = rundir::read_network(dir, per_syn)?;
                check_replay_config(dir, &net, &config)?;
                let inp = rundir::read_input(dir, net.n_inputs, &schedule, dt)?;
                check_replay_input(dir, &inp, &config, &schedule, extend_replay)?;
                (net, inp)
            }
            None => {
                let net = Network::build(&config)?;
                let inp = input::build(&config, &schedule)?;
                (net, inp)
            }
        };
        let forced = forced
            .map(|p| {
                let n = network.n_neurons();
                rundir::read_step_spikes(p, &schema::SPIKES, n, schedule.n_steps(), dt)
            })
            .transpose()?;
        let plan = RecordPlan::from_config(&config, &network, &schedule)?;
        Ok(Prepared {
            config,
            network,
            schedule,
            input,
            forced,
            plan,
        })
    }

    pub fn job(&self, threads: usize) -> Job<'_> {
        Job {
            network: &self.network,
            model: self.config.model,
            input: &self.input.spikes,
            schedule: &self.schedule,
            forced: self.forced.as_ref(),
            record: &self.plan,
            seed: self.config.seed,
            threads,
        }
    }
}

/// A replay runs the replayed network: a config (or `--grid`, `--inputs`,
/// `--k-min`, `--k-max`) that describes another network is an error, since
/// summary.json would claim it.
fn check_replay_config(dir: &Path, net: &Network, cfg: &Config) -> Result<()> {
    let n = &cfg.network;
    let (k_lo, k_hi) = net
        .circuits
        .iter()
        .fold((usize::MAX, 0), |(a, b), c| (a.min(c.k), b.max(c.k)));
    if net.shape != n.grid || net.n_inputs != n.n_inputs || k_lo < n.k_min || k_hi > n.k_max {
        return Err(usage!(
            "--replay {}: the replayed network has grid {}x{}, {} inputs and K in {k_lo}..={k_hi}, \
             but the config asks for grid {}x{}, {} inputs, K in {}..={} (network.grid/--grid, \
             network.n_inputs/--inputs, network.k_min/k_max); drop the override or match it",
            dir.display(),
            net.shape[0],
            net.shape[1],
            net.n_inputs,
            n.grid[0],
            n.grid[1],
            n.n_inputs,
            n.k_min,
            n.k_max
        ));
    }
    Ok(())
}

/// The replayed input names existing sequences and covers the protocol
/// (running past its end only with `extend_replay`).
fn check_replay_input(
    dir: &Path,
    inp: &Input,
    cfg: &Config,
    schedule: &Schedule,
    extend_replay: bool,
) -> Result<()> {
    let n_seq = cfg.input.pattern_sequences.len();
    let dt = cfg.model.dt_ms;
    let file = dir.join(schema::PHASES.name);
    if let Some(g) = inp
        .segments
        .iter()
        .find(|g| g.sequence.is_some_and(|s| s >= n_seq))
    {
        return Err(usage!(
            "{}: segment at {} ms presents sequence {:?}, but the config has {n_seq} \
             (input.pattern_sequences)",
            file.display(),
            g.start as f64 * dt,
            g.sequence
        ));
    }
    let end = inp.segments.last().map_or(0, |g| g.end);
    if end < schedule.n_steps() && !extend_replay {
        return Err(usage!(
            "--replay {}: its input ends at {} ms, but the protocol runs to {} ms (--train, \
             --test or phases[].duration_ms); shorten the protocol, or pass --extend-replay to \
             run on without input",
            dir.display(),
            end as f64 * dt,
            schedule.n_steps() as f64 * dt
        ));
    }
    Ok(())
}

/// Reads the config a run directory was made with (for `--replay` without
/// `--config`).
pub fn config_of_run(dir: &Path) -> Result<Config> {
    rundir::marker::check_finished(dir)?;
    let config = rundir::read_summary(dir)?.config;
    config
        .validate()
        .with_context(|| format!("config in {}", dir.join(rundir::SUMMARY).display()))?;
    Ok(config)
}

/// Picks the engine for `backend` (`auto` falls back to native with a note).
pub fn make_engine(backend: Backend, observer: &mut dyn Observer) -> Result<Box<dyn Engine>> {
    match backend {
        Backend::Native => {
            crate::engine::nest::mpi::refuse_native()?;
            Ok(Box::new(NativeEngine))
        }
        Backend::Nest => Ok(Box::new(crate::engine::nest::NestEngine::load()?)),
        Backend::Auto => match crate::engine::nest::NestEngine::load() {
            Ok(e) => Ok(Box::new(e)),
            // under MPI the fallback would run the whole network on every rank
            Err(err) if crate::engine::nest::mpi::Launch::current().is_some() => Err(err),
            Err(err) => {
                observer.note(&format!(
                    "NEST not available ({err:#}); using the native engine"
                ));
                Ok(Box::new(NativeEngine))
            }
        },
    }
}

/// Runs `job` on `engine`, reporting progress to `observer`.
pub fn run_engine(
    engine: &mut dyn Engine,
    job: &Job,
    observer: &mut dyn Observer,
) -> Result<Outcome> {
    let total = job.schedule.n_steps();
    let dt = job.model.dt_ms;
    engine
        .run(job, &mut |done| observer.progress(done, total, dt))
        .map_err(diverged_is_usage)
}

/// The NEST path's numerical guard: seqlearn_wta_neuron raises a
/// KernelException naming the node and the step when its potential leaves
/// the floating-point range; like the native engine's guard that is caused
/// by the input (parameters or replayed files), so exit 2.
fn diverged_is_usage(e: anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    if !crate::error::is_usage(&e) && text.contains("floating-point range") {
        return usage!(
            "{text}; the update diverged: check model.eta, model.tau_rise_ms, model.tau_decay_ms \
             and the replayed weights/STP parameters"
        );
    }
    e
}

/// The whole `simulate` command up to the written run directory (analysis is
/// added by the caller through `post`, inside the staging directory). Under
/// MPI every rank computes (NEST's calls are collective; the read-out gathers
/// every neuron's values on every rank) and rank 0 alone writes.
pub fn simulate(
    config: Config,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    post: &mut dyn FnMut(&Path, &mut Summary) -> Result<()>,
) -> Result<Summary> {
    let t0 = Instant::now();
    preflight(&config, opts)?;
    if !crate::engine::nest::mpi::is_writer() {
        let (_, _, mut summary) = compute(config, opts, observer, t0)?;
        summary.wall_s.total = t0.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let staging = outdir::Staging::begin(&opts.out, opts.force)?;
    let partial = staging.path().to_path_buf();
    let result = (|| {
        let (prep, outcome, mut summary) = compute(config, opts, observer, t0)?;
        let t2 = Instant::now();
        write_outcome(&partial, &prep, &outcome)?;
        summary.wall_s.write = t2.elapsed().as_secs_f64();
        rundir::write_json(&partial.join(rundir::SUMMARY), &summary)?;
        post(&partial, &mut summary)?;
        summary.wall_s.total = t0.elapsed().as_secs_f64();
        rundir::write_json(&partial.join(rundir::SUMMARY), &summary)?;
        Ok(summary)
    })();
    match result {
        Ok(summary) => {
            staging.commit()?;
            Ok(summary)
        }
        Err(e) => {
            // Never leave a directory that looks like a run.
            staging.abandon();
            Err(e)
        }
    }
}

/// The checks before anything is allocated, the same on every MPI rank: the
/// resource estimate and, for a replay, a finished run of a readable size.
/// (`--out` is rank 0's: it takes the lock; an error there aborts all ranks.)
fn preflight(config: &Config, opts: &RunOptions) -> Result<()> {
    check_budget(config, opts.max_memory)?;
    if let Some(dir) = &opts.replay {
        rundir::marker::check_finished(dir)?;
        check_replay_size(dir, opts.max_memory)?;
    }
    Ok(())
}

/// Network, input and plan from the config (or the replay), the engine, the
/// run, and its summary (build and simulation times since `t0`).
fn compute(
    config: Config,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    t0: Instant,
) -> Result<(Prepared, Outcome, Summary)> {
    let prep = Prepared::with_replay(
        config,
        opts.replay.as_deref(),
        opts.forced_spikes.as_deref(),
        opts.extend_replay,
    )?;
    let mut threads = opts.threads;
    if opts.backend != Backend::Native && opts.threads > 1 {
        let c = crate::engine::wait_policy::apply_for_run(opts.threads, opts.exact_threads);
        observer.note(&format!(
            "{} thread(s), OpenMP wait policy {} ({})",
            c.threads,
            c.policy.as_env(),
            c.reason
        ));
        if let Some(note) = &c.note {
            observer.note(note);
        }
        threads = c.threads;
    }
    let mut engine = make_engine(opts.backend, observer)?;
    let t_build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let outcome = run_engine(engine.as_mut(), &prep.job(threads), observer)?;
    let t_sim = t1.elapsed().as_secs_f64();
    let summary = make_summary(&prep, &outcome, engine.name(), opts, [t_build, t_sim]);
    Ok((prep, outcome, summary))
}

/// Writes the CSV files of a finished run into `dir`.
fn write_outcome(dir: &Path, prep: &Prepared, outcome: &Outcome) -> Result<()> {
    let dt = prep.config.model.dt_ms;
    let fin = rundir::FinalState {
        weights: &outcome.weights,
        bias: &outcome.bias,
    };
    rundir::write_network(dir, &prep.network, Some(fin))?;
    rundir::write_input(dir, &prep.input, &prep.schedule, dt)?;
    rundir::write_spikes(
        &dir.join(schema::SPIKES.name),
        &schema::SPIKES,
        &outcome.spikes,
        dt,
    )?;
    rundir::write_recording(dir, &prep.network, &prep.plan, &outcome.recording, dt)
}

/// The summary of a run; `[build, simulate]` wall times in s (write and
/// total are filled in later).
fn make_summary(
    prep: &Prepared,
    outcome: &Outcome,
    backend: &str,
    opts: &RunOptions,
    [build, simulate]: [f64; 2],
) -> Summary {
    let simulated_ms = prep.schedule.n_steps() as f64 * prep.config.model.dt_ms;
    Summary {
        seed: prep.config.seed,
        config: prep.config.clone(),
        backend: backend.to_string(),
        threads: opts.threads,
        parallel: outcome.parallel,
        versions: Versions {
            seqlearn_nest: env!("CARGO_PKG_VERSION").to_string(),
            engine: outcome.engine_version.clone(),
        },
        replay: opts.replay.clone(),
        forced_spikes: opts.forced_spikes.clone(),
        simulated_ms,
        wall_s: WallTimes {
            build,
            simulate,
            write: 0.0,
            total: 0.0,
        },
        rtf: simulate / (simulated_ms * 1e-3),
        counts: Counts {
            circuits: prep.network.circuits.len(),
            neurons: prep.network.n_neurons(),
            synapses: prep.network.synapses.len(),
            input_spikes: prep.input.spikes.len(),
            network_spikes: outcome.spikes.len(),
        },
        analysis: None,
    }
}

/// Applies the common CLI overrides to a config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub grid: Option<[usize; 2]>,
    pub k_min: Option<usize>,
    pub k_max: Option<usize>,
    pub inputs: Option<usize>,
    pub train_ms: Option<f64>,
    pub test_ms: Option<f64>,
}

impl Overrides {
    pub fn apply(&self, cfg: &mut Config) -> Result<()> {
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(g) = self.grid {
            cfg.network.grid = g;
        }
        if let Some(k) = self.k_min {
            cfg.network.k_min = k;
        }
        if let Some(k) = self.k_max {
            cfg.network.k_max = k;
        }
        if let Some(n) = self.inputs {
            cfg.network.n_inputs = n;
        }
        for p in &mut cfg.phases {
            match p.role {
                PhaseRole::Train => {
                    if let Some(t) = self.train_ms {
                        p.duration_ms = t;
                    }
                }
                PhaseRole::ReadoutFit | PhaseRole::Test => {
                    if let Some(t) = self.test_ms {
                        p.duration_ms = t;
                    }
                }
            }
        }
        cfg.validate()
    }
}

/// Parses `10x5`.
pub fn parse_grid(s: &str) -> Result<[usize; 2], String> {
    let (a, b) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not a grid size; write it as NxM, e.g. 10x5"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{s}` is not a grid size; write it as NxM, e.g. 10x5"))
    };
    Ok([p(a)?, p(b)?])
}
