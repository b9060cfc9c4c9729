//! The NEST backend under MPI (issue 14): `mpirun` launches of the binary.
//!
//! A run gives the same result on any number of ranks and threads: every
//! neuron draws from its own random stream (`kernels::draw_stream`, keyed by
//! NEST's `rng_seed` and its node id), and the driver gathers recordings and
//! learned state from the ranks that own the neurons. These tests need
//! the MPI NEST of `bash scripts/setup.sh --mpi` and `mpirun`: without them
//! they say so and pass, unless `SEQLEARN_REQUIRE_NEST_MPI=1`
//! (`scripts/test.sh` sets it, so in CI they run and never skip).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use seqlearn_nest::engine::nest::driver::mpi_available;
use seqlearn_nest::rundir::Summary;

const BIN: &str = env!("CARGO_BIN_EXE_seqlearn-nest");

/// Whether the MPI tests can run here (else skip, or fail when required).
fn mpi_ready() -> bool {
    let required = std::env::var("SEQLEARN_REQUIRE_NEST_MPI").is_ok_and(|v| v == "1");
    let mpirun = Command::new("mpirun").arg("--version").output().is_ok();
    if mpi_available() && mpirun {
        return true;
    }
    assert!(
        !required,
        "SEQLEARN_REQUIRE_NEST_MPI=1 but {}",
        if mpirun {
            "the crate was built without an MPI NEST (bash scripts/setup.sh --mpi, then rebuild)"
        } else {
            "mpirun is missing (bash scripts/setup.sh --mpi)"
        }
    );
    eprintln!("MPI NEST or mpirun not available, skipping");
    false
}

/// `mpirun -np N seqlearn-nest ARGS` (as root too; more ranks than cores
/// allowed). `None` ranks: the plain process.
fn launch(ranks: Option<usize>, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = match ranks {
        Some(n) => {
            let mut c = Command::new("mpirun");
            c.args(["--oversubscribe", "-np", &n.to_string(), BIN]);
            c
        }
        None => Command::new(BIN),
    };
    cmd.args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMP_WAIT_POLICY", "passive")
        .env_remove("SEQLEARN_NEST_MPI");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot start the binary or mpirun")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seqlearn-mpi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Quickstart, shortened: every neuron's traces and 20 synapses recorded.
const QUICK: &[&str] = &[
    "--config",
    "experiments/quickstart.toml",
    "--train",
    "2000",
    "--test",
    "500",
    "--no-analysis",
    "--quiet",
];

fn simulate(ranks: Option<usize>, threads: usize, seed: u64, out: &Path, extra: &[&str]) {
    let (t, s) = (threads.to_string(), seed.to_string());
    let o = out.to_str().unwrap();
    let mut args = vec![
        "simulate",
        "--backend",
        "nest",
        "--threads",
        &t,
        "--exact-threads", // the thread count under test, however busy the cores
        "--seed",
        &s,
    ];
    args.extend_from_slice(QUICK);
    args.extend_from_slice(&["--out", o]);
    args.extend_from_slice(extra);
    ok(
        &launch(ranks, &args, &[]),
        &format!("simulate {ranks:?} x {threads}"),
    );
}

/// The CSV files of a run directory, by name.
fn csv_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn summary(dir: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn two_vps_give_byte_identical_runs_however_split() {
    if !mpi_ready() {
        return;
    }
    let root = tmp("split");
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    simulate(Some(2), 1, 5, &a, &[]);
    simulate(Some(1), 2, 5, &b, &[]);
    simulate(None, 2, 5, &c, &[]); // the default kernel (no MPI), 2 threads
    let files = csv_files(&a);
    for f in [
        "spikes.csv",
        "neuron_traces.csv",
        "synapse_traces.csv",
        "synapses.csv",
        "neurons.csv",
    ] {
        assert!(files.contains_key(f), "{f} missing in the 2-rank run");
    }
    let spikes = String::from_utf8_lossy(&files["spikes.csv"])
        .lines()
        .count();
    assert!(spikes > 100, "only {spikes} spike lines");
    for (name, other) in [("1 rank x 2 threads", &b), ("plain, 2 threads", &c)] {
        let theirs = csv_files(other);
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (f, bytes) in &files {
            assert!(
                bytes == &theirs[f],
                "{f} differs between 2 ranks x 1 thread and {name}"
            );
        }
    }
    let p = |d: &Path| {
        let s = summary(d).parallel;
        (s.ranks, s.threads_per_rank, s.virtual_processes)
    };
    assert_eq!(p(&a), (2, 1, 2));
    assert_eq!(p(&b), (1, 2, 2));
    assert_eq!(p(&c), (1, 2, 2));
    // rank 0 alone wrote: no second directory, no staging left behind
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 3);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn one_vp_gives_the_same_run_and_another_seed_another() {
    // every neuron draws from its own stream: the VP count does not matter;
    // the comparison can fail (another seed is another simulation)
    if !mpi_ready() {
        return;
    }
    let root = tmp("vp1");
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    simulate(Some(2), 1, 5, &a, &[]);
    simulate(Some(1), 1, 5, &b, &[]);
    simulate(Some(2), 1, 6, &c, &[]);
    let (fa, fb) = (csv_files(&a), csv_files(&b));
    for f in ["spikes.csv", "synapses.csv", "neurons.csv"] {
        assert!(fa[f] == fb[f], "{f} differs between 2 VPs and 1 VP");
    }
    assert_ne!(fa["spikes.csv"], csv_files(&c)["spikes.csv"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn verify_passes_on_two_ranks() {
    if !mpi_ready() {
        return;
    }
    let out = launch(Some(2), &["verify", "--threads", "1"], &[]);
    ok(&out, "mpirun -np 2 verify");
    let text = String::from_utf8_lossy(&out.stdout);
    // rank 0 prints the table once
    assert_eq!(
        text.matches("verify: NEST and native agree").count(),
        1,
        "{text}"
    );
}

/// Cell by cell: equal text, or numbers within `tol`.
fn assert_csv_close(a: &[u8], b: &[u8], tol: f64, what: &str) {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len(), "{what}: line count");
    let mut worst = 0.0f64;
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        let (cx, cy): (Vec<_>, Vec<_>) = (x.split(',').collect(), y.split(',').collect());
        assert_eq!(cx.len(), cy.len(), "{what}: line {i}");
        for (p, q) in cx.iter().zip(&cy) {
            if p == q {
                continue;
            }
            match (p.parse::<f64>(), q.parse::<f64>()) {
                (Ok(u), Ok(v)) => worst = worst.max((u - v).abs()),
                _ => panic!("{what}: line {i}: {p} vs {q}"),
            }
        }
    }
    assert!(
        worst <= tol,
        "{what}: largest deviation {worst:e} > {tol:e}"
    );
}

#[test]
fn forced_spike_replay_on_two_ranks_equals_the_native_engine() {
    if !mpi_ready() {
        return;
    }
    let root = tmp("replay");
    let (native, nest) = (root.join("native"), root.join("nest"));
    let n = native.to_str().unwrap();
    let mut args = vec!["simulate", "--backend", "native", "--seed", "7", "--out", n];
    args.extend_from_slice(QUICK);
    ok(&launch(None, &args, &[]), "native run");
    let spikes = native.join("spikes.csv");
    let forced = ["--replay", n, "--forced-spikes", spikes.to_str().unwrap()];
    simulate(Some(2), 1, 7, &nest, &forced);
    let (a, b) = (csv_files(&native), csv_files(&nest));
    assert_eq!(a["spikes.csv"], b["spikes.csv"]);
    for f in [
        "neuron_traces.csv",
        "synapse_traces.csv",
        "synapses.csv",
        "neurons.csv",
    ] {
        assert_csv_close(&a[f], &b[f], 1e-12, f);
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_native_engine_is_refused_on_two_ranks() {
    if !mpi_ready() {
        return;
    }
    let root = tmp("native");
    let o = root.join("x");
    let mut args = vec![
        "simulate",
        "--backend",
        "native",
        "--out",
        o.to_str().unwrap(),
    ];
    args.extend_from_slice(QUICK);
    let out = launch(Some(2), &args, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the native engine is one process"), "{err}");
    assert!(!o.exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_bad_kernel_selection_is_a_usage_error() {
    // no MPI needed: the selection is checked before anything is loaded
    let root = tmp("select");
    let o = root.join("x");
    let mut args = vec![
        "simulate",
        "--backend",
        "nest",
        "--out",
        o.to_str().unwrap(),
    ];
    args.extend_from_slice(QUICK);
    let out = launch(None, &args, &[("SEQLEARN_NEST_MPI", "yes")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SEQLEARN_NEST_MPI=\"yes\""), "{err}");
    assert!(!o.exists());
    let _ = std::fs::remove_dir_all(&root);
}
