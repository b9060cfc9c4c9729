//! Reading and writing the run-directory files of docs/formats.md.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::model::input::{Input, Schedule, Segment, SegmentKind, StepSpikes};
use crate::model::network::{Circuit, Network, StpParams, Synapse};
use crate::model::record::{RecordPlan, Recording};
use crate::usage;

/// Columns of `circuits.csv`.
pub const CIRCUITS: &[&str] = &["circuit", "x", "y", "k", "first_neuron"];
/// Columns of `neurons.csv`.
pub const NEURONS: &[&str] = &["neuron", "circuit", "bias_final"];
/// Columns of `sources.csv`.
pub const SOURCES: &[&str] = &["source", "kind", "index", "U", "D_ms", "F_ms"];
/// Columns of `circuit_pairs.csv`.
pub const CIRCUIT_PAIRS: &[&str] = &["pre_circuit", "post_circuit"];
/// Columns of `synapses.csv`.
pub const SYNAPSES: &[&str] = &[
    "synapse",
    "source",
    "target",
    "slot",
    "kind",
    "w_initial",
    "w_final",
    "U",
    "D_ms",
    "F_ms",
];
/// Columns of `phases.csv`.
pub const PHASES: &[&str] = &[
    "phase", "start_ms", "end_ms", "kind", "sequence", "pattern", "warp", "train",
];
/// Columns of `patterns.csv`.
pub const PATTERNS: &[&str] = &["pattern", "channel", "time_ms"];

/// A CSV writer on a buffered file, with the header written.
pub struct Table {
    w: csv::Writer<BufWriter<File>>,
    path: std::path::PathBuf,
}

impl Table {
    pub fn create(path: &Path, header: &[&str]) -> Result<Table> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 20, file));
        w.write_record(header)?;
        Ok(Table {
            w,
            path: path.to_owned(),
        })
    }

    pub fn row<I, T>(&mut self, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.w
            .write_record(fields)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn finish(mut self) -> Result<()> {
        self.w.flush()?;
        let inner = self.w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        inner
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .sync_all()
            .ok();
        Ok(())
    }
}

fn f(x: f64) -> String {
    format!("{x}")
}

fn ms(step: u64, dt: f64) -> String {
    f(step as f64 * dt)
}

fn opt(x: Option<usize>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// Final state to put into the network files, when a run has one.
pub struct FinalState<'a> {
    pub weights: &'a [f64],
    pub bias: &'a [f64],
}

/// Writes circuits, neurons, sources, circuit pairs and synapses.
pub fn write_network(dir: &Path, net: &Network, fin: Option<FinalState>) -> Result<()> {
    let mut t = Table::create(&dir.join("circuits.csv"), CIRCUITS)?;
    for (i, c) in net.circuits.iter().enumerate() {
        t.row([i, c.x, c.y, c.k, c.first_neuron].map(|v| v.to_string()))?;
    }
    t.finish()?;
    let mut t = Table::create(&dir.join("neurons.csv"), NEURONS)?;
    for (k, c) in net.neuron_circuit.iter().enumerate() {
        let b = fin.as_ref().map(|s| f(s.bias[k])).unwrap_or_default();
        t.row([k.to_string(), c.to_string(), b])?;
    }
    t.finish()?;
    let mut t = Table::create(&dir.join("sources.csv"), SOURCES)?;
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
            f(p.u),
            f(p.d),
            f(p.f),
        ])?;
    }
    t.finish()?;
    let mut t = Table::create(&dir.join("circuit_pairs.csv"), CIRCUIT_PAIRS)?;
    for &(a, b) in &net.circuit_pairs {
        t.row([a.to_string(), b.to_string()])?;
    }
    t.finish()?;
    let mut t = Table::create(&dir.join("synapses.csv"), SYNAPSES)?;
    for (i, s) in net.synapses.iter().enumerate() {
        let kind = if net.is_input_source(s.source) {
            "input"
        } else {
            "recurrent"
        };
        let wf = fin.as_ref().map(|st| f(st.weights[i])).unwrap_or_default();
        t.row([
            i.to_string(),
            s.source.to_string(),
            s.target.to_string(),
            net.slot(i).to_string(),
            kind.into(),
            f(s.w0),
            wf,
            f(s.stp.u),
            f(s.stp.d),
            f(s.stp.f),
        ])?;
    }
    t.finish()
}

/// Writes input spikes, patterns, the segment log and the protocol.
pub fn write_input(dir: &Path, input: &Input, schedule: &Schedule, dt: f64) -> Result<()> {
    write_spikes(&dir.join("input_spikes.csv"), "channel", &input.spikes, dt)?;
    let mut t = Table::create(&dir.join("patterns.csv"), PATTERNS)?;
    for (p, pat) in input.patterns.iter().enumerate() {
        for &(s, ch) in pat {
            t.row([p.to_string(), ch.to_string(), f(s)])?;
        }
    }
    t.finish()?;
    let mut t = Table::create(&dir.join("phases.csv"), PHASES)?;
    for g in &input.segments {
        t.row([
            g.phase.to_string(),
            ms(g.start, dt),
            ms(g.end, dt),
            g.kind.as_str().into(),
            opt(g.sequence),
            opt(g.pattern),
            f(g.warp),
            schedule.phases[g.phase].train.to_string(),
        ])?;
    }
    t.finish()?;
    let mut t = Table::create(
        &dir.join("protocol.csv"),
        &[
            "phase", "name", "role", "start_ms", "end_ms", "train", "reset",
        ],
    )?;
    for (i, p) in schedule.phases.iter().enumerate() {
        t.row([
            i.to_string(),
            p.name.clone(),
            p.role.as_str().into(),
            ms(p.start, dt),
            ms(p.end, dt),
            p.train.to_string(),
            p.reset.to_string(),
        ])?;
    }
    t.finish()
}

/// Writes a spike table `<id_column>,time_ms`.
pub fn write_spikes(path: &Path, id_column: &str, spikes: &StepSpikes, dt: f64) -> Result<()> {
    let mut t = Table::create(path, &[id_column, "time_ms"])?;
    for (step, id) in spikes.events() {
        t.row([id.to_string(), ms(step, dt)])?;
    }
    t.finish()
}

/// Writes the sampled traces.
pub fn write_recording(
    dir: &Path,
    net: &Network,
    plan: &RecordPlan,
    rec: &Recording,
    dt: f64,
) -> Result<()> {
    let mut t = Table::create(
        &dir.join("neuron_traces.csv"),
        &["time_ms", "sender", "u", "rho"],
    )?;
    let nn = plan.neurons.len();
    for (i, &step) in rec.neuron_steps.iter().enumerate() {
        let time = ms(step, dt);
        for (j, &k) in plan.neurons.iter().enumerate() {
            t.row([
                time.clone(),
                k.to_string(),
                f(rec.u[i * nn + j]),
                f(rec.rho[i * nn + j]),
            ])?;
        }
    }
    t.finish()?;
    let mut t = Table::create(
        &dir.join("synapse_traces.csv"),
        &["time_ms", "synapse", "source", "target", "weight", "epsp"],
    )?;
    let ns = plan.synapses.len();
    for (i, &step) in rec.synapse_steps.iter().enumerate() {
        let time = ms(step, dt);
        for (j, &s) in plan.synapses.iter().enumerate() {
            let syn = &net.synapses[s];
            t.row([
                time.clone(),
                s.to_string(),
                syn.source.to_string(),
                syn.target.to_string(),
                f(rec.weight[i * ns + j]),
                f(rec.epsp[i * ns + j]),
            ])?;
        }
    }
    t.finish()
}

// ---------------------------------------------------------------- reading

/// Reads a CSV file whose header must be exactly `header`.
pub fn read_table<T: DeserializeOwned>(path: &Path, header: &[&str]) -> Result<Vec<T>> {
    let file = File::open(path).map_err(|e| {
        usage!(
            "cannot read {}: {e}; point the option at a run directory written by seqlearn-nest",
            path.display()
        )
    })?;
    let mut r = csv::ReaderBuilder::new().from_reader(std::io::BufReader::new(file));
    let found: Vec<String> = r
        .headers()
        .map_err(|e| usage!("{}: cannot read the header: {e}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    if found != header {
        return Err(usage!(
            "{}: wrong columns: expected `{}`, found `{}` (see docs/formats.md)",
            path.display(),
            header.join(","),
            found.join(",")
        ));
    }
    let mut out = Vec::new();
    for (i, row) in r.deserialize().enumerate() {
        out.push(row.map_err(|e| usage!("{}: row {}: {e}", path.display(), i + 2))?);
    }
    Ok(out)
}

fn to_step(path: &Path, time_ms: f64, dt: f64) -> Result<u64> {
    let s = time_ms / dt;
    if !(s >= 0.0 && s.fract() == 0.0) {
        return Err(usage!(
            "{}: time {time_ms} ms is not on the {dt} ms step grid (times are step starts, >= 0)",
            path.display()
        ));
    }
    Ok(s as u64)
}

/// Reads a spike table `<id_column>,time_ms` onto the step grid; ids must be
/// below `n_ids`.
pub fn read_spikes(
    path: &Path,
    id_column: &str,
    n_ids: usize,
    n_steps: u64,
    dt: f64,
) -> Result<StepSpikes> {
    #[derive(Deserialize)]
    struct Row(u64, f64);
    let rows: Vec<Row> = read_table(path, &[id_column, "time_ms"])?;
    let mut events = Vec::with_capacity(rows.len());
    for Row(id, time) in rows {
        if id as usize >= n_ids {
            return Err(usage!(
                "{}: {id_column} {id} does not exist (there are {n_ids})",
                path.display()
            ));
        }
        let step = to_step(path, time, dt)?;
        if step >= n_steps {
            return Err(usage!(
                "{}: spike at {time} ms lies after the end of the run ({} ms)",
                path.display(),
                n_steps as f64 * dt
            ));
        }
        events.push((step, id as u32));
    }
    Ok(StepSpikes::from_events(n_ids, n_steps, events))
}

/// Reads the network files of a run directory.
pub fn read_network(dir: &Path, stp_per_synapse: bool) -> Result<Network> {
    #[derive(Deserialize)]
    struct C(usize, usize, usize, usize, usize);
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct N(usize, usize, Option<f64>);
    #[derive(Deserialize)]
    struct S(usize, String, usize, f64, f64, f64);
    #[derive(Deserialize)]
    struct P(usize, usize);
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Y(
        usize,
        usize,
        usize,
        usize,
        String,
        f64,
        Option<f64>,
        f64,
        f64,
        f64,
    );
    let cs: Vec<C> = read_table(&dir.join("circuits.csv"), CIRCUITS)?;
    let ns: Vec<N> = read_table(&dir.join("neurons.csv"), NEURONS)?;
    let ss: Vec<S> = read_table(&dir.join("sources.csv"), SOURCES)?;
    let ps: Vec<P> = read_table(&dir.join("circuit_pairs.csv"), CIRCUIT_PAIRS)?;
    let ys: Vec<Y> = read_table(&dir.join("synapses.csv"), SYNAPSES)?;
    let bad = |file: &str, why: String| usage!("{}: {why}", dir.join(file).display());
    let circuits: Vec<Circuit> = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.0 != i {
                return Err(bad(
                    "circuits.csv",
                    format!("circuit ids must be 0.. in order (row {})", i + 2),
                ));
            }
            Ok(Circuit {
                x: c.1,
                y: c.2,
                k: c.3,
                first_neuron: c.4,
            })
        })
        .collect::<Result<_>>()?;
    let shape = [
        circuits.iter().map(|c| c.x + 1).max().unwrap_or(0),
        circuits.iter().map(|c| c.y + 1).max().unwrap_or(0),
    ];
    let mut neuron_circuit = Vec::with_capacity(ns.len());
    for (i, n) in ns.iter().enumerate() {
        if n.0 != i || n.1 >= circuits.len() {
            return Err(bad(
                "neurons.csv",
                format!(
                    "row {}: neuron ids must be 0.. in order with existing circuits",
                    i + 2
                ),
            ));
        }
        neuron_circuit.push(n.1);
    }
    let n_inputs = ss.iter().filter(|s| s.1 == "input").count();
    let mut source_stp = Vec::with_capacity(ss.len());
    for (i, s) in ss.iter().enumerate() {
        let ok = s.0 == i
            && match s.1.as_str() {
                "input" => s.2 == i,
                "neuron" => i >= n_inputs && s.2 == i - n_inputs,
                _ => false,
            };
        if !ok {
            return Err(bad(
                "sources.csv",
                format!(
                    "row {}: sources must be the inputs 0.. then the neurons, kind input|neuron",
                    i + 2
                ),
            ));
        }
        source_stp.push(StpParams {
            u: s.3,
            d: s.4,
            f: s.5,
        });
    }
    if source_stp.len() != n_inputs + neuron_circuit.len() {
        return Err(bad(
            "sources.csv",
            "needs one row per input channel and per neuron".into(),
        ));
    }
    let mut synapses = Vec::with_capacity(ys.len());
    let mut target_offsets = vec![0];
    for (i, y) in ys.iter().enumerate() {
        if y.0 != i || y.2 >= neuron_circuit.len() || y.1 >= source_stp.len() {
            return Err(bad(
                "synapses.csv",
                format!("row {}: bad synapse id, source or target", i + 2),
            ));
        }
        while target_offsets.len() <= y.2 {
            target_offsets.push(i);
        }
        synapses.push(Synapse {
            source: y.1,
            target: y.2,
            w0: y.5,
            stp: StpParams {
                u: y.7,
                d: y.8,
                f: y.9,
            },
        });
    }
    while target_offsets.len() <= neuron_circuit.len() {
        target_offsets.push(synapses.len());
    }
    let bias0 = vec![0.0; neuron_circuit.len()];
    let net = Network {
        bias0,
        shape,
        n_inputs,
        circuits,
        neuron_circuit,
        source_stp,
        circuit_pairs: ps.into_iter().map(|p| (p.0, p.1)).collect(),
        synapses,
        target_offsets,
        stp_per_synapse,
    };
    net.validate()
        .with_context(|| format!("network files in {}", dir.display()))?;
    Ok(net)
}

/// Reads the input of a run directory (spikes and segment log).
pub fn read_input(dir: &Path, n_channels: usize, schedule: &Schedule, dt: f64) -> Result<Input> {
    let spikes = read_spikes(
        &dir.join("input_spikes.csv"),
        "channel",
        n_channels,
        schedule.n_steps(),
        dt,
    )?;
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct G(
        usize,
        f64,
        f64,
        String,
        Option<usize>,
        Option<usize>,
        f64,
        bool,
    );
    let path = dir.join("phases.csv");
    let rows: Vec<G> = read_table(&path, PHASES)?;
    let mut segments = Vec::with_capacity(rows.len());
    for g in rows {
        let kind = match g.3.as_str() {
            "noise" => SegmentKind::Noise,
            "pattern" => SegmentKind::Pattern,
            other => {
                return Err(usage!(
                    "{}: unknown kind `{other}` (noise|pattern)",
                    path.display()
                ))
            }
        };
        segments.push(Segment {
            phase: g.0,
            start: to_step(&path, g.1, dt)?,
            end: to_step(&path, g.2, dt)?,
            kind,
            sequence: g.4,
            pattern: g.5,
            warp: g.6,
        });
    }
    #[derive(Deserialize)]
    struct Pt(usize, u32, f64);
    let pats: Vec<Pt> = read_table(&dir.join("patterns.csv"), PATTERNS)?;
    let mut patterns: Vec<Vec<(f64, u32)>> = Vec::new();
    for p in pats {
        if patterns.len() <= p.0 {
            patterns.resize(p.0 + 1, Vec::new());
        }
        patterns[p.0].push((p.2, p.1));
    }
    Ok(Input {
        spikes,
        segments,
        patterns,
    })
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut w = BufWriter::new(
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}
