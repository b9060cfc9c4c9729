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
    assert_eq!(names, ["native", "native+rec", "nest-1t"]);
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
    // Same seed, same network, same spikes with and without recording.
    assert_eq!(native["network_spikes"], rows[1]["network_spikes"]);
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
