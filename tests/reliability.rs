//! Reliability (docs/reliability.md, issue 12): one test per class of bad
//! input, run against the CLI binary end to end — exit 2 with a message that
//! names the key or file, no panic or abort, no hang, nothing deleted that
//! the tool did not create, no `DIR` that is not a complete run — plus
//! property tests of the config and run-directory readers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use seqlearn_nest::engine::native::NativeEngine;
use seqlearn_nest::engine::Engine;
use seqlearn_nest::error::is_usage;
use seqlearn_nest::model::config::Config;
use seqlearn_nest::run::Prepared;

const BIN: &str = env!("CARGO_BIN_EXE_seqlearn-nest");

const TINY: &str = r#"
seed = 3
[network]
grid = [2, 3]
k_min = 2
k_max = 4
n_inputs = 12
n_conn = 10
[input]
t_noise_range_ms = [100.0, 200.0]
t_pattern_ms = [100.0]
[[phases]]
name = "train"
role = "train"
duration_ms = 1500.0
[[phases]]
name = "test"
role = "test"
duration_ms = 500.0
mode = "alternating"
[record]
neurons = { random = 5 }
synapses = { random = 4 }
dt_rec_synapses_ms = 5.0
"#;

/// Runs the binary in `cwd`; every bad input must finish within 15 s.
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    let t0 = Instant::now();
    let o = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "{args:?} took {:?}",
        t0.elapsed()
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, no panic, every needle in the message.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(o)
    );
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
        Fixture { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        run_in(self.path(), args)
    }

    /// `simulate -c tiny.toml --out OUT -q --no-analysis EXTRA`.
    fn simulate(&self, out: &str, extra: &[&str]) -> Output {
        let mut a = vec![
            "simulate",
            "-c",
            "tiny.toml",
            "--out",
            out,
            "-q",
            "--no-analysis",
        ];
        a.extend_from_slice(extra);
        self.run(&a)
    }

    /// A config file of TINY plus `extra` TOML.
    fn config(&self, name: &str, extra: &str) -> String {
        std::fs::write(self.path().join(name), format!("{TINY}\n{extra}")).unwrap();
        name.to_string()
    }

    /// The names in the fixture directory.
    fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn is_complete_run(dir: &Path) -> bool {
    seqlearn_nest::rundir::marker::read_marker(dir).is_some_and(|m| m.complete)
        && dir.join("summary.json").is_file()
        && dir.join("spikes.csv").is_file()
}

#[test]
fn force_never_deletes_what_the_tool_did_not_write() {
    let f = Fixture::new();
    let thesis = f.path().join("thesis");
    std::fs::create_dir(&thesis).unwrap();
    std::fs::write(thesis.join("ch1.tex"), "precious").unwrap();
    refused(
        &f.simulate("thesis", &["--force"]),
        &["thesis", "not a finished"],
    );
    assert_eq!(
        std::fs::read_to_string(thesis.join("ch1.tex")).unwrap(),
        "precious"
    );
    // `.` with --force: the current directory is left alone.
    let before = f.listing();
    refused(&f.simulate(".", &["--force"]), &["--out"]);
    refused(&f.simulate("./", &["--force"]), &["--out"]);
    assert_eq!(f.listing(), before);
    // A file (or a device) as --out: refused before the simulation.
    std::fs::write(f.path().join("notes.txt"), "x").unwrap();
    for out in ["notes.txt", "/dev/null"] {
        let o = f.simulate(out, &["--force"]);
        refused(&o, &[out, "not a directory"]);
    }
    assert_eq!(
        std::fs::read_to_string(f.path().join("notes.txt")).unwrap(),
        "x"
    );
    assert!(!f.path().join("notes.txt.partial").exists());
    // A foreign DIR.partial is not removed either.
    std::fs::create_dir(f.path().join("mine.partial")).unwrap();
    std::fs::write(f.path().join("mine.partial/keep"), "x").unwrap();
    refused(&f.simulate("mine", &[]), &["mine.partial"]);
    assert!(f.path().join("mine.partial/keep").exists());
}

#[test]
fn trailing_slashes_and_force_on_a_finished_run_work() {
    let f = Fixture::new();
    ok(&f.simulate("runs/a/", &[]));
    let run = f.path().join("runs/a");
    assert!(is_complete_run(&run));
    refused(&f.simulate("runs/a//", &[]), &["--force"]);
    ok(&f.simulate("runs/a/", &["--force", "--seed", "9"]));
    assert!(std::fs::read_to_string(run.join("summary.json"))
        .unwrap()
        .contains("\"seed\": 9"));
    let left: Vec<String> = std::fs::read_dir(f.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["a"], "no .partial, .lock or .replaced left");
}

#[test]
fn unwritable_out_is_exit_2() {
    let f = Fixture::new();
    refused(&f.simulate("/proc/no/such", &[]), &["/proc/no/such"]);
    std::fs::write(f.path().join("plain"), "x").unwrap();
    refused(&f.simulate("plain/sub", &[]), &["plain/sub"]);
}

#[test]
fn two_concurrent_runs_to_one_out_never_mix() {
    let f = Fixture::new();
    let spawn = |seed: &str| {
        Command::new(BIN)
            .args([
                "simulate",
                "-c",
                "tiny.toml",
                "--out",
                "same",
                "-q",
                "--no-analysis",
            ])
            .args(["--seed", seed, "--train", "300000"])
            .current_dir(f.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1"), spawn("2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.iter().all(|c| matches!(c, Some(0) | Some(2))),
        "{codes:?}: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    let run = f.path().join("same");
    assert!(is_complete_run(&run));
    // The files of one run: replaying it reproduces its spikes exactly.
    ok(&f.run(&[
        "simulate",
        "--replay",
        "same",
        "--out",
        "again",
        "-q",
        "--no-analysis",
    ]));
    assert_eq!(
        std::fs::read(run.join("spikes.csv")).unwrap(),
        std::fs::read(f.path().join("again/spikes.csv")).unwrap()
    );
    for loser in [&a, &b].iter().filter(|o| !o.status.success()) {
        refused(loser, &["another seqlearn-nest run"]);
    }
    assert!(!f.path().join("same.partial").exists() && !f.path().join("same.lock").exists());
}

#[test]
fn huge_configs_are_refused_up_front_naming_the_key() {
    let f = Fixture::new();
    let cases: &[(&str, &[&str])] = &[
        ("[network]\nlambda = 1e-12\n", &["network.lambda"]),
        ("[network]\nk_max = 100000000000\n", &["k_max"]),
        ("[input]\nn_patterns = 1000000000000\n", &["n_patterns"]),
        ("[input]\nr_input_hz = 1e300\n", &["r_input_hz"]),
        ("[input]\nt_pattern_ms = [1e300]\n", &["t_pattern_ms"]),
        (
            "[input]\ntime_warp_range = [1e300, 1e300]\n",
            &["time_warp_range"],
        ),
        (
            "[input]\ntime_warp_range = [1e-300, 1.0]\n",
            &["time_warp_range"],
        ),
        (
            "[input]\nt_noise_range_ms = [1e300, 1e300]\n",
            &["t_noise_range_ms"],
        ),
    ];
    for (i, (extra, needles)) in cases.iter().enumerate() {
        // Replace the tables TINY already has by a config of its own.
        let name = format!("c{i}.toml");
        std::fs::write(f.path().join(&name), extra).unwrap();
        let o = f.run(&["grid", "-c", &name]);
        refused(&o, needles);
        assert!(
            !stderr(&o).contains("0000000000000000"),
            "short numbers: {}",
            stderr(&o)
        );
    }
    refused(&f.run(&["grid", "--grid", "1000x1000"]), &["network.grid"]);
    refused(&f.run(&["grid", "--inputs", "10000000"]), &["n_inputs"]);
    refused(&f.simulate("big", &["--train", "1e300"]), &["duration_ms"]);
    refused(&f.simulate("big", &["--train", "1e15"]), &["duration_ms"]);
    refused(
        &f.simulate("big", &["--max-memory", "1K"]),
        &["--max-memory"],
    );
    refused(
        &f.simulate("big", &["--max-memory", "lots"]),
        &["--max-memory"],
    );
    assert!(!f.path().join("big").exists() && !f.path().join("big.partial").exists());
    // A lambda that cannot reach the wanted pairs ends the loop with a message.
    std::fs::write(
        f.path().join("far.toml"),
        "[network]\nlambda = 100\nn_conn = 100000\n",
    )
    .unwrap();
    refused(
        &f.run(&["grid", "-c", "far.toml"]),
        &["network.lambda", "n_conn"],
    );
    // The estimate is printed.
    let o = f.run(&["grid", "-c", "tiny.toml"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("neurons"));
}

#[test]
fn unstable_parameters_are_refused_with_the_rule() {
    let f = Fixture::new();
    for (extra, key) in [
        ("[model]\ntau_decay_ms = 0.4\n", "model.tau_decay_ms"),
        ("[model]\ntau_rise_ms = 0.3\n", "model.tau_rise_ms"),
        ("[model]\neta = 1e200\n", "model.eta"),
        ("[model]\neta = 2.0\n", "model.eta"),
        (
            "[model]\nvariance_tracking = false\neta = 1e200\n",
            "model.eta",
        ),
        ("[model]\nr_max_hz = 1e9\n", "model.r_max_hz"),
    ] {
        let name = f.config("m.toml", extra);
        refused(&f.simulate_with(&name), &[key]);
    }
}

#[test]
fn the_largest_eta_of_the_eta_n_rule_stays_finite() {
    // the original ran the eta/n rule with eta = 50 (pattern5); at the top of
    // the allowed range the native run still ends with finite state (its
    // guard would stop it with exit 2)
    let f = Fixture::new();
    let name = f.config(
        "m.toml",
        "[model]\nvariance_tracking = false\neta = 1000.0\n",
    );
    ok(&f.simulate_to(&name, "eta-top"));
}

#[test]
fn devices_and_fifos_are_refused_not_read_forever() {
    // /dev/zero never ends: as a config, a forced-spike file, an input spike
    // file, or linked into a replayed run directory it must be an exit 2
    let f = Fixture::new();
    refused(
        &f.run(&["simulate", "-c", "/dev/zero", "--out", "z1", "-q"]),
        &["/dev/zero", "not a regular file"],
    );
    let cfg = f.config("t.toml", "");
    refused(
        &f.run(&[
            "simulate",
            "-c",
            &cfg,
            "--forced-spikes",
            "/dev/zero",
            "--out",
            "z2",
            "-q",
        ]),
        &["/dev/zero", "not a regular file"],
    );
    // the paper defaults otherwise: refused before anything runs
    std::fs::write(
        f.path().join("sf.toml"),
        "[input]\nspike_file = \"/dev/zero\"\n",
    )
    .unwrap();
    refused(
        &f.simulate_with("sf.toml"),
        &["input.spike_file", "not a regular file"],
    );
    let base = base_run(&f);
    for file in ["phases.csv", "summary.json"] {
        let dir = f.path().join(format!("dev-{file}"));
        copy_run(&base, &dir);
        std::fs::remove_file(dir.join(file)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join(file)).unwrap();
        let o = f.run(&[
            "simulate",
            "--replay",
            dir.to_str().unwrap(),
            "--out",
            "z3",
            "-q",
        ]);
        refused(&o, &[file, "not a regular file"]);
    }
}

impl Fixture {
    fn simulate_to(&self, cfg: &str, out: &str) -> Output {
        self.run(&["simulate", "-c", cfg, "--out", out, "-q", "--no-analysis"])
    }

    fn simulate_with(&self, cfg: &str) -> Output {
        self.run(&[
            "simulate",
            "-c",
            cfg,
            "--out",
            "never",
            "-q",
            "--no-analysis",
        ])
    }
}

#[test]
fn native_engine_stops_on_non_finite_state_naming_neuron_and_time() {
    let cfg = Config::from_toml(TINY).unwrap();
    let mut prep = Prepared::new(cfg, None, None).unwrap();
    let target = prep.network.synapses[3].target;
    prep.network.synapses[3].w0 = f64::NAN;
    let Err(err) = NativeEngine.run(&prep.job(1), &mut |_| {}) else {
        panic!("NaN state must be an error");
    };
    let msg = format!("{err:#}");
    assert!(is_usage(&err), "{msg}");
    assert!(
        msg.contains("non-finite") && msg.contains("t = 1000 ms"),
        "{msg}"
    );
    assert!(msg.contains(&format!("neuron {target}")), "{msg}");
}

#[test]
fn nested_unknown_keys_and_wrong_array_lengths_are_errors() {
    let f = Fixture::new();
    for (text, needle) in [
        ("[network]\ngrid = [2, 2, 2]\n", "grid"),
        ("[record]\nsynapses = { random = 1, extra = 2 }\n", "synapses"),
        ("[input]\ntime_warp_range = [1.0]\n", "time_warp_range"),
        (
            "[[phases]]\nname = \"t\"\nrole = \"train\"\nduration_ms = 10.0\nt_noise_range_ms = [1.0, 2.0, 3.0]\n",
            "t_noise_range_ms",
        ),
    ] {
        std::fs::write(f.path().join("k.toml"), text).unwrap();
        refused(&f.simulate_with("k.toml"), &[needle]);
    }
}

/// A finished tiny run in `f` named `base`.
fn base_run(f: &Fixture) -> PathBuf {
    ok(&f.simulate("base", &[]));
    f.path().join("base")
}

/// Sets column `col` of data row `row` (1-based) of `file` in `dir`.
fn set_cell(dir: &Path, file: &str, col: &str, row: usize, value: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let c = lines[0].iter().position(|h| h == col).unwrap();
    lines[row][c] = value.to_string();
    let out: Vec<String> = lines.iter().map(|l| l.join(",")).collect();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn replays_check_every_cross_file_reference() {
    let f = Fixture::new();
    let base = base_run(&f);
    type Edit = (
        &'static str,
        &'static str,
        usize,
        &'static str,
        &'static str,
    );
    let edits: &[Edit] = &[
        ("phases.csv", "phase", 1, "99", "phases.csv"),
        ("phases.csv", "pattern", 2, "7", "phases.csv"),
        ("phases.csv", "end_ms", 1, "0", "phases.csv"),
        ("phases.csv", "sequence", 2, "5", "sequence"),
        ("sources.csv", "U", 3, "5", "sources.csv"),
        ("sources.csv", "D_ms", 20, "-3", "sources.csv"),
        ("sources.csv", "F_ms", 20, "nan", "sources.csv"),
        ("synapses.csv", "w_initial", 3, "nan", "synapses.csv"),
        ("synapses.csv", "w_initial", 3, "1e308", "synapses.csv"),
        ("neurons.csv", "bias_initial", 3, "inf", "neurons.csv"),
        (
            "circuit_pairs.csv",
            "pre_circuit",
            1,
            "40",
            "circuit_pairs.csv",
        ),
        (
            "circuit_pairs.csv",
            "pre_circuit",
            1,
            "0",
            "circuit_pairs.csv",
        ),
        ("circuits.csv", "y", 2, "0", "circuits.csv"),
        (
            "patterns.csv",
            "pattern",
            1,
            "1000000000000",
            "patterns.csv",
        ),
        ("patterns.csv", "channel", 1, "500", "patterns.csv"),
    ];
    for (i, &(file, col, row, value, needle)) in edits.iter().enumerate() {
        let dir = f.path().join(format!("r{i}"));
        copy_run(&base, &dir);
        set_cell(&dir, file, col, row, value);
        let o = f.run(&[
            "simulate",
            "--replay",
            dir.to_str().unwrap(),
            "--out",
            "o",
            "-q",
        ]);
        refused(&o, &[needle]);
        assert!(!f.path().join("o").exists());
    }
    // U above 1 is the model's own draw (N(0.5, 0.25^2) clipped at 0 only):
    // a replay keeps it
    let dir = f.path().join("u-above-1");
    copy_run(&base, &dir);
    set_cell(&dir, "sources.csv", "U", 3, "1.5"); // source 2
    let syn = std::fs::read_to_string(dir.join("synapses.csv")).unwrap();
    let rows: Vec<usize> = syn
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| l.split(',').nth(1) == Some("2"))
        .map(|(i, _)| i)
        .collect();
    assert!(!rows.is_empty());
    for row in rows {
        set_cell(&dir, "synapses.csv", "U", row, "1.5");
    }
    let o = f.run(&[
        "simulate",
        "--replay",
        dir.to_str().unwrap(),
        "--out",
        "u-ok",
        "-q",
    ]);
    ok(&o);
    // An orphan neuron (in no circuit), empty tables.
    let dir = f.path().join("orphan");
    copy_run(&base, &dir);
    let n = std::fs::read_to_string(dir.join("neurons.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let s = std::fs::read_to_string(dir.join("sources.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let append = |file: &str, line: String| {
        let p = dir.join(file);
        let t = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, t + &line).unwrap();
    };
    append("neurons.csv", format!("{n},0,0,0\n"));
    append("sources.csv", format!("{s},neuron,{n},0.5,100,5\n"));
    refused(
        &f.run(&["simulate", "--replay", "orphan", "--out", "o", "-q"]),
        &["no circuit"],
    );
    for (file, needle) in [
        ("phases.csv", "no segments"),
        ("patterns.csv", "patterns.csv"),
    ] {
        let dir = f.path().join(format!("empty-{file}"));
        copy_run(&base, &dir);
        let header = std::fs::read_to_string(dir.join(file)).unwrap();
        std::fs::write(
            dir.join(file),
            header.lines().next().unwrap().to_string() + "\n",
        )
        .unwrap();
        let o = f.run(&[
            "simulate",
            "--replay",
            dir.to_str().unwrap(),
            "--out",
            "o",
            "-q",
        ]);
        refused(&o, &[needle]);
    }
}

#[test]
fn replay_overrides_and_extensions_must_be_explicit() {
    let f = Fixture::new();
    base_run(&f);
    let replay = |extra: &[&str]| {
        let mut a = vec![
            "simulate",
            "--replay",
            "base",
            "--out",
            "o",
            "-q",
            "--no-analysis",
        ];
        a.extend_from_slice(extra);
        f.run(&a)
    };
    refused(&replay(&["--grid", "5x5"]), &["--grid", "2x3"]);
    refused(&replay(&["--inputs", "50"]), &["--inputs"]);
    refused(&replay(&["--test", "1000"]), &["--extend-replay"]);
    ok(&replay(&["--test", "1000", "--extend-replay"]));
    // An unfinished run is not a run.
    copy_run(&f.path().join("base"), &f.path().join("half.partial"));
    refused(
        &f.run(&["simulate", "--replay", "half.partial", "--out", "p", "-q"]),
        &["unfinished"],
    );
    refused(&f.run(&["plot", "half.partial"]), &["unfinished"]);
}

#[test]
fn minor_flags_and_plot_inputs_are_exit_2() {
    let f = Fixture::new();
    refused(&f.simulate("t", &["--threads", "0"]), &["--threads"]);
    refused(
        &f.simulate("t", &["--threads", "4294967296"]),
        &["--threads"],
    );
    refused(&f.run(&["verify", "--threads", "0"]), &["--threads"]);
    refused(
        &f.run(&["bench", "--cases", "bogus"]),
        &["--cases", "bogus"],
    );
    refused(
        &f.run(&["bench", "--grids", "0x0", "--scaling-only"]),
        &["--grids"],
    );
    refused(&f.run(&["bench", "--repeat", "0"]), &["--repeat"]);
    let base = base_run(&f);
    for (name, edit) in [
        ("nospikes", "rm"),
        ("nanspikes", "sender,time_ms\n0,NaN\n"),
        ("badspikes", "garbage\n"),
    ] {
        let dir = f.path().join(name);
        copy_run(&base, &dir);
        if edit == "rm" {
            std::fs::remove_file(dir.join("spikes.csv")).unwrap();
        } else {
            std::fs::write(dir.join("spikes.csv"), edit).unwrap();
        }
        refused(&f.run(&["plot", name]), &["spikes.csv"]);
    }
    let dir = f.path().join("badsummary");
    copy_run(&base, &dir);
    std::fs::write(dir.join("summary.json"), "{").unwrap();
    refused(&f.run(&["plot", "badsummary"]), &["summary.json"]);
    // No network files: the neuron count inferred from one huge sender.
    let dir = f.path().join("huge");
    copy_run(&base, &dir);
    for file in ["circuits.csv", "neurons.csv", "summary.json"] {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("spikes.csv"), "sender,time_ms\n999999999,5\n").unwrap();
    refused(&f.run(&["plot", "huge", "--analyse"]), &["spikes.csv"]);
    // The report is titled by the run's name, not its staging name.
    ok(&f.run(&["simulate", "-c", "tiny.toml", "--out", "titled", "-q"]));
    let html = std::fs::read_to_string(f.path().join("titled/report.html")).unwrap();
    assert!(html.contains("<code>titled</code>") && !html.contains(".partial"));
}

/// Values that break readers: huge, negative, non-finite, empty, text.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-1".to_string()),
        Just("".to_string()),
        Just("x".to_string()),
        Just("1e300".to_string()),
        Just("18446744073709551615".to_string()),
        Just("99999999999".to_string()),
        (0u32..50).prop_map(|v| v.to_string()),
        (-1e3f64..1e3).prop_map(|v| v.to_string()),
    ]
}

/// Config keys with the TOML types they take.
const KEYS: &[(&str, &str)] = &[
    ("network", "grid"),
    ("network", "k_min"),
    ("network", "k_max"),
    ("network", "n_inputs"),
    ("network", "lambda"),
    ("network", "n_conn"),
    ("network", "p_conn"),
    ("model", "tau_decay_ms"),
    ("model", "tau_rise_ms"),
    ("model", "eta"),
    ("model", "r_max_hz"),
    ("input", "r_input_hz"),
    ("input", "n_patterns"),
    ("input", "t_pattern_ms"),
    ("input", "t_noise_range_ms"),
    ("input", "time_warp_range"),
    ("record", "dt_rec_ms"),
    ("record", "neurons"),
];

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty().prop_map(|v| if v.parse::<f64>().is_ok() {
            v
        } else {
            format!("{v:?}")
        }),
        (nasty(), nasty()).prop_map(|(a, b)| format!("[{}, {}]", num(&a), num(&b))),
        proptest::collection::vec(0u64..5, 0..4).prop_map(|v| format!("{v:?}")),
        (0u64..100).prop_map(|v| format!("{{ random = {v} }}")),
    ]
}

fn num(v: &str) -> String {
    if v.parse::<f64>().is_ok() && !v.is_empty() {
        v.to_string()
    } else {
        "1".into()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any config text: a config (whose estimate can be computed) or a usage
    /// error; never a panic.
    #[test]
    fn config_reader_never_panics(edits in proptest::collection::vec((0..KEYS.len(), toml_value()), 1..4)) {
        let mut text = String::new();
        for (k, v) in &edits {
            let (table, key) = KEYS[*k];
            text.push_str(&format!("[{table}]\n{key} = {v}\n"));
        }
        match Config::from_toml(&text) {
            Ok(cfg) => {
                let e = seqlearn_nest::model::budget::Estimate::of(&cfg);
                prop_assert!(e.bytes() >= 0.0);
            }
            Err(e) => prop_assert!(is_usage(&e), "{e:#}"),
        }
    }
}

/// The files and columns the replay readers take.
const CELLS: &[(&str, &str)] = &[
    ("circuits.csv", "k"),
    ("circuits.csv", "first_neuron"),
    ("circuits.csv", "x"),
    ("neurons.csv", "circuit"),
    ("neurons.csv", "bias_initial"),
    ("sources.csv", "U"),
    ("sources.csv", "index"),
    ("circuit_pairs.csv", "post_circuit"),
    ("synapses.csv", "source"),
    ("synapses.csv", "target"),
    ("synapses.csv", "w_initial"),
    ("synapses.csv", "D_ms"),
    ("phases.csv", "start_ms"),
    ("phases.csv", "end_ms"),
    ("phases.csv", "pattern"),
    ("phases.csv", "warp"),
    ("patterns.csv", "pattern"),
    ("patterns.csv", "channel"),
    ("patterns.csv", "time_ms"),
    ("input_spikes.csv", "channel"),
    ("input_spikes.csv", "time_ms"),
];

fn replay_base() -> &'static (tempfile::TempDir, PathBuf) {
    static BASE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let f = Fixture::new();
        let base = base_run(&f);
        (f.dir, base)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any cell of a run directory replaced: the replay readers return a
    /// network and input or a usage error; never a panic or an abort.
    #[test]
    fn run_dir_readers_never_panic(edits in proptest::collection::vec((0..CELLS.len(), 1usize..6, nasty()), 1..4)) {
        let (_keep, base) = replay_base();
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("run");
        copy_run(base, &dir);
        for (c, row, v) in &edits {
            let (file, col) = CELLS[*c];
            set_cell(&dir, file, col, *row, v);
        }
        let cfg = Config::from_toml(TINY).unwrap();
        let result = std::panic::catch_unwind(|| Prepared::new(cfg, Some(&dir), None).map(|_| ()));
        prop_assert!(result.is_ok(), "panic for {edits:?}");
        if let Ok(Err(e)) = result {
            prop_assert!(is_usage(&e), "{edits:?}: {e:#}");
        }
    }
}
