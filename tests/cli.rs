//! The CLI end to end: outputs, determinism, replay, and bad input (exit 2,
//! a message naming the problem, no run directory left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
name = "fit"
role = "readout_fit"
duration_ms = 500.0
mode = "alternating"
[[phases]]
name = "test"
role = "test"
duration_ms = 500.0
mode = "alternating"
[record]
neurons = { random = 5 }
synapses = { random = 4 }
dt_rec_synapses_ms = 5.0
phases = ["train", "test"]
"#;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn simulate(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "simulate",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--no-analysis",
    ];
    a.extend_from_slice(extra);
    run(&a)
}

fn write_cfg(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("exp.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Byte-identical files, reported by name and first differing line.
fn same_file(a: &Path, b: &Path) {
    let (x, y) = (
        std::fs::read_to_string(a).unwrap(),
        std::fs::read_to_string(b).unwrap(),
    );
    if x != y {
        let line = x.lines().zip(y.lines()).position(|(p, q)| p != q);
        panic!(
            "{} and {} differ (first differing line: {line:?}; lengths {} vs {})",
            a.display(),
            b.display(),
            x.len(),
            y.len()
        );
    }
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const FILES: &[(&str, &str)] = &[
    ("circuits.csv", "circuit,x,y,k,first_neuron,trained"),
    ("neurons.csv", "neuron,circuit,bias_initial,bias_final"),
    ("sources.csv", "source,kind,index,U,D_ms,F_ms"),
    ("circuit_pairs.csv", "pre_circuit,post_circuit"),
    (
        "synapses.csv",
        "synapse,source,target,slot,kind,w_initial,w_final,U,D_ms,F_ms",
    ),
    ("input_spikes.csv", "channel,time_ms"),
    ("spikes.csv", "sender,time_ms"),
    (
        "phases.csv",
        "phase,start_ms,end_ms,kind,sequence,pattern,warp,train",
    ),
    (
        "protocol.csv",
        "phase,name,role,start_ms,end_ms,train,reset",
    ),
    ("patterns.csv", "pattern,channel,time_ms"),
    ("neuron_traces.csv", "time_ms,sender,u,rho"),
    (
        "synapse_traces.csv",
        "time_ms,synapse,source,target,weight,epsp",
    ),
];

#[test]
fn simulate_writes_every_file_with_its_header() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let out = d.path().join("run");
    ok(&simulate(&cfg, &out, &[]));
    // the list above is the schema's (every file but the analysis's)
    let from_schema: Vec<(&str, String)> = seqlearn_nest::rundir::schema::FILES
        .iter()
        .filter(|f| f.section != seqlearn_nest::rundir::schema::Section::Analysis)
        .map(|f| (f.name, f.names().join(",")))
        .collect();
    let listed: Vec<(&str, String)> = FILES.iter().map(|(f, h)| (*f, h.to_string())).collect();
    assert_eq!(listed, from_schema);
    for (file, header) in FILES {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert_eq!(text.lines().next().unwrap(), *header, "{file}");
        assert!(!text.contains('#'), "{file} has no comment lines");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["backend"], "native");
    assert_eq!(s["seed"], 3);
    assert_eq!(s["simulated_ms"], 2500.0);
    assert!(s["counts"]["network_spikes"].as_u64().unwrap() > 100);
    // Neuron traces only in the recorded phases: train [0,1500) and test [2000,2500).
    let traces = std::fs::read_to_string(out.join("neuron_traces.csv")).unwrap();
    let times: Vec<f64> = traces
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(times.iter().all(|&t| !(1500.0..2000.0).contains(&t)));
    assert_eq!(times.len(), 5 * 2000);
    assert!(!d.path().join("run.partial").exists());
}

#[test]
fn same_seed_gives_identical_files_and_other_seed_differs() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
    ok(&simulate(&cfg, &a, &[]));
    ok(&simulate(&cfg, &b, &[]));
    ok(&simulate(&cfg, &c, &["--seed", "4"]));
    for (file, _) in FILES {
        same_file(&a.join(file), &b.join(file));
    }
    let differs = std::fs::read(a.join("spikes.csv")).unwrap()
        != std::fs::read(c.join("spikes.csv")).unwrap();
    assert!(differs, "another seed gives other spikes");
}

#[test]
fn replay_reproduces_a_run_and_forced_spikes_are_obeyed() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let a = d.path().join("a");
    ok(&simulate(&cfg, &a, &[]));
    // Replay with the run's own config, network and input.
    let r = d.path().join("r");
    ok(&run(&[
        "simulate",
        "--replay",
        a.to_str().unwrap(),
        "--out",
        r.to_str().unwrap(),
        "-q",
        "--no-analysis",
    ]));
    for file in [
        "spikes.csv",
        "synapses.csv",
        "input_spikes.csv",
        "neuron_traces.csv",
    ] {
        same_file(&a.join(file), &r.join(file));
    }
    // Forcing the run's spikes under another seed reproduces its traces.
    let f = d.path().join("f");
    let spikes = a.join("spikes.csv");
    ok(&run(&[
        "simulate",
        "--replay",
        a.to_str().unwrap(),
        "--forced-spikes",
        spikes.to_str().unwrap(),
        "--seed",
        "777",
        "--out",
        f.to_str().unwrap(),
        "-q",
        "--no-analysis",
    ]));
    // (The recorded selection depends on the seed; spikes and learned
    // weights do not, once the spikes are forced.)
    for file in ["spikes.csv", "synapses.csv"] {
        same_file(&a.join(file), &f.join(file));
    }
}

#[test]
fn grid_prints_the_circuit_table_and_writes_network_files() {
    let d = tmp();
    let out = d.path().join("g");
    let o = run(&[
        "grid",
        "--grid",
        "4x3",
        "--k-min",
        "3",
        "--k-max",
        "3",
        "--inputs",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("12 circuits, 36 neurons, 5 inputs"), "{text}");
    assert_eq!(
        std::fs::read_to_string(out.join("circuits.csv"))
            .unwrap()
            .lines()
            .count(),
        13
    );
}

/// Runs a failing command: exit code 2, the message mentions every `needles`,
/// and no run directory is left.
fn fails(args: &[&str], out: &Path, needles: &[&str]) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "args {args:?}\nstderr: {err}");
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "no run directory after an error");
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    assert!(
        !Path::new(&partial).exists(),
        "no partial directory after an error"
    );
}

#[test]
fn bad_input_is_exit_2_with_a_message_and_no_output() {
    let d = tmp();
    let out = d.path().join("never");
    let o = out.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("[network\ngrid = [2, 2]\n", &["invalid config"]),
        ("[network]\nk_mni = 3\n", &["k_mni"]),
        ("[network]\nk_min = 6\nk_max = 3\n", &["k_min", "k_max"]),
        (
            "[[phases]]\nname = \"t\"\nrole = \"train\"\nduration_ms = -100.0\n",
            &["duration_ms"],
        ),
        ("[network]\nn_inputs = 0\n", &["n_inputs"]),
        (
            "[input]\nt_noise_range_ms = [500.0, 300.0]\n",
            &["t_noise_range_ms"],
        ),
        ("[model]\nstp = \"markram\"\n", &["stp", "original"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let cfg = d.path().join(format!("bad{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        fails(
            &[
                "simulate",
                "--config",
                cfg.to_str().unwrap(),
                "--out",
                o,
                "-q",
            ],
            &out,
            needles,
        );
    }
    fails(
        &[
            "simulate",
            "--config",
            "/no/such/file.toml",
            "--out",
            o,
            "-q",
        ],
        &out,
        &["/no/such/file.toml"],
    );
    fails(
        &["simulate", "--replay", "/no/such/run", "--out", o, "-q"],
        &out,
        &["/no/such/run"],
    );
    fails(
        &["simulate", "--grid", "10by5", "--out", o, "-q"],
        &out,
        &["NxM"],
    );
    // Forced-spike files with wrong columns, or an unknown sender.
    let cfg = write_cfg(d.path(), TINY);
    let bad = d.path().join("bad_spikes.csv");
    for (content, needles) in [
        (
            "neuron,t\n0,1.0\n",
            &["bad_spikes.csv", "sender,time_ms"][..],
        ),
        ("sender,time_ms\n9999,1.0\n", &["9999"][..]),
        ("sender,time_ms\n0,1.5\n", &["1.5", "step grid"][..]),
    ] {
        std::fs::write(&bad, content).unwrap();
        let args = [
            "simulate",
            "--config",
            cfg.to_str().unwrap(),
            "--forced-spikes",
            bad.to_str().unwrap(),
            "--out",
            o,
            "-q",
        ];
        fails(&args, &out, needles);
    }
    // An existing run directory is not overwritten without --force.
    let existing = d.path().join("exists");
    std::fs::create_dir(&existing).unwrap();
    let o2 = run(&[
        "simulate",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        existing.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o2.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o2.stderr).contains("--force"));
}

/// Replaces column `col` of the data rows of a CSV file for which `pick`
/// (row index, current value) returns a new value.
fn edit_csv(path: &Path, col: &str, pick: &dyn Fn(usize, &str) -> Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let c = header.split(',').position(|h| h == col).unwrap();
    let mut out = format!("{header}\n");
    for (i, l) in lines.enumerate() {
        let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        if let Some(v) = pick(i, &cells[c]) {
            cells[c] = v;
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// Column `col` of every data row.
fn column(path: &Path, col: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let c = lines
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == col)
        .unwrap();
    lines
        .map(|l| l.split(',').nth(c).unwrap().to_owned())
        .collect()
}

fn replay(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "simulate",
        "--replay",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--no-analysis",
    ];
    a.extend_from_slice(extra);
    run(&a)
}

/// `simulate --replay dir --out out` must fail as [`fails`] describes.
fn replay_fails(dir: &Path, out: &Path, needles: &[&str]) {
    let args = [
        "simulate",
        "--replay",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    fails(&args, out, needles);
}

#[test]
fn replay_with_config_needs_no_summary_json() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let a = d.path().join("a");
    ok(&simulate(&cfg, &a, &[]));
    std::fs::remove_file(a.join("summary.json")).unwrap();
    let r = d.path().join("r");
    ok(&replay(&a, &r, &["--config", cfg.to_str().unwrap()]));
    for file in ["spikes.csv", "synapses.csv", "neuron_traces.csv"] {
        same_file(&a.join(file), &r.join(file));
    }
    // without --config the summary is needed, and the message says so
    let never = d.path().join("never");
    replay_fails(&a, &never, &["summary.json", "--config"]);
}

/// Whether the NEST backend is to be tested: it must load when
/// SEQLEARN_REQUIRE_NEST=1 (scripts/test.sh), else it is tried.
fn nest_available() -> bool {
    if std::env::var_os("SEQLEARN_REQUIRE_NEST").is_some_and(|v| v == "1") {
        return true;
    }
    let d = tmp();
    let o = simulate(
        &write_cfg(d.path(), TINY),
        &d.path().join("probe"),
        &["--backend", "nest"],
    );
    o.status.success()
}

#[test]
fn replay_starts_from_bias_initial_on_both_engines() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let a = d.path().join("a");
    ok(&simulate(&cfg, &a, &[]));
    let bias = |k: usize| 0.25 + 0.125 * k as f64 - 1.0;
    edit_csv(&a.join("neurons.csv"), "bias_initial", &|k, _| {
        Some(format!("{}", bias(k)))
    });
    let mut backends = vec!["native"];
    if nest_available() {
        backends.push("nest");
    }
    // the soft-max of steps 0 and 1 per engine: (time, sender, rho)
    let mut rhos: Vec<Vec<(String, String, f64)>> = Vec::new();
    for backend in &backends {
        let r = d.path().join(format!("r-{backend}"));
        ok(&replay(&a, &r, &["--backend", backend]));
        // u is the bias alone until the first EPSP arrives (a spike of step
        // t shows in u at step t + 2): steps 0 and 1. NEST's step 0 comes
        // from circuit_u_initial, which the driver sets.
        let traces = r.join("neuron_traces.csv");
        let (times, senders, us) = (
            column(&traces, "time_ms"),
            column(&traces, "sender"),
            column(&traces, "u"),
        );
        let rho = column(&traces, "rho");
        let steps = ["0", "1"];
        let mut seen = 0;
        let mut early = Vec::new();
        for i in (0..times.len()).filter(|&i| steps.contains(&times[i].as_str())) {
            let k: usize = senders[i].parse().unwrap();
            let u: f64 = us[i].parse().unwrap();
            assert!(
                (u - bias(k)).abs() < 1e-12,
                "{backend}: neuron {k} at {} ms: u {u}",
                times[i]
            );
            early.push((
                times[i].clone(),
                senders[i].clone(),
                rho[i].parse().unwrap(),
            ));
            seen += 1;
        }
        rhos.push(early);
        assert_eq!(
            seen,
            5 * steps.len(),
            "{backend}: 5 recorded neurons per step"
        );
        // written back as the initial bias; without bias learning it stays
        let neurons = r.join("neurons.csv");
        for (k, (b0, b1)) in column(&neurons, "bias_initial")
            .iter()
            .zip(column(&neurons, "bias_final"))
            .enumerate()
        {
            assert_eq!(b0.parse::<f64>().unwrap(), bias(k), "{backend}");
            assert_eq!(b1.parse::<f64>().unwrap(), bias(k), "{backend}");
        }
    }
    // the engines' soft-max of the biases agree from step 0 on (and is not
    // the uniform one of all-zero potentials)
    if let [native, nest] = &rhos[..] {
        assert_eq!(native.len(), nest.len());
        for ((t, k, a), (t2, k2, b)) in native.iter().zip(nest) {
            assert_eq!((t, k), (t2, k2));
            assert!(
                (a - b).abs() < 1e-12,
                "rho of neuron {k} at {t} ms: {a} vs {b}"
            );
        }
    }
    assert!(
        rhos[0]
            .iter()
            .any(|(_, _, r)| [2.0, 3.0, 4.0].iter().all(|k| (r - 1.0 / k).abs() > 1e-3)),
        "biases move the soft-max of step 0: {:?}",
        rhos[0]
    );
}

#[test]
fn replay_rejects_stp_parameters_that_disagree_between_files() {
    let d = tmp();
    let cfg = write_cfg(d.path(), TINY);
    let a = d.path().join("a");
    ok(&simulate(&cfg, &a, &[]));
    let kinds = column(&a.join("synapses.csv"), "kind");
    let rec = kinds.iter().position(|k| k == "recurrent").unwrap();
    let src: usize = column(&a.join("synapses.csv"), "source")[rec]
        .parse()
        .unwrap();
    let u_src = column(&a.join("sources.csv"), "U")[src].clone();
    edit_csv(&a.join("synapses.csv"), "U", &|i, _| {
        (i == rec).then(|| "0.123".to_string())
    });
    let never = d.path().join("never");
    let o = never.to_str().unwrap();
    let args = [
        "simulate",
        "--replay",
        a.to_str().unwrap(),
        "--out",
        o,
        "-q",
    ];
    fails(
        &args,
        &never,
        &[
            "synapses.csv",
            "sources.csv",
            &format!("synapse {rec} "),
            &format!("source {src} "),
            "0.123",
            &format!("U = {u_src}"),
        ],
    );
    // with per-synapse draws synapses.csv is authoritative for recurrent
    // synapses, but an input synapse must still match its source
    let per_syn = write_cfg(
        d.path(),
        &TINY.replace("n_conn = 10", "n_conn = 10\nstp_draw = \"per_synapse\""),
    );
    let r = d.path().join("r");
    ok(&replay(&a, &r, &["--config", per_syn.to_str().unwrap()]));
    assert_eq!(column(&r.join("synapses.csv"), "U")[rec], "0.123");
    edit_csv(&a.join("synapses.csv"), "D_ms", &|i, _| {
        (i == 0).then(|| "7.5".to_string())
    });
    let mut args = args.to_vec();
    args.extend(["--config", per_syn.to_str().unwrap()]);
    fails(
        &args,
        &never,
        &["synapse 0 ", "D_ms = 7.5", "input synapses"],
    );
}

#[test]
fn untrained_circuits_keep_their_weights_and_biases_on_both_engines() {
    let d = tmp();
    let text = TINY.replace("n_conn = 10\n", "n_conn = 10\ntrain_fraction = 0.5\n")
        + "[model]\nbias_learning = true\n";
    let cfg = write_cfg(d.path(), &text);
    let mut backends = vec!["native"];
    if nest_available() {
        backends.push("nest");
    }
    for backend in backends {
        let a = d.path().join(format!("a-{backend}"));
        ok(&simulate(&cfg, &a, &["--backend", backend]));
        let trained: Vec<bool> = column(&a.join("circuits.csv"), "trained")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(trained.iter().filter(|&&t| t).count(), 3, "round(0.5 * 6)");
        let circuit_of: Vec<usize> = column(&a.join("neurons.csv"), "circuit")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        let learns = |k: &str| trained[circuit_of[k.parse::<usize>().unwrap()]];
        let changed = |file: &str, key: &str, before: &str, after: &str| {
            let p = a.join(file);
            let (keys, b0, b1) = (column(&p, key), column(&p, before), column(&p, after));
            let mut n_changed = [0usize; 2]; // [untrained, trained]
            for i in 0..keys.len() {
                let (x0, x1): (f64, f64) = (b0[i].parse().unwrap(), b1[i].parse().unwrap());
                n_changed[learns(&keys[i]) as usize] += (x0 != x1) as usize;
            }
            n_changed
        };
        let [untrained, trained_w] = changed("synapses.csv", "target", "w_initial", "w_final");
        assert_eq!(untrained, 0, "{backend}: untrained weights moved");
        assert!(trained_w > 0, "{backend}: trained weights must learn");
        let [untrained, trained_b] = changed("neurons.csv", "neuron", "bias_initial", "bias_final");
        assert_eq!(untrained, 0, "{backend}: untrained biases moved");
        assert!(trained_b > 0, "{backend}: trained biases must learn");
        for (w, k) in column(&a.join("synapses.csv"), "w_initial")
            .iter()
            .zip(column(&a.join("synapses.csv"), "target"))
        {
            let w: f64 = w.parse().unwrap();
            assert!(
                learns(&k) == (w == 0.0),
                "{backend}: untrained start at ln U"
            );
        }
        // a replay keeps the mask, and so every output
        let r = d.path().join(format!("r-{backend}"));
        ok(&replay(&a, &r, &["--backend", backend]));
        for file in ["circuits.csv", "synapses.csv", "neurons.csv", "spikes.csv"] {
            same_file(&a.join(file), &r.join(file));
        }
    }
    // the mask is part of the replay: flipping it changes what learns
    let a = d.path().join("a-native");
    edit_csv(&a.join("circuits.csv"), "trained", &|_, v| {
        Some(if v == "true" { "false" } else { "true" }.into())
    });
    let r = d.path().join("flipped");
    ok(&replay(&a, &r, &[]));
    assert_ne!(
        std::fs::read(a.join("synapses.csv")).unwrap(),
        std::fs::read(r.join("synapses.csv")).unwrap()
    );
    edit_csv(&a.join("circuits.csv"), "trained", &|_, _| {
        Some("maybe".into())
    });
    let never = d.path().join("never");
    replay_fails(&a, &never, &["circuits.csv", "trained", "maybe"]);
}
