//! Analysis layer on synthetic run directories (docs/analysis.md).

mod common;

use common::{write_run, Net, Spec};
use seqlearn_nest::analysis::{analyse_run, AnalysisOptions, AnalysisSummary};
use std::collections::BTreeMap;
use std::path::Path;

fn read_tidy(dir: &Path, name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join(name)).unwrap();
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            h.iter()
                .zip(rec.iter())
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        })
        .collect()
}

/// value of readout.csv row (protocol, features, phase, sequence, metric)
fn readout_value(dir: &Path, key: [&str; 5]) -> f64 {
    let rows = read_tidy(dir, "readout.csv");
    let cols = ["protocol", "features", "phase", "sequence", "metric"];
    let hit: Vec<_> = rows
        .iter()
        .filter(|r| cols.iter().zip(key).all(|(c, k)| r[*c] == k))
        .collect();
    assert_eq!(hit.len(), 1, "row {key:?} in readout.csv: {hit:?}");
    hit[0]["value"].parse().unwrap_or(f64::NAN)
}

fn summary_readout<'a>(
    s: &'a AnalysisSummary,
    proto: &str,
    feat: &str,
) -> &'a seqlearn_nest::analysis::readout::ReadoutSummary {
    s.readout
        .iter()
        .find(|r| r.protocol == proto && r.features == feat)
        .unwrap()
}

#[test]
fn readout_recovers_planted_signal_and_not_noise_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(dir, &Spec::default());
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    assert_eq!(s.targets, vec!["0".to_string()]);
    assert_eq!(s.n_neurons, 40);
    assert_eq!(s.n_inputs, 20);
    assert_eq!(s.constants.dt_ms, 1.0);
    assert!(s.constants.dt_from.contains("summary.json"));
    let net = summary_readout(&s, "ridge_cv", "network");
    let inp = summary_readout(&s, "ridge_cv", "input");
    let (rn, ri) = (net.test[0].r, inp.test[0].r);
    assert!(rn > 0.8, "network readout r on test = {rn}");
    assert!(ri.abs() < 0.25, "uninformative input baseline r = {ri}");
    assert!(net.test_accuracy > 0.85, "accuracy {}", net.test_accuracy);
    assert!(net.test_accuracy > net.test_accuracy_chance + 0.1);
    assert!(net.lambda.unwrap() > 0.0);
    // sampling: 8 s fit phase at steps 19, 39, ... = 400 samples
    assert_eq!(net.n_fit_samples, 400);
    assert_eq!(net.n_test_samples, 400);
    // the CSV agrees with the summary
    let v = readout_value(dir, ["ridge_cv", "network", "test", "0", "r"]);
    assert!((v - rn).abs() < 1e-12);
    // per test phase rows (phases 2 and 3)
    for ph in ["2", "3"] {
        let r = readout_value(dir, ["ridge_cv", "network", ph, "0", "r"]);
        assert!(r > 0.7, "phase {ph}: r = {r}");
    }
    // the original protocol is there too and is scored the same way
    let orig = summary_readout(&s, "original_lstsq", "network");
    assert!(orig.lambda.is_none());
    assert!(orig.fit[0].r > 0.8, "in-sample r of plain least squares");
    // readout_output.csv holds output and target per test sample
    let out = read_tidy(dir, "readout_output.csv");
    let n = out
        .iter()
        .filter(|r| r["protocol"] == "ridge_cv" && r["features"] == "network" && r["phase"] == "2")
        .count();
    assert_eq!(n, 200);
    // JSON-serialisable with NaN -> null
    let j = serde_json::to_value(&s).unwrap();
    assert!(j["readout"].as_array().unwrap().len() == 4);
}

#[test]
fn readout_is_at_chance_on_a_null_network() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(
        dir,
        &Spec {
            net: Net::Null,
            seed: 7,
            ..Spec::default()
        },
    );
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    let r = summary_readout(&s, "ridge_cv", "network").test[0].r;
    assert!(r.is_nan() || r.abs() < 0.25, "null network readout r = {r}");
    // assemblies: few neurons modulated, nothing locked beyond chance
    let a = &s.assemblies[0];
    assert!(a.fraction_modulated < 0.15, "{a:?}");
}

#[test]
fn baseline_detects_informative_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(
        dir,
        &Spec {
            net: Net::Null,
            informative_input: true,
            seed: 3,
            ..Spec::default()
        },
    );
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    let ri = summary_readout(&s, "ridge_cv", "input").test[0].r;
    let rn = summary_readout(&s, "ridge_cv", "network").test[0].r;
    assert!(ri > 0.7, "input baseline r = {ri}");
    assert!(rn.is_nan() || rn.abs() < 0.25, "network r = {rn}");
}

#[test]
fn two_sequences_classify_by_argmax_and_identical_content_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(
        dir,
        &Spec {
            sequences: vec![vec![0], vec![1]],
            ..Spec::default()
        },
    );
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    assert_eq!(s.targets, vec!["0".to_string(), "1".to_string()]);
    let net = summary_readout(&s, "ridge_cv", "network");
    for t in &net.test {
        assert!(t.r > 0.7, "{t:?}");
    }
    assert!(net.test_accuracy > 0.8, "{}", net.test_accuracy);
    let noise_r = readout_value(dir, ["ridge_cv", "network", "test", "noise", "r"]);
    assert!(noise_r > 0.7);
    // half of the neurons belong to each sequence: they, and only they, are
    // modulated, locked and consistent
    for a in &s.assemblies {
        assert!((a.fraction_modulated - 0.5).abs() < 0.08, "{a:?}");
        assert!(a.locking_mean_modulated > 0.9, "{a:?}");
        assert!(a.split_half_corr > 0.9 && a.n_split_half >= 18, "{a:?}");
    }

    let tmp2 = tempfile::tempdir().unwrap();
    write_run(
        tmp2.path(),
        &Spec {
            sequences: vec![vec![0], vec![0]],
            ..Spec::default()
        },
    );
    let s2 = analyse_run(tmp2.path(), &AnalysisOptions::default()).unwrap();
    assert_eq!(s2.targets, vec!["0+1".to_string()]);
}

#[test]
fn ordering_recovers_planted_order_from_spikes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_run(dir, &Spec::default());
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    let o = &s.ordering.as_ref().unwrap().targets[0];
    assert_eq!(o.source, "spikes");
    let rows = read_tidy(dir, "ordering.csv");
    assert_eq!(rows.len(), w.n_neurons);
    let mut by_rank: Vec<(usize, usize, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["rank"].parse().unwrap(),
                r["neuron"].parse().unwrap(),
                r["phase_ms"].parse().unwrap(),
            )
        })
        .collect();
    by_rank.sort_by_key(|x| x.0);
    // planted phases must be increasing along the rank (allow tiny local swaps)
    let planted: Vec<f64> = by_rank.iter().map(|x| w.planted_ms[x.1]).collect();
    let inversions = planted.windows(2).filter(|p| p[1] < p[0]).count();
    assert!(
        inversions <= 2,
        "planted phases along the ordering: {planted:?}"
    );
    for &(_, k, ph) in &by_rank {
        let d = (ph - w.planted_ms[k]).abs();
        assert!(
            d.min(300.0 - d) < 25.0,
            "neuron {k}: phase {ph} vs planted {}",
            w.planted_ms[k]
        );
    }
    // assembly statistics of the planted network
    let a = &s.assemblies[0];
    assert!(a.fraction_modulated > 0.9, "{a:?}");
    assert!(a.fraction_up > 0.9);
    assert!(
        a.locking_mean > 0.8 && a.locking_mean > 2.0 * a.locking_chance,
        "{a:?}"
    );
    assert!(a.split_half_corr > 0.9, "{a:?}");
    let rows = read_tidy(dir, "assemblies.csv");
    assert!(rows
        .iter()
        .any(|r| r["scope"] == "circuit" && r["metric"] == "rate_pattern_hz"));
    assert_eq!(
        rows.iter()
            .filter(|r| r["scope"] == "neuron" && r["metric"] == "modulation")
            .count(),
        40
    );
}

#[test]
fn ordering_uses_rho_when_every_neuron_is_recorded_else_spikes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let w = write_run(
        dir,
        &Spec {
            rho_neurons: 40,
            burst_p: 0.0, // spikes carry no order: only rho can give it
            ..Spec::default()
        },
    );
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    let o = &s.ordering.as_ref().unwrap().targets[0];
    assert_eq!(o.source, "rho");
    let planted: Vec<f64> = o.order.iter().map(|&k| w.planted_ms[k]).collect();
    assert!(planted.windows(2).all(|p| p[1] >= p[0]), "{planted:?}");

    let tmp2 = tempfile::tempdir().unwrap();
    write_run(
        tmp2.path(),
        &Spec {
            rho_neurons: 10,
            ..Spec::default()
        },
    );
    let s2 = analyse_run(tmp2.path(), &AnalysisOptions::default()).unwrap();
    assert_eq!(s2.ordering.as_ref().unwrap().targets[0].source, "spikes");
    assert!(s2.warnings.iter().any(|w| w.contains("10 of 40")));
}

#[test]
fn every_step_sampling_and_defaults_without_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(
        dir,
        &Spec {
            write_summary: false,
            train_ms: 2000.0,
            fit_ms: 3000.0,
            test_ms: 2000.0,
            n_tests: 1,
            ..Spec::default()
        },
    );
    let opts = AnalysisOptions {
        every_step: true,
        original_protocol: false,
        ..AnalysisOptions::default()
    };
    let s = analyse_run(dir, &opts).unwrap();
    assert!(s.constants.dt_from.starts_with("default"));
    assert_eq!(s.constants.tau_decay_ms, 20.0);
    let net = summary_readout(&s, "ridge_cv", "network");
    assert_eq!(net.n_fit_samples, 3000);
    assert_eq!(s.readout.len(), 2);
    // n_inputs without summary: from the largest channel seen
    assert_eq!(s.n_inputs, 20);
    // ... and the analysis says what it assumed
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("summary.json is absent") && w.contains("dt = 1 ms")),
        "{:?}",
        s.warnings
    );
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("input channels assumed")));
}

/// Rewrites summary.json with `edit` applied.
fn edit_summary(dir: &Path, edit: &dyn Fn(&mut serde_json::Value)) {
    let path = dir.join("summary.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn constants_and_counts_come_from_the_typed_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(dir, &Spec::default());
    edit_summary(dir, &|v| v["config"]["model"]["tau_decay_ms"] = 10.0.into());
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    assert_eq!(s.constants.tau_decay_ms, 10.0);
    assert_eq!(
        s.constants.tau_decay_from,
        "summary.json config.model.tau_decay_ms"
    );
    assert!(s.warnings.iter().all(|w| !w.contains("summary.json")));
    // samples every tau_decay / dt = 10 steps: 8 s fit phase -> 800
    assert_eq!(
        summary_readout(&s, "ridge_cv", "network").n_fit_samples,
        800
    );
    // n_inputs is config.network.n_inputs
    edit_summary(dir, &|v| v["config"]["network"]["n_inputs"] = 30.into());
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    assert_eq!(s.n_inputs, 30);
    // a summary that disagrees with the network files is an error
    edit_summary(dir, &|v| v["counts"]["neurons"] = 41.into());
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(
        e.contains("40 neurons") && e.contains("counts.neurons = 41"),
        "{e}"
    );
    // so is a summary.json that is not the typed document
    edit_summary(dir, &|v| {
        v["counts"]["neurons"] = 40.into();
        v.as_object_mut().unwrap().remove("counts");
    });
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(e.contains("summary.json") && e.contains("counts"), "{e}");
}

#[test]
fn analysis_files_have_the_schema_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(dir, &Spec::default());
    analyse_run(dir, &AnalysisOptions::default()).unwrap();
    use seqlearn_nest::rundir::schema;
    for f in [
        &schema::READOUT,
        &schema::READOUT_OUTPUT,
        &schema::ORDERING,
        &schema::ASSEMBLIES,
    ] {
        let text = std::fs::read_to_string(dir.join(f.name)).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            f.names().join(","),
            "{}",
            f.name
        );
        // and every row reads back under the schema's rule
        let mut r = seqlearn_nest::rundir::Reader::open(dir, f).unwrap();
        let cols: Vec<usize> = f.columns.iter().map(|c| r.col(c.name)).collect();
        r.for_each(|row| {
            for (&i, c) in cols.iter().zip(f.columns) {
                match c.ty {
                    schema::Type::Enum(_) => drop(row.choice(i)?),
                    schema::Type::UInt => drop(row.opt_usize(i)?),
                    schema::Type::Float => drop(row.opt_f64(i)?),
                    _ => drop(row.str(i)?),
                }
            }
            Ok(())
        })
        .unwrap();
    }
}

#[test]
fn missing_or_malformed_files_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_run(
        dir,
        &Spec {
            train_ms: 1000.0,
            fit_ms: 1000.0,
            test_ms: 1000.0,
            ..Spec::default()
        },
    );
    // wrong column name in spikes.csv
    std::fs::write(dir.join("spikes.csv"), "neuron,time_ms\n1,2\n").unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(
        e.contains("spikes.csv") && e.contains("missing column `sender`"),
        "{e}"
    );
    // unparsable cell
    std::fs::write(dir.join("spikes.csv"), "sender,time_ms\n1,abc\n").unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(e.contains("spikes.csv:2") && e.contains("time_ms"), "{e}");
    // empty file
    std::fs::write(dir.join("spikes.csv"), "").unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(e.contains("spikes.csv") && e.contains("empty"), "{e}");
    // header row missing (data in the first line)
    std::fs::write(dir.join("spikes.csv"), "3,10\n4,11\n").unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(
        e.contains("missing column `sender`") && e.contains("header is `3,10`"),
        "{e}"
    );
    // invalid summary.json
    std::fs::write(dir.join("spikes.csv"), "sender,time_ms\n1,2\n").unwrap();
    std::fs::write(dir.join("summary.json"), "{ not json").unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(
        e.contains("summary.json") && e.contains("invalid JSON"),
        "{e}"
    );
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    // missing file
    std::fs::remove_file(dir.join("phases.csv")).unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(e.contains("phases.csv"), "{e}");
    // wrong kind value
    std::fs::write(
        dir.join("phases.csv"),
        "phase,start_ms,end_ms,kind,sequence,pattern,warp,train\n0,0,10,bogus,,,1,true\n",
    )
    .unwrap();
    let e = format!(
        "{:#}",
        analyse_run(dir, &AnalysisOptions::default()).unwrap_err()
    );
    assert!(e.contains("phases.csv:2") && e.contains("bogus"), "{e}");
}

#[test]
fn each_test_phase_is_scored_by_the_latest_readout_fit_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // protocol: readout_fit 0, test 1 (network not yet locked to the
    // pattern), train 2, readout_fit 3, test 4, test 5
    write_run(
        dir,
        &Spec {
            pre_training_readout: true,
            ..Spec::default()
        },
    );
    let s = analyse_run(dir, &AnalysisOptions::default()).unwrap();
    let nets: Vec<_> = s
        .readout
        .iter()
        .filter(|r| r.protocol == "ridge_cv" && r.features == "network")
        .collect();
    assert_eq!(nets.len(), 2);
    assert_eq!(
        (nets[0].fit_phases.clone(), nets[0].test_phases.clone()),
        (vec![0], vec![1])
    );
    assert_eq!(
        (nets[1].fit_phases.clone(), nets[1].test_phases.clone()),
        (vec![3], vec![4, 5])
    );
    let before = readout_value(dir, ["ridge_cv", "network", "test:0", "0", "r"]);
    let after = readout_value(dir, ["ridge_cv", "network", "test:3", "0", "r"]);
    assert!(
        before.is_nan() || before.abs() < 0.25,
        "before training r = {before}"
    );
    assert!(after > 0.8, "after training r = {after}");
    assert!(readout_value(dir, ["ridge_cv", "network", "fit:3", "all", "lambda"]) > 0.0);
}

#[test]
fn options_deserialise_with_defaults() {
    let o: AnalysisOptions =
        serde_json::from_str(r#"{"every_step": true, "alpha": 0.05}"#).unwrap();
    assert!(o.every_step);
    assert_eq!(o.alpha, 0.05);
    assert_eq!(o.cv_folds, AnalysisOptions::default().cv_folds);
    assert!(serde_json::from_str::<AnalysisOptions>(r#"{"alhpa": 0.05}"#).is_err());
}
