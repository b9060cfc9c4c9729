//! `seqlearn-nest bench`: the JSON rows have the documented schema and
//! positive values (timings themselves are not asserted).

use std::process::Command;

fn bench(args: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_seqlearn-nest"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, rows)
}

fn positive(row: &serde_json::Value, key: &str) -> f64 {
    let v = row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {row}"));
    assert!(v > 0.0 && v.is_finite(), "{key} = {v} in {row}");
    v
}

#[test]
fn native_rows_have_the_schema_and_positive_values() {
    let (stdout, rows) = bench(&["--seconds", "0.2", "--cases", "native,nest-1t"]);
    let rows = rows.as_array().expect("an array of rows");
    let names: Vec<&str> = rows.iter().map(|r| r["case"].as_str().unwrap()).collect();
    assert_eq!(names, ["native", "native+rec", "native-stages", "nest-1t"]);
    for row in rows {
        for key in ["case", "backend", "threads", "grid", "synapses"] {
            assert!(!row[key].is_null(), "{key} missing in {row}");
        }
        if let Some(why) = row.get("skipped") {
            // The NEST backend may be unavailable: then the row says why.
            assert_eq!(row["backend"], "nest");
            assert!(!why.as_str().unwrap().is_empty());
            assert!(row["rtf"].is_null());
            continue;
        }
        positive(row, "rtf");
        positive(row, "rtf_cpu");
        positive(row, "synapse_updates_per_s");
        positive(row, "peak_rss_mib");
        positive(row, "wall_s");
        positive(row, "network_rate_hz");
        assert_eq!(row["threads"], 1);
        assert_eq!(row["grid"], "10x5");
        assert_eq!(row["n_conn"], 1000);
        assert!((row["simulated_s"].as_f64().unwrap() - 0.2).abs() < 1e-9);
        // The paper's network: 264 neurons, 53548 synapses with seed 13521.
        assert!(row["synapses"].as_u64().unwrap() > 40_000);
    }
    let native = &rows[0];
    assert_eq!(native["backend"], "native");
    assert_eq!(native["recording"], false);
    assert_eq!(rows[1]["recording"], true);
    // Same seed, same network, same spikes with and without recording,
    // and with every stage timed.
    assert_eq!(native["network_spikes"], rows[1]["network_spikes"]);
    assert_eq!(native["network_spikes"], rows[2]["network_spikes"]);
    assert!(native.get("stages").is_none());
    // The stage times lie within the whole run (set-up included) and add
    // up to at least half the step (the stage times include the run's first,
    // cold steps, which `rtf` leaves to the set-up); the work counts are
    // the run's.
    let staged = &rows[2];
    let stages = staged["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 8);
    let sum: f64 = stages
        .iter()
        .map(|s| {
            let us = s["us_per_step"].as_f64().unwrap();
            assert!(us >= 0.0 && us.is_finite(), "{s}");
            us
        })
        .sum();
    let step_us = positive(staged, "rtf") * 1e3;
    let run_us = positive(staged, "rtf_total") * 1e3;
    assert!(
        sum <= run_us && sum > 0.5 * step_us,
        "stages {sum} us, step {step_us} us, run {run_us} us per step"
    );
    // ~18.6 Hz x 264 neurons x ~200 synapses each: ~1000 per step.
    let stdp = positive(staged, "stdp_synapses_per_step");
    assert!((300.0..3000.0).contains(&stdp), "{stdp}");
    positive(staged, "deliveries_per_step");
    assert!(stdout.contains("Where the native step goes"), "{stdout}");
    assert!(stdout.contains("the STDP stage alone is RTF"), "{stdout}");
    assert!(stdout.contains("machine:"), "{stdout}");
    assert!(stdout.contains("Ratios of RTF"), "{stdout}");
}

#[test]
fn scaling_only_runs_the_grids_given() {
    let (_, rows) = bench(&[
        "--scaling-seconds",
        "0.1",
        "--scaling-only",
        "--grids",
        "4x3,6x4",
        "--cases",
        "native",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["case"], "scaling/native");
    assert_eq!(rows[0]["grid"], "4x3");
    assert_eq!(rows[0]["n_conn"], 240);
    assert_eq!(rows[1]["grid"], "6x4");
    assert!(rows[1]["synapses"].as_u64() > rows[0]["synapses"].as_u64());
    for row in rows {
        positive(row, "rtf");
        positive(row, "peak_rss_mib");
        assert!((row["simulated_s"].as_f64().unwrap() - 0.1).abs() < 1e-9);
    }
}

/// NEST's plastic built-ins as a baseline: the script builds the network
/// with `tsodyks2_synapse` inputs and `stdp_synapse` recurrent connections
/// and reports what it built (skipped without a Python with NEST, unless
/// `SEQLEARN_REQUIRE_NEST=1`).
#[test]
fn plastic_baseline_builds_nests_plastic_models() {
    let py = std::env::var_os("SEQLEARN_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
        });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nest_baseline.py");
    let has_nest = Command::new(&py)
        .args(["-c", "import nest"])
        .env("PYNEST_QUIET", "1")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nest {
        assert!(
            std::env::var("SEQLEARN_REQUIRE_NEST").map_or(true, |v| v != "1"),
            "SEQLEARN_REQUIRE_NEST=1 but {} has no NEST",
            py.display()
        );
        eprintln!("no Python with NEST, skipping");
        return;
    }
    let run = |plastic: &str| -> serde_json::Value {
        let out = Command::new(&py)
            .arg(&script)
            .args(["--neurons", "30", "--synapses", "3600", "--inputs", "100"])
            .args([
                "--target-rate",
                "20",
                "--seconds",
                "0.2",
                "--calib-seconds",
                "0.2",
            ])
            .args(["--plastic", plastic])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    };
    let (st, pl) = (run("none"), run("stdp"));
    assert_eq!(st["plastic"], "none");
    assert_eq!(pl["plastic"], "stdp");
    for r in [&st, &pl] {
        assert_eq!(r["synapses"], 3600);
        positive(r, "wall_s");
        positive(r, "rate_hz");
    }
    // 3000 tsodyks2 inputs and 600 stdp recurrent connections are larger
    // than static ones (NEST's own sizeof).
    assert_eq!(st["bytes_per_synapse"], 32.0);
    assert!(positive(&pl, "bytes_per_synapse") > 60.0, "{pl}");
}

/// A 2-thread NEST case runs with the threads and wait policy a user's run
/// would get (one thread per free core), and the row says which and why.
#[test]
fn two_thread_rows_carry_their_wait_policy() {
    let (stdout, rows) = bench(&["--seconds", "0.1", "--cases", "nest-2t"]);
    let row = &rows.as_array().unwrap()[0];
    if row.get("skipped").is_some() {
        return; // no NEST in this build (tests/nest_engine.rs requires it in CI)
    }
    let policy = row["wait_policy"].as_str().expect("wait_policy");
    match std::env::var("OMP_WAIT_POLICY") {
        Ok(p) => assert!(
            policy.starts_with(&format!("{p} (OMP_WAIT_POLICY={p}; ")),
            "{policy}"
        ),
        Err(_) => assert!(
            policy.starts_with("active (") || policy.starts_with("passive ("),
            "{policy}"
        ),
    }
    let threads = row["threads"].as_u64().expect("threads") as usize;
    if policy.contains("free cores unknown") {
        assert_eq!(threads, 2, "{policy}");
        return;
    }
    // the threads are the plan's: one per free core measured
    let (before, _) = policy
        .split_once(" free cores for 2 threads")
        .unwrap_or_else(|| panic!("no free cores in {policy}"));
    let free: f64 = before
        .rsplit([' ', '('])
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no number before the free cores in {policy}"));
    assert_eq!(
        threads,
        seqlearn_nest::engine::wait_policy::fitting_threads(2, free),
        "{policy}"
    );
    assert!(stdout.contains("NEST 2 threads / 1 thread"), "{stdout}");
}
