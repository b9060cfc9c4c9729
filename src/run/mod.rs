//! One simulation run: build (or replay) the network and input, step an
//! engine, write the run directory atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::native::NativeEngine;
use crate::engine::{Engine, Job, Outcome};
use crate::model::config::{Config, PhaseRole};
use crate::model::input::{self, Input, Schedule, StepSpikes};
use crate::model::network::Network;
use crate::model::record::RecordPlan;
use crate::rundir::{self, schema, Counts, Summary, Versions, WallTimes};
use crate::usage;

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
    pub threads: usize,
    pub out: PathBuf,
    /// Overwrite an existing run directory.
    pub force: bool,
    /// Take network and input from this run directory.
    pub replay: Option<PathBuf>,
    /// Force the network spikes from this `sender,time_ms` file.
    pub forced_spikes: Option<PathBuf>,
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
        let schedule = Schedule::from_config(&config);
        let dt = config.model.dt_ms;
        let (network, input) = match replay {
            Some(dir) => {
                let per_syn = config.network.stp_draw == crate::model::config::StpDraw::PerSynapse;
                let net = rundir::read_network(dir, per_syn)?;
                let inp = rundir::read_input(dir, net.n_inputs, &schedule, dt)?;
                (net, inp)
            }
            None => {
                let net = Network::build(&config)?;
                let inp = input::generate(&config, &schedule);
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

/// Reads the config a run directory was made with (for `--replay` without
/// `--config`).
pub fn config_of_run(dir: &Path) -> Result<Config> {
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
    engine.run(job, &mut |done| observer.progress(done, total, dt))
}

/// Refuses to replace an existing run directory without `force`.
fn check_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        return Err(usage!(
            "output directory {} already exists; choose another --out or pass --force to replace it",
            out.display()
        ));
    }
    Ok(())
}

/// Prepares the output directory: `DIR.partial`, renamed on success.
fn staging_dir(out: &Path, force: bool) -> Result<PathBuf> {
    check_out(out, force)?;
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing stale {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create output directory {}", partial.display()))?;
    Ok(partial)
}

/// Moves a finished staging directory into place.
pub fn commit_dir(partial: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing old {}", out.display()))?;
    }
    std::fs::rename(partial, out)
        .with_context(|| format!("moving {} to {}", partial.display(), out.display()))
}

/// The whole `simulate` command up to the written run directory (analysis is
/// added by the caller through `post`, inside the staging directory).
pub fn simulate(
    config: Config,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    post: &mut dyn FnMut(&Path, &mut Summary) -> Result<()>,
) -> Result<Summary> {
    if !crate::engine::nest::mpi::is_writer() {
        return simulate_unwritten(config, opts, observer);
    }
    let t0 = Instant::now();
    let partial = staging_dir(&opts.out, opts.force)?;
    let result = (|| {
        let prep = Prepared::new(
            config,
            opts.replay.as_deref(),
            opts.forced_spikes.as_deref(),
        )?;
        let mut engine = make_engine(opts.backend, observer)?;
        let t_build = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let outcome = run_engine(engine.as_mut(), &prep.job(opts.threads), observer)?;
        let t_sim = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        write_outcome(&partial, &prep, &outcome)?;
        let mut summary = make_summary(&prep, &outcome, engine.name(), opts, [t_build, t_sim]);
        summary.wall_s.write = t2.elapsed().as_secs_f64();
        rundir::write_json(&partial.join(rundir::SUMMARY), &summary)?;
        post(&partial, &mut summary)?;
        summary.wall_s.total = t0.elapsed().as_secs_f64();
        rundir::write_json(&partial.join(rundir::SUMMARY), &summary)?;
        Ok(summary)
    })();
    match result {
        Ok(summary) => {
            commit_dir(&partial, &opts.out)?;
            Ok(summary)
        }
        Err(e) => {
            // Never leave a directory that looks like a run.
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

/// `simulate` on an MPI rank other than 0: the same calls (NEST's are
/// collective; the read-out gathers every neuron's values on every rank),
/// but rank 0 alone writes the run directory and runs `post`.
fn simulate_unwritten(
    config: Config,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let t0 = Instant::now();
    check_out(&opts.out, opts.force)?;
    let prep = Prepared::new(
        config,
        opts.replay.as_deref(),
        opts.forced_spikes.as_deref(),
    )?;
    let mut engine = make_engine(opts.backend, observer)?;
    let t_build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let outcome = run_engine(engine.as_mut(), &prep.job(opts.threads), observer)?;
    let t_sim = t1.elapsed().as_secs_f64();
    Ok(make_summary(
        &prep,
        &outcome,
        engine.name(),
        opts,
        [t_build, t_sim],
    ))
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
