//! `seqlearn-nest reproduce`: runs the original experiments (presets in
//! `experiments/`, compiled in) for several seeds in parallel child
//! processes, resumes without redoing finished runs, and collects every
//! measure into `reproduction.json` and `reproduction.html`
//! (docs/experiments.md).
//!
//! Layout of `--out DIR`: `configs/NAME.toml` (the config each run used),
//! `runs/NAME/seed-S/` (one run directory each, written atomically by the
//! child), `logs/NAME-seed-S.log` (the child's stderr), `reproduction.json`,
//! `reproduction.html`.

pub mod html;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::analysis::tasks::{self, Measure, ReadoutTrace, Task};
use crate::model::config::Config;
use crate::run::Backend;
use crate::rundir;
use crate::usage;

/// One experiment of the suite: its preset (the TOML text of
/// `experiments/NAME.toml`) and whether it needs the full run analysis
/// (rasters, sequence readouts).
pub struct Experiment {
    pub name: &'static str,
    pub toml: &'static str,
}

macro_rules! preset {
    ($name:literal) => {
        Experiment {
            name: $name,
            toml: include_str!(concat!("../../experiments/", $name, ".toml")),
        }
    };
}

/// Every experiment of tasks.md §2 that `reproduce` runs, in report order.
pub fn experiments() -> Vec<Experiment> {
    vec![
        preset!("xor"),
        preset!("multi"),
        preset!("pattern4"),
        preset!("pattern4_intervals"),
        preset!("pattern4A"),
        preset!("pattern5"),
        preset!("pattern5_intervals"),
        preset!("pattern12"),
        preset!("pattern8"),
        preset!("pattern2"),
        preset!("fail"),
        preset!("xor_pattern"),
    ]
}

/// The preset's header comment (its leading `#` lines).
pub fn description(toml: &str) -> String {
    toml.lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Options of [`reproduce`].
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    /// Experiment names (default: all).
    pub only: Option<Vec<String>>,
    pub seeds: usize,
    pub backend: Backend,
    pub jobs: usize,
    pub out: PathBuf,
    /// The `seqlearn-nest` executable the runs are started with.
    pub exe: PathBuf,
    /// Multiply every phase duration (quick checks); 1 = the presets.
    pub scale: f64,
}

/// One row of reproduction.json.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub experiment: String,
    pub seed: u64,
    pub backend: String,
    #[serde(flatten)]
    pub measure: Measure,
}

/// What the suite produced.
#[derive(Debug, Clone, Serialize)]
pub struct Reproduction {
    pub rows: Vec<Row>,
    /// Per experiment: its description, the run directories and figure data.
    pub experiments: Vec<ExperimentResult>,
    /// Runs that failed, with their log.
    pub failed: Vec<String>,
    /// Runs that were already complete and not redone.
    pub reused: usize,
    pub ran: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExperimentResult {
    pub name: String,
    pub task: Task,
    pub description: String,
    /// Run directories relative to the output directory, one per seed.
    pub runs: Vec<String>,
    /// Readout traces of the first seed (xor, multi).
    pub traces: Vec<ReadoutTrace>,
}

/// What the suite tells its caller while it runs.
pub trait Observer: Sync {
    fn note(&self, _message: &str) {}
}

/// One run of the suite.
struct RunJob {
    experiment: String,
    seed: u64,
    config: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    full_analysis: bool,
    /// The config the run must have been made with (seed applied).
    expected: Config,
}

/// Runs the suite and writes reproduction.json and reproduction.html.
pub fn reproduce(opts: &ReproduceOptions, observer: &dyn Observer) -> Result<Reproduction> {
    validate(opts)?;
    let chosen = select(opts.only.as_deref())?;
    for sub in ["configs", "runs", "logs"] {
        std::fs::create_dir_all(opts.out.join(sub))
            .with_context(|| format!("cannot create {}", opts.out.join(sub).display()))?;
    }
    let mut jobs = Vec::new();
    let mut results = Vec::new();
    for e in &chosen {
        let cfg = scaled_config(e, opts.scale)?;
        let path = opts.out.join("configs").join(format!("{}.toml", e.name));
        let text = toml::to_string(&cfg).context("serialising a preset")?;
        write_if_changed(&path, &text)?;
        let mut runs = Vec::new();
        for i in 0..opts.seeds {
            let seed = cfg.seed + i as u64;
            let rel = format!("runs/{}/seed-{seed}", e.name);
            jobs.push(RunJob {
                experiment: e.name.into(),
                seed,
                config: path.clone(),
                dir: opts.out.join(&rel),
                log: opts
                    .out
                    .join("logs")
                    .join(format!("{}-seed-{seed}.log", e.name)),
                full_analysis: Task::of(&cfg) == Task::Pattern,
                expected: Config {
                    seed,
                    ..cfg.clone()
                },
            });
            runs.push(rel);
        }
        results.push(ExperimentResult {
            name: e.name.into(),
            task: Task::of(&cfg),
            description: description(e.toml),
            runs,
            traces: Vec::new(),
        });
    }
    let (todo, done): (Vec<RunJob>, Vec<RunJob>) = jobs
        .into_iter()
        .partition(|j| !is_complete(j, opts.backend));
    observer.note(&format!(
        "{} runs to do, {} already complete (kept), {} parallel jobs",
        todo.len(),
        done.len(),
        opts.jobs
    ));
    let failed = run_all(&todo, opts, observer);
    let mut rep = Reproduction {
        rows: Vec::new(),
        experiments: results,
        failed,
        reused: done.len(),
        ran: todo.len(),
    };
    collect(opts, &mut rep, todo.iter().chain(&done), observer)?;
    let json = serde_json::to_string_pretty(&rep.rows).context("serialising reproduction.json")?;
    std::fs::write(opts.out.join("reproduction.json"), json).with_context(|| {
        format!(
            "cannot write {}",
            opts.out.join("reproduction.json").display()
        )
    })?;
    let page = html::render(&rep, opts);
    std::fs::write(opts.out.join("reproduction.html"), page).with_context(|| {
        format!(
            "cannot write {}",
            opts.out.join("reproduction.html").display()
        )
    })?;
    Ok(rep)
}

fn validate(opts: &ReproduceOptions) -> Result<()> {
    if opts.seeds == 0 {
        return Err(usage!("--seeds must be >= 1, got 0"));
    }
    if opts.jobs == 0 {
        return Err(usage!("--jobs must be >= 1, got 0"));
    }
    if !(opts.scale.is_finite() && opts.scale > 0.0 && opts.scale <= 1.0) {
        return Err(usage!("--scale must lie in (0, 1], got {}", opts.scale));
    }
    if opts.out.exists() && !opts.out.is_dir() {
        return Err(usage!(
            "--out {} exists and is not a directory",
            opts.out.display()
        ));
    }
    Ok(())
}

/// The experiments named by `--only` (all when `None`).
fn select(only: Option<&[String]>) -> Result<Vec<Experiment>> {
    let all = experiments();
    let Some(names) = only else {
        return Ok(all);
    };
    let known: Vec<&str> = all.iter().map(|e| e.name).collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(usage!(
            "--only: unknown experiment `{bad}`; choose from {}",
            known.join(", ")
        ));
    }
    Ok(all
        .into_iter()
        .filter(|e| names.iter().any(|n| n == e.name))
        .collect())
}

/// The preset's config with every phase duration multiplied by `scale`
/// (rounded to whole steps, at least 1 step).
fn scaled_config(e: &Experiment, scale: f64) -> Result<Config> {
    let mut cfg =
        Config::from_toml(e.toml).with_context(|| format!("preset experiments/{}.toml", e.name))?;
    if scale != 1.0 {
        let dt = cfg.model.dt_ms;
        for p in &mut cfg.phases {
            p.duration_ms = ((p.duration_ms * scale / dt).round().max(1.0)) * dt;
        }
        cfg.validate()?;
    }
    Ok(cfg)
}

/// Writes `text` unless the file already holds it (a resumed suite keeps
/// its configs; a changed preset or scale is written anew).
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A run directory counts as complete when its summary.json reads, holds
/// the job's config and was made by the requested backend (the child
/// renames it into place only when it finished). A changed preset or
/// `--scale` therefore redoes the run.
fn is_complete(job: &RunJob, backend: Backend) -> bool {
    match rundir::read_summary(&job.dir) {
        Ok(s) if s.config != job.expected => false,
        Ok(s) => match backend {
            Backend::Auto => true,
            Backend::Native => s.backend == "native",
            Backend::Nest => s.backend == "nest",
        },
        Err(_) => false,
    }
}

/// Runs the jobs in `opts.jobs` parallel child processes; returns the
/// failed ones (with where their log is).
fn run_all(jobs: &[RunJob], opts: &ReproduceOptions, observer: &dyn Observer) -> Vec<String> {
    let next = Mutex::new(0usize);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.min(jobs.len().max(1)) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("job counter");
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(job) = jobs.get(i) else { break };
                let t0 = std::time::Instant::now();
                match run_child(job, opts) {
                    Ok(()) => observer.note(&format!(
                        "done {} seed {} ({:.1} s)",
                        job.experiment,
                        job.seed,
                        t0.elapsed().as_secs_f64()
                    )),
                    Err(e) => {
                        let msg = format!(
                            "{} seed {} failed: {e:#} (log: {})",
                            job.experiment,
                            job.seed,
                            job.log.display()
                        );
                        observer.note(&msg);
                        failed.lock().expect("failure list").push(msg);
                    }
                }
            });
        }
    });
    failed.into_inner().unwrap_or_default()
}

/// One child `seqlearn-nest simulate`; its stderr goes to the job's log.
fn run_child(job: &RunJob, opts: &ReproduceOptions) -> Result<()> {
    let log = std::fs::File::create(&job.log)
        .with_context(|| format!("cannot create {}", job.log.display()))?;
    let backend = match opts.backend {
        Backend::Native => "native",
        Backend::Nest => "nest",
        Backend::Auto => "auto",
    };
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("simulate")
        .arg("--config")
        .arg(&job.config)
        .arg("--seed")
        .arg(job.seed.to_string())
        .arg("--backend")
        .arg(backend)
        .arg("--out")
        .arg(&job.dir)
        .arg("--force")
        .arg("--quiet");
    if !job.full_analysis {
        cmd.arg("--no-analysis");
    }
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .status()
        .with_context(|| format!("cannot start {}", opts.exe.display()))?;
    if !status.success() {
        anyhow::bail!("exit status {status}");
    }
    Ok(())
}

/// Measures every complete run and fills the rows and figure data.
fn collect<'a>(
    opts: &ReproduceOptions,
    rep: &mut Reproduction,
    jobs: impl Iterator<Item = &'a RunJob>,
    observer: &dyn Observer,
) -> Result<()> {
    let mut jobs: Vec<&RunJob> = jobs.collect();
    jobs.sort_by_key(|j| (j.experiment.clone(), j.seed));
    for job in jobs {
        let Ok(summary) = rundir::read_summary(&job.dir) else {
            continue;
        };
        let result = match tasks::task_measures(&job.dir) {
            Ok(r) => r,
            Err(e) => {
                observer.note(&format!(
                    "{} seed {}: measures failed: {e:#}",
                    job.experiment, job.seed
                ));
                rep.failed.push(format!(
                    "{} seed {}: measures: {e:#}",
                    job.experiment, job.seed
                ));
                continue;
            }
        };
        let mut measures = result.measures;
        measures.extend(sequence_readouts(&summary));
        rep.rows.extend(measures.into_iter().map(|m| Row {
            experiment: job.experiment.clone(),
            seed: job.seed,
            backend: summary.backend.clone(),
            measure: m,
        }));
        if let Some(e) = rep
            .experiments
            .iter_mut()
            .find(|e| e.name == job.experiment)
        {
            if e.traces.is_empty() {
                e.traces = result.traces;
            }
        }
    }
    let _ = opts;
    Ok(())
}

/// The sequence readouts of a pattern run (analysis.json, model.md §7), as
/// rows: protocol `original` (plain least squares) or `ridge_cv`, features
/// `network` or `stimulus`, measure `r`, phase = the names of the pooled
/// test phases, or of the fit phases with ` (in-sample)`.
fn sequence_readouts(summary: &rundir::Summary) -> Vec<Measure> {
    let mut out = Vec::new();
    let Some(readouts) = summary
        .analysis
        .as_ref()
        .and_then(|a| a.get("readout"))
        .and_then(|r| r.as_array())
    else {
        return out;
    };
    let names = |key: &str, r: &serde_json::Value| -> String {
        let v: Vec<String> = r
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_u64())
            .map(|i| {
                summary
                    .config
                    .phases
                    .get(i as usize)
                    .map_or(i.to_string(), |p| p.name.clone())
            })
            .collect();
        v.join("+")
    };
    for r in readouts {
        let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let protocol = if s("protocol") == "ridge_cv" {
            "ridge_cv"
        } else {
            "original"
        };
        let features = if s("features") == "network" {
            "network"
        } else {
            "stimulus"
        };
        let fit = format!("{} (in-sample)", names("fit_phases", r));
        let test = match names("test_phases", r) {
            t if t.is_empty() => "test".to_string(),
            t => t,
        };
        for (key, phase) in [("fit", fit.as_str()), ("test", test.as_str())] {
            for t in r.get(key).and_then(|v| v.as_array()).into_iter().flatten() {
                out.push(Measure {
                    protocol: protocol.into(),
                    features: features.into(),
                    target: format!(
                        "sequence {}",
                        t.get("target").and_then(|v| v.as_str()).unwrap_or("?")
                    ),
                    measure: "r".into(),
                    phase: phase.into(),
                    value: t.get("r").and_then(|v| v.as_f64()).unwrap_or(f64::NAN),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_has_a_header() {
        for e in experiments() {
            let cfg = Config::from_toml(e.toml).unwrap_or_else(|err| panic!("{}: {err:#}", e.name));
            assert!(
                description(e.toml).len() > 80,
                "{} has no header comment",
                e.name
            );
            let small = scaled_config(&e, 0.01).unwrap();
            assert!(small.total_ms() < cfg.total_ms());
        }
    }

    #[test]
    fn unknown_experiment_is_a_usage_error() {
        let err = select(Some(&["xor".into(), "nope".into()])).err().unwrap();
        assert!(crate::error::is_usage(&err));
        assert!(format!("{err:#}").contains("nope"));
        assert_eq!(select(Some(&["multi".into()])).unwrap().len(), 1);
    }
}
