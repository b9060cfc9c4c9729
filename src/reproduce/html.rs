//! `reproduction.html`: per experiment its description, figures (inline SVG
//! drawn here; rasters of the first seed's run directory as linked images)
//! and a table of every measure as mean ± sd over seeds, with what the
//! original's design implies; a list of where the model fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{ExperimentResult, ReproduceOptions, Reproduction, Row};
use crate::analysis::tasks::{ReadoutTrace, Task};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Mean and sample SD of the finite values (NaN when none).
pub fn mean_sd(v: &[f64]) -> (f64, f64, usize) {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let n = f.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let m = f.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    (m, sd, n)
}

fn fmt_ms(m: f64, sd: f64, n: usize) -> String {
    if n == 0 {
        "—".into()
    } else {
        format!("{m:.3} ± {sd:.3}")
    }
}

/// What the original's design implies for a measure (no numbers of the
/// original code are available in this project).
pub fn expectation(task: Task, target: &str, features: &str, measure: &str) -> &'static str {
    match (task, measure, features) {
        (Task::Xor, "r", "stimulus") if target == "xor" => {
            "≈ 0: XOR is not a linear function of the current input traces"
        }
        (Task::Xor, "r", "stimulus") => {
            "low: 20 ms input traces hold little of a pattern 50 ms ago"
        }
        (Task::Xor, "r", "network") => "above the stimulus value (the claim of the task)",
        (Task::Multi, "r", "stimulus") if target.contains("(t-H)") => {
            "low: the input traces forget within ~20 ms"
        }
        (Task::Multi, "r", "stimulus") if target.contains('*') => {
            "below the network: a product is not linear in the traces"
        }
        (Task::Multi, "r", "stimulus") => "high: r1, r2 are linear in the input traces",
        (Task::Multi, "r", "network") if target.contains('*') => {
            "above the stimulus value (the claim of the task)"
        }
        (Task::Pattern, "cc13", _) => "high after training (same pattern, reliable response)",
        (Task::Pattern, "cc12", _) => "below cc13 when the sequences differ",
        _ => "",
    }
}

/// Averages the test phases (not in-sample rows) of each seed, then over
/// seeds: `(protocol, target) -> features -> (mean, sd, n)`.
type Pivot = BTreeMap<(String, String), BTreeMap<String, (f64, f64, usize)>>;

fn network_vs_stimulus(rows: &[&Row]) -> Pivot {
    let mut per_seed: BTreeMap<(String, String, String, u64), Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.measure.measure == "r" && !r.measure.phase.contains("in-sample"))
    {
        let m = &r.measure;
        per_seed
            .entry((
                m.protocol.clone(),
                m.target.clone(),
                m.features.clone(),
                r.seed,
            ))
            .or_default()
            .push(m.value);
    }
    let mut grouped: BTreeMap<(String, String, String), Vec<f64>> = BTreeMap::new();
    for ((p, t, f, _), v) in per_seed {
        grouped.entry((p, t, f)).or_default().push(mean_sd(&v).0);
    }
    let mut out = Pivot::new();
    for ((p, t, f), v) in grouped {
        out.entry((p, t)).or_default().insert(f, mean_sd(&v));
    }
    out
}

/// The page.
pub fn render(rep: &Reproduction, opts: &ReproduceOptions) -> String {
    let mut h = String::new();
    h.push_str(HEAD);
    let _ = writeln!(
        h,
        "<h1>Reproduction of Klampfl &amp; Maass (2013): the original experiments</h1>\
         <p>Backend <b>{:?}</b>, {} seed(s) per experiment, phase durations × {}. \
         {} run(s) simulated now, {} kept from before. Rows: <code>reproduction.json</code>. \
         Protocols: <b>original</b> = plain least squares with bias on the original's \
         sample grid (in-sample rows are marked); <b>ridge_cv</b> = ridge, penalty by 5-fold \
         CV on the fit phase, scored on held-out test phases. Features: <b>network</b> = \
         traces of the network's spikes, <b>stimulus</b> = traces of the input spikes \
         (the baseline). No numbers of the original code are available inside this \
         project; the column <i>original's design implies</i> says what its design predicts.</p>",
        opts.backend, opts.seeds, opts.scale, rep.ran, rep.reused
    );
    failures_section(&mut h, rep);
    for e in &rep.experiments {
        let rows: Vec<&Row> = rep.rows.iter().filter(|r| r.experiment == e.name).collect();
        experiment_section(&mut h, e, &rows);
    }
    h.push_str(TAIL);
    h
}

/// "Where the model fails": every (protocol, target) where the network is
/// not better than the stimulus, and failed runs.
fn failures_section(h: &mut String, rep: &Reproduction) {
    let mut items = Vec::new();
    for f in &rep.failed {
        items.push(format!("run failed: {}", esc(f)));
    }
    for e in &rep.experiments {
        let rows: Vec<&Row> = rep.rows.iter().filter(|r| r.experiment == e.name).collect();
        if e.task == Task::Pattern {
            continue;
        }
        for ((proto, target), by) in network_vs_stimulus(&rows) {
            let (Some(n), Some(s)) = (by.get("network"), by.get("stimulus")) else {
                continue;
            };
            let better = n.0.partial_cmp(&s.0) == Some(std::cmp::Ordering::Greater);
            if !better {
                items.push(format!(
                    "{}: target <b>{}</b> ({proto}): network r {:.3} is not above stimulus r {:.3}",
                    e.name,
                    esc(&target),
                    n.0,
                    s.0
                ));
            }
        }
    }
    h.push_str("<h2 id=\"failures\">Where the model fails</h2>");
    if items.is_empty() {
        h.push_str("<p>Nowhere in this suite: in every task the network's readout beats the stimulus baseline.</p>");
    } else {
        h.push_str("<ul class=\"fail\">");
        for i in items {
            let _ = write!(h, "<li>{i}</li>");
        }
        h.push_str("</ul>");
    }
}

fn experiment_section(h: &mut String, e: &ExperimentResult, rows: &[&Row]) {
    let _ = write!(
        h,
        "<section id=\"{0}\"><h2>{0}</h2><p class=\"desc\">{1}</p>",
        esc(&e.name),
        esc(&e.description)
    );
    if rows.is_empty() {
        h.push_str("<p class=\"fail\">No finished run: nothing to show.</p></section>");
        return;
    }
    if e.task != Task::Pattern {
        bar_figure(h, e, &network_vs_stimulus(rows));
        if rows.iter().any(|r| r.measure.measure == "cc13") {
            curve_figure(h, e, rows);
        }
        for t in &e.traces {
            trace_figure(h, &e.name, t);
        }
    } else if let Some(run) = e.runs.first() {
        for (file, caption) in [
            ("input_raster_end.svg", "input spikes at the end of the run"),
            (
                "network_raster_ordered_start.svg",
                "network spikes at the start, ordered by the end's assemblies",
            ),
            (
                "network_raster_ordered_end.svg",
                "network spikes at the end (after training), ordered",
            ),
        ] {
            let _ = write!(
                h,
                "<figure><img class=\"fig\" src=\"{run}/plots/{file}\" alt=\"{caption}\" width=\"900\">\
                 <figcaption>{} (seed run {run})</figcaption></figure>",
                esc(caption)
            );
        }
    }
    measure_table(h, e.task, rows);
    h.push_str("</section>");
}

/// Mean ± sd over seeds of every (protocol, features, target, measure, phase).
fn measure_table(h: &mut String, task: Task, rows: &[&Row]) {
    let mut g: BTreeMap<(String, String, String, String, String), Vec<f64>> = BTreeMap::new();
    for r in rows {
        let m = &r.measure;
        g.entry((
            m.target.clone(),
            m.measure.clone(),
            m.protocol.clone(),
            m.features.clone(),
            m.phase.clone(),
        ))
        .or_default()
        .push(m.value);
    }
    h.push_str(
        "<table><tr><th>target</th><th>measure</th><th>protocol</th><th>features</th>\
         <th>phase</th><th>mean ± sd</th><th>seeds</th><th>original's design implies</th></tr>",
    );
    for ((t, m, p, f, ph), v) in g {
        let (mean, sd, n) = mean_sd(&v);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{n}/{}</td><td>{}</td></tr>",
            esc(&t),
            esc(&m),
            esc(&p),
            esc(&f),
            esc(&ph),
            fmt_ms(mean, sd, n),
            v.len(),
            esc(expectation(task, &t, &f, &m))
        );
    }
    h.push_str("</table>");
}

/// Bars of r (test phases) per target: network vs stimulus, per protocol.
fn bar_figure(h: &mut String, e: &ExperimentResult, pivot: &Pivot) {
    let (w, ht, left, bottom) = (900.0, 300.0, 50.0, 60.0);
    let groups: Vec<_> = pivot.iter().collect();
    let gw = (w - left - 10.0) / groups.len().max(1) as f64;
    let y = |v: f64| 10.0 + (1.0 - v.clamp(-0.2, 1.0)) / 1.2 * (ht - bottom - 10.0);
    let mut s = format!("<svg class=\"fig\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\">");
    for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let (x2, yy, tx, ty) = (w - 10.0, y(v), left - 4.0, y(v) + 4.0);
        let _ = write!(s, "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{v}</text>");
    }
    for (i, ((proto, target), by)) in groups.iter().enumerate() {
        let x0 = left + i as f64 * gw;
        for (k, (feat, color)) in [("network", "#1f77b4"), ("stimulus", "#ff7f0e")]
            .iter()
            .enumerate()
        {
            let Some(&(m, sd, _)) = by.get(*feat) else {
                continue;
            };
            if !m.is_finite() {
                continue;
            }
            let bx = x0 + gw * (0.15 + 0.35 * k as f64);
            let (top, base) = (y(m.max(-0.2)), y(0.0));
            let (ry, bw, bh) = (top.min(base), gw * 0.3, (base - top).abs().max(1.0));
            let (lx, y1, y2) = (bx + gw * 0.15, y(m + sd), y(m - sd));
            let _ = write!(
                s,
                "<rect x=\"{bx:.1}\" y=\"{ry:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{feat} {m:.3} ± {sd:.3}</title></rect>\
                 <line x1=\"{lx:.1}\" x2=\"{lx:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\" stroke=\"#000\"/>"
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            x0 + gw / 2.0,
            ht - bottom + 16.0,
            esc(target),
            x0 + gw / 2.0,
            ht - bottom + 30.0,
            esc(proto)
        );
    }
    let _ = write!(s, "<rect x=\"{left}\" y=\"{}\" width=\"12\" height=\"10\" fill=\"#1f77b4\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">network</text><rect x=\"{}\" y=\"{0}\" width=\"12\" height=\"10\" fill=\"#ff7f0e\"/><text x=\"{}\" y=\"{2}\" font-size=\"11\">stimulus (input traces)</text></svg>", ht - 18.0, left + 16.0, ht - 9.0, left + 90.0, left + 106.0);
    let _ = write!(
        h,
        "<figure>{s}<figcaption>{}: readout r on the test phases (mean ± sd over seeds) per target and protocol; network vs the input-only baseline.</figcaption></figure>",
        esc(&e.name)
    );
}

/// Phases in order of first appearance and the per-seed values of each.
type Curve = (Vec<String>, BTreeMap<String, Vec<f64>>);

/// Curves over the test phases in protocol order (e.g. xor_pattern's
/// blocks: XOR/delay r after 0, 5, ..., 100 s of training on the pattern
/// input, and cc12/cc13 of the pattern responses): original protocol, mean
/// over seeds; one curve per (features, target, measure).
fn curve_figure(h: &mut String, e: &ExperimentResult, rows: &[&Row]) {
    let mut curves: BTreeMap<String, Curve> = BTreeMap::new();
    for r in rows {
        let m = &r.measure;
        if m.protocol != "original" || m.phase.contains("in-sample") {
            continue;
        }
        let key = format!("{} {} {}", m.features, m.target, m.measure);
        let (order, vals) = curves.entry(key).or_default();
        if !order.contains(&m.phase) {
            order.push(m.phase.clone());
        }
        vals.entry(m.phase.clone()).or_default().push(m.value);
    }
    let (w, ht, left, bottom) = (900.0, 300.0, 50.0, 40.0);
    let n = curves.values().map(|c| c.0.len()).max().unwrap_or(0).max(2);
    let x = |i: usize| left + i as f64 / (n - 1) as f64 * (w - left - 200.0);
    let y = |v: f64| 10.0 + (1.0 - v.clamp(-0.2, 1.0)) / 1.2 * (ht - bottom - 10.0);
    let mut s = format!("<svg class=\"fig\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\">");
    for v in [0.0, 0.5, 1.0] {
        let (yy, tx) = (y(v), left - 4.0);
        let _ = write!(s, "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{v}</text>", x(n - 1), yy + 4.0);
    }
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    for (i, (key, (order, vals))) in curves.iter().enumerate() {
        let c = colors[i % colors.len()];
        let pts: Vec<String> = order
            .iter()
            .enumerate()
            .filter_map(|(k, ph)| {
                let m = mean_sd(&vals[ph]).0;
                m.is_finite().then(|| format!("{:.1},{:.1}", x(k), y(m)))
            })
            .collect();
        let ly = 20.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" points=\"{}\"/><text x=\"{}\" y=\"{ly}\" font-size=\"11\" fill=\"{c}\">{}</text>",
            pts.join(" "),
            w - 190.0,
            esc(key)
        );
    }
    let _ = write!(s, "<text x=\"{left}\" y=\"{}\" font-size=\"11\">test phase in protocol order (block 0 = before training) →</text></svg>", ht - 12.0);
    let _ = write!(
        h,
        "<figure>{s}<figcaption>{}: measures over the test phases in protocol order (original protocol, mean over seeds; r vs training time and cc12/cc13).</figcaption></figure>",
        esc(&e.name)
    );
}

/// Target, network readout and stimulus readout over one test phase.
fn trace_figure(h: &mut String, name: &str, t: &ReadoutTrace) {
    let (w, ht, left) = (900.0, 180.0, 50.0);
    let all = t
        .target_values
        .iter()
        .chain(&t.network)
        .chain(&t.stimulus)
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let (t0, t1) = (
        t.time_ms.first().copied().unwrap_or(0.0),
        t.time_ms.last().copied().unwrap_or(1.0),
    );
    let x = |v: f64| left + (v - t0) / (t1 - t0).max(1e-9) * (w - left - 10.0);
    let y = |v: f64| 10.0 + (hi - v) / (hi - lo) * (ht - 40.0);
    let mut s = format!("<svg class=\"fig\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"{left}\" y=\"10\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#ccc\"/>", w - left - 10.0, ht - 40.0);
    for (vals, color, label) in [
        (&t.target_values, "#000", "target"),
        (&t.network, "#1f77b4", "network"),
        (&t.stimulus, "#ff7f0e", "stimulus"),
    ] {
        let pts: Vec<String> = t
            .time_ms
            .iter()
            .zip(vals.iter())
            .filter(|(_, v)| v.is_finite())
            .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
            .collect();
        let _ = write!(s, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.2\" points=\"{}\"><title>{label}</title></polyline>", pts.join(" "));
    }
    let _ = write!(s, "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{t0:.0} ms</text><text x=\"{}\" y=\"{0}\" font-size=\"11\" text-anchor=\"end\">{t1:.0} ms</text><text x=\"{}\" y=\"{0}\" font-size=\"11\" text-anchor=\"middle\">black: target, blue: network readout, orange: stimulus readout</text></svg>", ht - 14.0, w - 10.0, w / 2.0);
    let _ = write!(
        h,
        "<figure>{s}<figcaption>{}: target <b>{}</b> in phase {} (first seed, original protocol).</figcaption></figure>",
        esc(name),
        esc(&t.target),
        esc(&t.phase)
    );
}

const HEAD: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>seqlearn-nest reproduction</title><style>\
body{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.fail{color:#a00}figure{margin:1em 0}.desc{font-size:14px;color:#333}\
img.fig{border:1px solid #eee}</style></head><body>";

/// Marks on `<body>` how many figures rendered: `data-figures-rendered="k/n"`
/// (an inline SVG with a layout box, an image that loaded), and every
/// figure's page box as `data-box` (used by the headless-browser test).
const TAIL: &str = "<script>window.addEventListener('load',function(){var f=document.querySelectorAll('.fig'),k=0;\
f.forEach(function(e){var r=e.getBoundingClientRect();var ok=e.tagName.toLowerCase()==='img'?(e.complete&&e.naturalWidth>0):(r.width>0&&r.height>0&&e.childNodes.length>0);\
if(ok){k++;}e.setAttribute('data-box',[Math.round(r.left+scrollX),Math.round(r.top+scrollY),Math.round(r.width),Math.round(r.height)].join(','));});\
document.body.setAttribute('data-figures-rendered',k+'/'+f.length);});</script></body></html>";
