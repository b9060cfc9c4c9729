//! Self-contained HTML report of a run directory: one `report.html` with
//! every plot inlined as SVG, and tables of the parameters (summary.json
//! `config`), counts, timing, readout metrics and assembly statistics.
//! Entry point: [`write_report`].

use crate::analysis;
use crate::rundir::{self, schema};
use anyhow::{Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// HTML-escapes text.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A JSON value as a short display string.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => fmt_num(x),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x == 0.0 || (x.abs() >= 1e-3 && x.abs() < 1e6) {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.3e}")
    }
}

fn num(v: Option<&Value>) -> String {
    v.map(show).unwrap_or_else(|| "—".into())
}

/// Flattens a JSON object into `(dotted.key, value)` rows; arrays of scalars
/// stay one value, arrays of objects are indexed.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => out.push((prefix.to_string(), show(other))),
    }
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// Caption of a plot file.
fn caption(name: &str) -> String {
    let stem = name.trim_end_matches(".svg");
    let window = |s: &str| -> String {
        match s.rsplit('_').next() {
            Some("start") => "first seconds of the run".into(),
            Some("end") => "last seconds of the run".into(),
            Some("all") => "whole run".into(),
            Some("window") => "chosen window".into(),
            _ => String::new(),
        }
    };
    if stem == "grid_heatmap" {
        "Circuit sizes K on the grid (numbers written in).".into()
    } else if stem == "grid_bars3d" {
        "Circuit sizes K on the grid, 3D bar chart.".into()
    } else if stem.starts_with("input_raster") {
        format!(
            "Input spikes, {}; pattern presentations shaded and labelled (s = sequence, p = pattern), protocol phases marked in red.",
            window(stem)
        )
    } else if stem.starts_with("network_raster_ordered") {
        format!(
            "Network spikes, {}, neurons sorted by their mean activation phase within the pattern sequence (ordering.csv); learned assemblies show as diagonal bands.",
            window(stem)
        )
    } else if stem.starts_with("network_raster") {
        format!(
            "Network spikes, {}, neurons by id (lines separate circuits).",
            window(stem)
        )
    } else if stem == "readout" {
        "Linear readout output (ridge, CV penalty) vs target over a test phase (the first one scored by the last readout fit); shaded: target = 1; top: network state, bottom: input baseline.".into()
    } else if stem == "assemblies" {
        "Assemblies: each neuron's activation phase within the pattern presentation vs its phase locking across presentations, coloured by the sign of its significant rate modulation (assemblies.csv).".into()
    } else if stem == "synapse_weights" {
        "Weight evolution of the sampled synapses (synapse_traces.csv).".into()
    } else if stem == "synapse_epsp" {
        "Unweighted EPSP Y of the sampled synapses' sources, last second shown.".into()
    } else if stem == "weight_histograms" {
        "Weight histograms before (w_initial) and after (w_final) the run, per synapse kind.".into()
    } else {
        stem.replace('_', " ")
    }
}

/// Display order of the plots.
fn rank(name: &str) -> usize {
    const ORDER: [&str; 10] = [
        "grid_heatmap",
        "grid_bars3d",
        "input_raster",
        "network_raster_ordered",
        "network_raster",
        "readout",
        "assemblies",
        "synapse_weights",
        "synapse_epsp",
        "weight_histograms",
    ];
    ORDER
        .iter()
        .position(|p| name.starts_with(p))
        .unwrap_or(ORDER.len())
}

/// Writes `DIR/report.html` and returns its path. Runs [`analysis::analyse_run`]
/// (default options) when `analysis.json` is absent, and
/// [`crate::analysis::plot::render_plots`] (default windows) then or when `plots/`
/// holds no SVG.
/// Every plot is inlined, so the file is self-contained.
pub fn write_report(dir: &Path) -> Result<PathBuf> {
    let (an, svgs) = analysis_and_plots(dir)?;
    let summary = match rundir::read_summary_if_present(dir)? {
        Some(s) => serde_json::to_value(s).context("serialising the summary")?,
        None => Value::Null,
    };
    let name = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    // A run is written in `DIR.partial` and renamed: title it by its final name.
    let name = name
        .strip_suffix(rundir::marker::PARTIAL_SUFFIX)
        .map(str::to_string)
        .unwrap_or(name);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>seqlearn-nest run {}</title>\n<style>{}</style></head>\n<body>\n<h1>Run <code>{}</code></h1>\n",
        esc(&name),
        CSS,
        esc(&name)
    );
    h.push_str("<p class=\"small\"><a href=\"#summary\">summary</a> · <a href=\"#readout\">readouts</a> · <a href=\"#assemblies\">assemblies</a> · <a href=\"#protocol\">protocol</a> · <a href=\"#plots\">plots</a> · <a href=\"#parameters\">parameters</a></p>\n");
    summary_section(&mut h, &summary);
    readout_section(&mut h, &an);
    assembly_section(&mut h, &an);
    protocol_section(&mut h, dir)?;
    plots_section(&mut h, &svgs)?;
    parameters_section(&mut h, &summary, &an);
    h.push_str(SCRIPT);
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    std::fs::write(&path, h).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// analysis.json (analysing the run first when it is absent) and the SVG
/// files of `plots/` in display order (rendering them when there are none
/// or the analysis was just made).
fn analysis_and_plots(dir: &Path) -> Result<(Value, Vec<PathBuf>)> {
    let analysis_path = dir.join("analysis.json");
    let analysed_now = !analysis_path.exists();
    if analysed_now {
        analysis::analyse_run(dir, &analysis::AnalysisOptions::default())?;
    }
    let an: Value = serde_json::from_str(
        &std::fs::read_to_string(&analysis_path)
            .with_context(|| format!("cannot read {}", analysis_path.display()))?,
    )
    .with_context(|| format!("{}: invalid JSON", analysis_path.display()))?;
    let plots_dir = dir.join("plots");
    let list_svgs = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&plots_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "svg"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|p| {
            let n = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // the start window before the end window
            let w = if n.ends_with("_start.svg") { 0 } else { 1 };
            (rank(&n), w, n)
        });
        v
    };
    if analysed_now || list_svgs().is_empty() {
        crate::analysis::plot::render_plots(dir, None)?;
    }
    Ok((an, list_svgs()))
}

fn summary_section(h: &mut String, summary: &Value) {
    // --- run summary
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    let g = |k: &str| summary.get(k);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (label, v) in [
        ("backend", g("backend")),
        ("seed", g("seed")),
        ("threads", g("threads")),
        ("simulated (ms)", g("simulated_ms")),
        ("real-time factor (wall / simulated)", g("rtf")),
    ] {
        rows.push(vec![label.into(), num(v)]);
    }
    for sect in ["wall_s", "counts", "versions"] {
        if let Some(Value::Object(m)) = g(sect) {
            for (k, v) in m {
                rows.push(vec![format!("{sect}.{k}"), show(v)]);
            }
        }
    }
    if summary.is_null() {
        rows.push(vec!["summary.json".into(), "absent".into()]);
    }
    table(h, &["quantity", "value"], &rows);
}

fn readout_section(h: &mut String, an: &Value) {
    // --- readout
    h.push_str("<h2 id=\"readout\">Linear readouts</h2>\n<p>Held-out test phases pooled (per fit group: the test phases after each run of readout_fit phases); <em>fit</em> = in-sample on the readout_fit phase(s). Targets: sequences with identical content are one target. Accuracy: argmax over targets and noise (threshold 0.5 for one target); chance = always answering the most frequent class. Details: docs/analysis.md, all numbers: readout.csv.</p>\n");
    let mut rows = Vec::new();
    if let Some(Value::Array(ro)) = an.get("readout") {
        for r in ro {
            let fit = r
                .get("fit")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            let test = r
                .get("test")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for (i, t) in test.iter().enumerate() {
                let phases = |k: &str| {
                    r.get(k)
                        .and_then(|v| v.as_array())
                        .map(|a| a.iter().map(show).collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                };
                rows.push(vec![
                    show(r.get("protocol").unwrap_or(&Value::Null)),
                    show(r.get("features").unwrap_or(&Value::Null)),
                    format!("{} → {}", phases("fit_phases"), phases("test_phases")),
                    show(t.get("target").unwrap_or(&Value::Null)),
                    num(t.get("r")),
                    num(t.get("accuracy")),
                    num(fit.get(i).and_then(|f| f.get("r"))),
                    num(r.get("test_accuracy")),
                    num(r.get("test_accuracy_chance")),
                    num(r.get("lambda")),
                    format!(
                        "{} / {}",
                        num(r.get("n_fit_samples")),
                        num(r.get("n_test_samples"))
                    ),
                ]);
            }
        }
    }
    if rows.is_empty() {
        h.push_str("<p class=\"warn\">No readout results (see warnings).</p>\n");
    } else {
        table(
            h,
            &[
                "protocol",
                "features",
                "phases fit → test",
                "target",
                "test r",
                "test accuracy",
                "fit r (in-sample)",
                "test accuracy, all classes",
                "chance",
                "ridge penalty",
                "samples fit / test",
            ],
            &rows,
        );
    }
}

fn assembly_section(h: &mut String, an: &Value) {
    // --- assemblies
    h.push_str("<h2 id=\"assemblies\">Assemblies</h2>\n<p>Modulated: per-neuron Mann–Whitney U test of spike rates in pattern presentations vs noise segments (two-sided, p &lt; alpha). Locking: resultant length of each neuron's per-presentation activation phase across presentations (chance level for the same counts beside it). Split-half: circular correlation of activation phases from even vs odd presentations. All numbers: assemblies.csv.</p>\n");
    let mut rows = Vec::new();
    if let Some(Value::Array(asm)) = an.get("assemblies") {
        for a in asm {
            let f = |k: &str| num(a.get(k));
            rows.push(vec![
                f("target"),
                format!("{} / {}", f("n_presentations"), f("n_noise_segments")),
                format!("{}–{}", f("window_start_ms"), f("window_end_ms")),
                f("fraction_modulated"),
                format!("{} / {}", f("fraction_up"), f("fraction_down")),
                format!("{} (chance {})", f("locking_mean"), f("locking_chance")),
                f("locking_mean_modulated"),
                f("split_half_corr"),
                format!("{} / {}", f("rate_pattern_hz"), f("rate_noise_hz")),
            ]);
        }
    }
    if rows.is_empty() {
        h.push_str("<p class=\"warn\">No assembly statistics (see warnings).</p>\n");
    } else {
        table(
            h,
            &[
                "target",
                "presentations / noise segments",
                "window (ms)",
                "fraction modulated",
                "up / down",
                "locking",
                "locking (modulated)",
                "split-half corr.",
                "rate pattern / noise (Hz per neuron)",
            ],
            &rows,
        );
    }
    if let Some(Value::Array(ts)) = an.get("ordering").and_then(|o| o.get("targets")) {
        let rows: Vec<Vec<String>> = ts
            .iter()
            .map(|t| {
                vec![
                    num(t.get("target")),
                    num(t.get("source")),
                    num(t.get("presentations_used")),
                    format!("{}–{}", num(t.get("start_ms")), num(t.get("end_ms"))),
                    num(t.get("n_with_phase")),
                    num(t.get("mean_resultant_length")),
                ]
            })
            .collect();
        h.push_str("<h3>Neuron ordering</h3>\n");
        table(
            h,
            &[
                "target",
                "activation from",
                "presentations",
                "reference presentation (ms)",
                "neurons with a phase",
                "mean resultant length",
            ],
            &rows,
        );
    }
    if let Some(Value::Array(w)) = an.get("warnings") {
        if !w.is_empty() {
            h.push_str("<h3>Warnings</h3><ul class=\"warn\">\n");
            for x in w {
                let _ = writeln!(h, "<li>{}</li>", esc(&show(x)));
            }
            h.push_str("</ul>\n");
        }
    }
}

fn protocol_section(h: &mut String, dir: &Path) -> Result<()> {
    // --- protocol
    if dir.join(schema::PROTOCOL.name).exists() {
        let prot = rundir::read_protocol(dir)?;
        let rows: Vec<Vec<String>> = prot
            .iter()
            .map(|p| {
                vec![
                    p.phase.to_string(),
                    p.name.clone(),
                    p.role.as_str().to_string(),
                    fmt_num(p.start_ms),
                    fmt_num(p.end_ms),
                    p.train.to_string(),
                    p.reset.to_string(),
                ]
            })
            .collect();
        h.push_str("<h2 id=\"protocol\">Protocol</h2>\n");
        table(
            h,
            &[
                "phase",
                "name",
                "role",
                "start (ms)",
                "end (ms)",
                "train",
                "reset",
            ],
            &rows,
        );
    }

    Ok(())
}

fn plots_section(h: &mut String, svgs: &[PathBuf]) -> Result<()> {
    // --- plots
    h.push_str("<h2 id=\"plots\">Plots</h2>\n");
    for (i, p) in svgs.iter().enumerate() {
        let file = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let svg =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let svg = match svg.find("<svg") {
            Some(at) => &svg[at..],
            None => anyhow::bail!("{}: not an SVG file", p.display()),
        };
        let _ = write!(
            h,
            "<figure id=\"fig-{i}\" data-file=\"{}\">\n{}\n<figcaption><b>{}</b> — {}</figcaption></figure>\n",
            esc(&file),
            svg,
            esc(&file),
            esc(&caption(&file))
        );
    }

    Ok(())
}

fn parameters_section(h: &mut String, summary: &Value, an: &Value) {
    // --- parameters
    h.push_str("<h2 id=\"parameters\">Parameters (summary.json <code>config</code>)</h2>\n");
    let mut params = Vec::new();
    if let Some(c) = summary.get("config") {
        flatten("", c, &mut params);
    }
    if params.is_empty() {
        h.push_str("<p class=\"warn\">summary.json has no config.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = params.into_iter().map(|(k, v)| vec![k, v]).collect();
        table(h, &["parameter", "value"], &rows);
    }
    let consts = an.get("constants");
    let _ = writeln!(
        h,
        "<p class=\"small\">Analysis constants: dt = {} ms ({}), tau_decay = {} ms ({}).</p>",
        num(consts.and_then(|c| c.get("dt_ms"))),
        esc(&num(consts.and_then(|c| c.get("dt_from")))),
        num(consts.and_then(|c| c.get("tau_decay_ms"))),
        esc(&num(consts.and_then(|c| c.get("tau_decay_from"))))
    );
}

const CSS: &str = "body{font-family:sans-serif;margin:1.5em auto;max-width:1150px;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#f0f0f0}\
figure{margin:1.2em 0;border-top:1px solid #ddd;padding-top:.6em}\
figure svg{max-width:100%;height:auto;display:block}\
figcaption{font-size:13px;color:#444;margin-top:.3em}\
.warn{color:#a40}.small{font-size:12px;color:#555}";

/// Marks the body with how many inline SVGs have a non-empty layout box and
/// drawn content (`data-svg-rendered="k/n"`) and the page height, and each
/// figure with its image's page box (`data-box="left,top,width,height"`),
/// for automated checks in a headless browser.
const SCRIPT: &str = "<script>\n(function(){var s=document.querySelectorAll('figure svg');var ok=0;\
for(var i=0;i<s.length;i++){var r=s[i].getBoundingClientRect();\
var n=s[i].querySelectorAll('path,rect,line,polyline,polygon,circle,text').length;\
if(r.width>10&&r.height>10&&n>0)ok++;\
s[i].parentNode.setAttribute('data-box',[Math.round(r.left+window.scrollX),Math.round(r.top+window.scrollY),Math.round(r.width),Math.round(r.height)].join(','));}\
document.body.setAttribute('data-svg-rendered',ok+'/'+s.length);\
document.body.setAttribute('data-page-height',Math.ceil(document.documentElement.scrollHeight));})();\n</script>\n";
