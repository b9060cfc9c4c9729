//! The network files: circuits, neurons, sources, circuit pairs, synapses.
//! Written from a [`Network`], read back into one for `--replay`, with
//! the STP parameters checked to have one source of truth (sources.csv
//! vs synapses.csv, see [`schema::SYNAPSES`]).

use std::path::Path;

use anyhow::{Context, Result};

use super::schema::{self, CIRCUITS, CIRCUIT_PAIRS, NEURONS, SOURCES, SYNAPSES};
use super::table::{Reader, Writer};
use super::{fmt_f64, fmt_opt};
use crate::model::config::show;
use crate::model::network::{Circuit, Network, StpParams, Synapse};
use crate::usage;

/// Final state to put into the network files, when a run has one.
pub struct FinalState<'a> {
    pub weights: &'a [f64],
    pub bias: &'a [f64],
}

/// Writes circuits, neurons, sources, circuit pairs and synapses.
pub fn write_network(dir: &Path, net: &Network, fin: Option<FinalState>) -> Result<()> {
    let mut t = Writer::create(dir, &CIRCUITS)?;
    for (i, c) in net.circuits.iter().enumerate() {
        let ids = [i, c.x, c.y, c.k, c.first_neuron].map(|v| v.to_string());
        t.row(ids.into_iter().chain([c.trained.to_string()]))?;
    }
    t.finish()?;
    let mut t = Writer::create(dir, &NEURONS)?;
    for (k, c) in net.neuron_circuit.iter().enumerate() {
        let b = fin.as_ref().map(|s| s.bias[k]);
        t.row([
            k.to_string(),
            c.to_string(),
            fmt_f64(net.bias0[k]),
            fmt_opt(b),
        ])?;
    }
    t.finish()?;
    let mut t = Writer::create(dir, &SOURCES)?;
    for (j, p) in net.source_stp.iter().enumerate() {
        let (kind, index) = if net.is_input_source(j) {
            ("input", j)
        } else {
            ("neuron", j - net.n_inputs)
        };
        t.row([
            j.to_string(),
            kind.into(),
            index.to_string(),
            fmt_f64(p.u),
            fmt_f64(p.d),
            fmt_f64(p.f),
        ])?;
    }
    t.finish()?;
    let mut t = Writer::create(dir, &CIRCUIT_PAIRS)?;
    for &(a, b) in &net.circuit_pairs {
        t.row([a.to_string(), b.to_string()])?;
    }
    t.finish()?;
    write_synapses(dir, net, fin.as_ref().map(|f| f.weights))
}

fn write_synapses(dir: &Path, net: &Network, w_final: Option<&[f64]>) -> Result<()> {
    let mut t = Writer::create(dir, &SYNAPSES)?;
    for (i, s) in net.synapses.iter().enumerate() {
        let kind = if net.is_input_source(s.source) {
            "input"
        } else {
            "recurrent"
        };
        t.row([
            i.to_string(),
            s.source.to_string(),
            s.target.to_string(),
            net.slot(i).to_string(),
            kind.into(),
            fmt_f64(s.w0),
            fmt_opt(w_final.map(|w| w[i])),
            fmt_f64(s.stp.u),
            fmt_f64(s.stp.d),
            fmt_f64(s.stp.f),
        ])?;
    }
    t.finish()
}

/// Reads `circuits.csv`; circuit ids must be `0..` in order.
pub fn read_circuits(dir: &Path) -> Result<Vec<Circuit>> {
    let mut r = Reader::open(dir, &CIRCUITS)?;
    let [id, x, y, k, first, trained] =
        r.cols(["circuit", "x", "y", "k", "first_neuron", "trained"]);
    let mut out = Vec::new();
    r.for_each(|row| {
        if row.usize(id)? != out.len() {
            return Err(usage!(
                "{}: circuit ids must be 0, 1, ... in order",
                row.at()
            ));
        }
        out.push(Circuit {
            x: row.usize(x)?,
            y: row.usize(y)?,
            k: row.usize(k)?,
            first_neuron: row.usize(first)?,
            trained: row.bool(trained)?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// The rows of `neurons.csv`: each neuron's circuit and initial bias.
pub struct Neurons {
    pub circuit: Vec<usize>,
    pub bias_initial: Vec<f64>,
}

/// Reads `neurons.csv`; neuron ids must be `0..` in order.
pub fn read_neurons(dir: &Path) -> Result<Neurons> {
    let mut r = Reader::open(dir, &NEURONS)?;
    let [id, c, b] = r.cols(["neuron", "circuit", "bias_initial"]);
    let mut out = Neurons {
        circuit: Vec::new(),
        bias_initial: Vec::new(),
    };
    r.for_each(|row| {
        if row.usize(id)? != out.circuit.len() {
            return Err(usage!(
                "{}: neuron ids must be 0, 1, ... in order",
                row.at()
            ));
        }
        out.circuit.push(row.usize(c)?);
        out.bias_initial.push(row.f64(b)?);
        Ok(())
    })?;
    Ok(out)
}

/// Reads `sources.csv`: the per-source STP parameters and the number of
/// input sources (the `input` rows, which come first).
pub fn read_sources(dir: &Path) -> Result<(Vec<StpParams>, usize)> {
    let mut r = Reader::open(dir, &SOURCES)?;
    let [id, kind, index, u, d, f] = r.cols(["source", "kind", "index", "U", "D_ms", "F_ms"]);
    let mut stp = Vec::new();
    let mut n_inputs = 0;
    r.for_each(|row| {
        let j = stp.len();
        let is_input = row.choice(kind)? == "input";
        n_inputs += usize::from(is_input);
        let expected = if is_input {
            j
        } else {
            j.wrapping_sub(n_inputs)
        };
        let ordered = is_input == (n_inputs == j + 1);
        if row.usize(id)? != j || row.usize(index)? != expected || !ordered {
            return Err(usage!(
                "{}: sources must be the inputs 0.. (index = channel), then the neurons \
                 (index = neuron id), with source ids 0, 1, ... in order",
                row.at()
            ));
        }
        stp.push(StpParams {
            u: row.f64(u)?,
            d: row.f64(d)?,
            f: row.f64(f)?,
        });
        Ok(())
    })?;
    Ok((stp, n_inputs))
}

/// Reads `circuit_pairs.csv`.
pub fn read_circuit_pairs(dir: &Path) -> Result<Vec<(usize, usize)>> {
    let mut r = Reader::open(dir, &CIRCUIT_PAIRS)?;
    let [a, b] = r.cols(["pre_circuit", "post_circuit"]);
    let mut out = Vec::new();
    r.for_each(|row| {
        out.push((row.usize(a)?, row.usize(b)?));
        Ok(())
    })?;
    Ok(out)
}

/// Reads `synapses.csv` (ids `0..` in order) with each synapse's target
/// offsets; targets must be below `n_neurons` and ascending.
fn read_synapses(dir: &Path, n_neurons: usize) -> Result<(Vec<Synapse>, Vec<usize>)> {
    let mut r = Reader::open(dir, &SYNAPSES)?;
    let [id, src, tgt, w0, u, d, f] = r.cols([
        "synapse",
        "source",
        "target",
        "w_initial",
        "U",
        "D_ms",
        "F_ms",
    ]);
    let mut synapses: Vec<Synapse> = Vec::new();
    let mut offsets = vec![0];
    r.for_each(|row| {
        let target = row.usize(tgt)?;
        let i = synapses.len();
        if row.usize(id)? != i || target >= n_neurons || offsets.len() > target + 1 {
            return Err(usage!(
                "{}: synapse ids must be 0, 1, ... in order, grouped by existing target \
                 neurons in ascending order",
                row.at()
            ));
        }
        while offsets.len() <= target {
            offsets.push(i);
        }
        synapses.push(Synapse {
            source: row.usize(src)?,
            target,
            w0: row.f64(w0)?,
            stp: StpParams {
                u: row.f64(u)?,
                d: row.f64(d)?,
                f: row.f64(f)?,
            },
        });
        Ok(())
    })?;
    while offsets.len() <= n_neurons {
        offsets.push(synapses.len());
    }
    Ok((synapses, offsets))
}

/// One source of truth for STP: a synapse's U, D, F must equal its
/// source's row of sources.csv, except recurrent synapses with
/// `stp_per_synapse` (then synapses.csv is authoritative for them).
fn check_stp(dir: &Path, net: &Network) -> Result<()> {
    for (i, s) in net.synapses.iter().enumerate() {
        if net.stp_per_synapse && !net.is_input_source(s.source) {
            continue;
        }
        let Some(p) = net.source_stp.get(s.source) else {
            continue; // reported by Network::validate
        };
        for (name, a, b) in [
            ("U", s.stp.u, p.u),
            ("D_ms", s.stp.d, p.d),
            ("F_ms", s.stp.f, p.f),
        ] {
            if a != b {
                let rule = if net.stp_per_synapse {
                    "input synapses take the STP parameters of their source even with \
                     network.stp_draw = \"per_synapse\""
                } else {
                    "with network.stp_draw = \"per_source\" every synapse takes the STP \
                     parameters of its source (set \"per_synapse\" to make synapses.csv \
                     authoritative for recurrent synapses)"
                };
                return Err(usage!(
                    "{}: synapse {i} (line {}) has {name} = {a}, but {} gives its source {} \
                     (line {}) {name} = {b}; {rule}",
                    dir.join(SYNAPSES.name).display(),
                    i + 2,
                    dir.join(SOURCES.name).display(),
                    s.source,
                    s.source + 2
                ));
            }
        }
    }
    Ok(())
}

/// Reads the network files of a run directory (for `--replay`).
pub fn read_network(dir: &Path, stp_per_synapse: bool) -> Result<Network> {
    let circuits = read_circuits(dir)?;
    let neurons = read_neurons(dir)?;
    if let Some((k, _)) = neurons
        .circuit
        .iter()
        .enumerate()
        .find(|(_, &c)| c >= circuits.len())
    {
        return Err(usage!(
            "{}: neuron {k} lies in circuit {}, but {} has {} circuits",
            dir.join(NEURONS.name).display(),
            neurons.circuit[k],
            schema::CIRCUITS.name,
            circuits.len()
        ));
    }
    let (source_stp, n_inputs) = read_sources(dir)?;
    if source_stp.len() != n_inputs + neurons.circuit.len() {
        return Err(usage!(
            "{}: needs one row per input channel and per neuron ({} neurons in {})",
            dir.join(SOURCES.name).display(),
            neurons.circuit.len(),
            NEURONS.name
        ));
    }
    let circuit_pairs = read_circuit_pairs(dir)?;
    let (synapses, target_offsets) = read_synapses(dir, neurons.circuit.len())?;
    let shape = [
        circuits
            .iter()
            .map(|c| c.x.saturating_add(1))
            .max()
            .unwrap_or(0),
        circuits
            .iter()
            .map(|c| c.y.saturating_add(1))
            .max()
            .unwrap_or(0),
    ];
    let net = Network {
        bias0: neurons.bias_initial,
        shape,
        n_inputs,
        circuits,
        neuron_circuit: neurons.circuit,
        source_stp,
        circuit_pairs,
        synapses,
        target_offsets,
        stp_per_synapse,
    };
    net.validate()
        .with_context(|| format!("network files in {}", dir.display()))?;
    check_layout(dir, &net)?;
    check_values(dir, &net)?;
    check_stp(dir, &net)?;
    Ok(net)
}

/// Largest `|w|` of an initial weight or bias in a replayed network: the
/// rates are `exp(u)`, so beyond it they overflow (learned values stay far
/// below).
pub const MAX_ABS_WEIGHT: f64 = 100.0;

/// Largest STP time constant (ms) in a replayed network.
pub const MAX_STP_MS: f64 = 1e6;

/// Bound (exclusive) of a replayed STP `U`. The model draws `U ~ N(0.5,
/// 0.25^2)` clipped at 0 only (model.md §4), so a run of its own has sources
/// with `U > 1`; the update `s <- U + s (1 - U) x` with `0 < x < 1` is a
/// contraction for `U < 2` and can grow without bound beyond it.
pub const MAX_STP_U: f64 = 2.0;

/// Cross-file references: circuits tile the neurons in order (no orphan
/// neuron), fill the grid once (no duplicate position), and the circuit
/// pairs name existing, distinct circuits once each.
fn check_layout(dir: &Path, net: &Network) -> Result<()> {
    let file = |f: &schema::FileSchema| dir.join(f.name).display().to_string();
    let mut next = 0;
    for (i, c) in net.circuits.iter().enumerate() {
        if c.first_neuron != next {
            return Err(usage!(
                "{}: circuit {i} starts at neuron {}, but the circuits before it end at {next}; \
                 circuits must cover the neurons 0.. in order without gaps",
                file(&CIRCUITS),
                c.first_neuron
            ));
        }
        next += c.k;
    }
    if next != net.n_neurons() {
        return Err(usage!(
            "{}: the circuits cover neurons 0..{next}, but {} lists {} neurons (neuron {next} \
             lies in no circuit)",
            file(&CIRCUITS),
            NEURONS.name,
            net.n_neurons()
        ));
    }
    let [n, m] = net.shape;
    if n.checked_mul(m) != Some(net.circuits.len()) {
        return Err(usage!(
            "{}: {} circuits do not fill the {n} x {m} grid their positions span",
            file(&CIRCUITS),
            net.circuits.len()
        ));
    }
    let mut seen = vec![false; n * m];
    for (i, c) in net.circuits.iter().enumerate() {
        if c.x >= n || c.y >= m {
            return Err(usage!(
                "{}: circuit {i} lies at ({}, {}), outside the {n} x {m} grid",
                file(&CIRCUITS),
                c.x,
                c.y
            ));
        }
        let at = c.x * m + c.y;
        if seen[at] {
            return Err(usage!(
                "{}: circuit {i} repeats grid position ({}, {})",
                file(&CIRCUITS),
                c.x,
                c.y
            ));
        }
        seen[at] = true;
    }
    let p = net.circuits.len();
    let mut marked = std::collections::HashSet::new();
    for (row, &(a, b)) in net.circuit_pairs.iter().enumerate() {
        if a >= p || b >= p || a == b || !marked.insert((a, b)) {
            return Err(usage!(
                "{} line {}: pair ({a}, {b}) must name two different existing circuits \
                 (0..{p}) and appear once",
                file(&CIRCUIT_PAIRS),
                row + 2
            ));
        }
    }
    Ok(())
}

/// Values in range: finite weights and biases within `MAX_ABS_WEIGHT`, STP
/// `U` in [0, MAX_STP_U) and `D`, `F` in [0, MAX_STP_MS].
fn check_values(dir: &Path, net: &Network) -> Result<()> {
    let ok_w = |w: f64| w.abs() <= MAX_ABS_WEIGHT;
    if let Some(k) = net.bias0.iter().position(|&b| !ok_w(b)) {
        return Err(usage!(
            "{} line {}: bias_initial = {} must be finite with |b| <= {MAX_ABS_WEIGHT}",
            dir.join(NEURONS.name).display(),
            k + 2,
            show(net.bias0[k])
        ));
    }
    if let Some(i) = net.synapses.iter().position(|s| !ok_w(s.w0)) {
        return Err(usage!(
            "{} line {}: w_initial = {} must be finite with |w| <= {MAX_ABS_WEIGHT}",
            dir.join(SYNAPSES.name).display(),
            i + 2,
            show(net.synapses[i].w0)
        ));
    }
    let bad_stp = |p: &StpParams| {
        !((0.0..MAX_STP_U).contains(&p.u)
            && (0.0..=MAX_STP_MS).contains(&p.d)
            && (0.0..=MAX_STP_MS).contains(&p.f))
    };
    let rule = format!("U must lie in [0, {MAX_STP_U}), D_ms and F_ms in [0, {MAX_STP_MS}]");
    if let Some(j) = net.source_stp.iter().position(bad_stp) {
        let p = net.source_stp[j];
        return Err(usage!(
            "{} line {}: U = {}, D_ms = {}, F_ms = {}: {rule}",
            dir.join(SOURCES.name).display(),
            j + 2,
            show(p.u),
            show(p.d),
            show(p.f)
        ));
    }
    if let Some(i) = net.synapses.iter().position(|s| bad_stp(&s.stp)) {
        let p = net.synapses[i].stp;
        return Err(usage!(
            "{} line {}: U = {}, D_ms = {}, F_ms = {}: {rule}",
            dir.join(SYNAPSES.name).display(),
            i + 2,
            show(p.u),
            show(p.d),
            show(p.f)
        ));
    }
    Ok(())
}
