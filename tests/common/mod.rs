//! Synthetic run directories written per docs/formats.md, for the analysis,
//! plot and report tests. Deterministic (own LCG), no simulator involved.
#![allow(dead_code, clippy::needless_range_loop)]

use std::fmt::Write as _;
use std::path::Path;

/// Small deterministic generator (PCG-ish LCG).
pub struct Lcg(u64);
impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1))
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next_f64()
    }
}

/// What the synthetic network does during patterns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Net {
    /// Neuron k fires in a 20 ms window around its planted phase during
    /// sequence `s` presentations if `k % n_seq == s` (all neurons for one
    /// sequence); background otherwise.
    Planted,
    /// Poisson background only, independent of the input.
    Null,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub seed: u64,
    pub grid: (usize, usize),
    pub k: usize,
    pub n_inputs: usize,
    pub sequences: Vec<Vec<usize>>,
    pub pattern_ms: f64,
    pub train_ms: f64,
    pub fit_ms: f64,
    pub test_ms: f64,
    pub n_tests: usize,
    pub net: Net,
    /// Inputs: channels `0..n_inputs/2` fire at 60 Hz during patterns.
    pub informative_input: bool,
    pub background_hz: f64,
    pub burst_p: f64,
    /// Record rho of these many neurons in neuron_traces.csv (0 = no file).
    pub rho_neurons: usize,
    pub write_summary: bool,
    /// Prepend a readout_fit and a test phase (each `fit_ms` / `test_ms`)
    /// before training, during which the network is Null (not yet "learned").
    pub pre_training_readout: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            seed: 1,
            grid: (4, 2),
            k: 5,
            n_inputs: 20,
            sequences: vec![vec![0]],
            pattern_ms: 300.0,
            train_ms: 20_000.0,
            fit_ms: 8_000.0,
            test_ms: 4_000.0,
            n_tests: 2,
            net: Net::Planted,
            informative_input: false,
            background_hz: 5.0,
            burst_p: 0.3,
            rho_neurons: 0,
            write_summary: true,
            pre_training_readout: false,
        }
    }
}

pub struct Written {
    pub n_neurons: usize,
    /// planted phase (ms within the pattern presentation) per neuron
    pub planted_ms: Vec<f64>,
    pub n_spikes: usize,
    pub n_input_spikes: usize,
}

/// Planted phase of neuron k: a fixed permutation of evenly spaced phases,
/// so that the planted order differs from the id order.
pub fn planted_phase(k: usize, n: usize, len_ms: f64) -> f64 {
    let pos = (k * 7 + 3) % n; // 7 coprime to n in the tests
    (pos as f64 + 0.5) / n as f64 * len_ms
}

pub fn write_run(dir: &Path, spec: &Spec) -> Written {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Lcg::new(spec.seed);
    let (gn, gm) = spec.grid;
    let nc = gn * gm;
    let n = nc * spec.k;
    let mut s = String::from("circuit,x,y,k,first_neuron,trained\n");
    for c in 0..nc {
        let _ = writeln!(
            s,
            "{c},{},{},{},{},true",
            c / gm,
            c % gm,
            spec.k,
            c * spec.k
        );
    }
    std::fs::write(dir.join("circuits.csv"), s).unwrap();
    let mut s = String::from("neuron,circuit,bias_initial,bias_final\n");
    for k in 0..n {
        let _ = writeln!(s, "{k},{},0,0", k / spec.k);
    }
    std::fs::write(dir.join("neurons.csv"), s).unwrap();

    // protocol
    let mut protocol = Vec::new();
    let mut t = 0.0;
    if spec.pre_training_readout {
        protocol.push(("readout_fit", t, t + spec.fit_ms, false, true));
        t += spec.fit_ms;
        protocol.push(("test", t, t + spec.test_ms, false, true));
        t += spec.test_ms;
    }
    let learned_from = t;
    protocol.push(("train", t, t + spec.train_ms, true, false));
    t += spec.train_ms;
    protocol.push(("readout_fit", t, t + spec.fit_ms, false, true));
    t += spec.fit_ms;
    for _ in 0..spec.n_tests {
        protocol.push(("test", t, t + spec.test_ms, false, true));
        t += spec.test_ms;
    }
    let end = t;
    let mut s = String::from("phase,name,role,start_ms,end_ms,train,reset\n");
    for (i, p) in protocol.iter().enumerate() {
        let _ = writeln!(s, "{i},{}{i},{},{},{},{},{}", p.0, p.0, p.1, p.2, p.3, p.4);
    }
    std::fs::write(dir.join("protocol.csv"), s).unwrap();

    // segments: noise 300..500 ms then one sequence (alternating), per phase
    struct Seg {
        phase: usize,
        a: f64,
        b: f64,
        seq: Option<usize>,
        pat: Option<usize>,
        train: bool,
    }
    let mut segs = Vec::new();
    let mut next_seq = 0;
    for (i, p) in protocol.iter().enumerate() {
        let mut t = p.1;
        while t < p.2 {
            let len = rng.range(300.0, 500.0).floor();
            let b = (t + len).min(p.2);
            segs.push(Seg {
                phase: i,
                a: t,
                b,
                seq: None,
                pat: None,
                train: p.3,
            });
            t = b;
            let sq = next_seq % spec.sequences.len();
            next_seq += 1;
            for &pat in &spec.sequences[sq] {
                if t >= p.2 {
                    break;
                }
                let b = (t + spec.pattern_ms).min(p.2);
                segs.push(Seg {
                    phase: i,
                    a: t,
                    b,
                    seq: Some(sq),
                    pat: Some(pat),
                    train: p.3,
                });
                t = b;
            }
        }
    }
    let mut s = String::from("phase,start_ms,end_ms,kind,sequence,pattern,warp,train\n");
    for g in &segs {
        let kind = if g.seq.is_some() { "pattern" } else { "noise" };
        let o = |x: Option<usize>| x.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{kind},{},{},1,{}",
            g.phase,
            g.a,
            g.b,
            o(g.seq),
            o(g.pat),
            g.train
        );
    }
    std::fs::write(dir.join("phases.csv"), s).unwrap();
    let mut s = String::from("pattern,channel,time_ms\n");
    let _ = writeln!(s, "0,0,10");
    std::fs::write(dir.join("patterns.csv"), s).unwrap();

    // spikes, step by step
    let steps = end as usize;
    let mut seg_of = vec![usize::MAX; steps];
    for (i, g) in segs.iter().enumerate() {
        for st in g.a as usize..(g.b as usize).min(steps) {
            seg_of[st] = i;
        }
    }
    let bg = spec.background_hz / 1000.0;
    let nseq = spec.sequences.len();
    let mut spikes = String::from("sender,time_ms\n");
    let mut inputs = String::from("channel,time_ms\n");
    let (mut ns, mut ni) = (0, 0);
    let planted: Vec<f64> = (0..n)
        .map(|k| planted_phase(k, n, spec.pattern_ms))
        .collect();
    let mut seq_start = vec![0.0; segs.len()];
    for (i, g) in segs.iter().enumerate() {
        // start of the whole presentation this segment belongs to
        seq_start[i] = if g.seq.is_some() && i > 0 && segs[i - 1].seq == g.seq {
            seq_start[i - 1]
        } else {
            g.a
        };
    }
    let mut rho_rows = String::from("time_ms,sender,u,rho\n");
    let last_pattern_seg = segs
        .iter()
        .rposition(|g| g.seq.is_some() && g.b - g.a >= spec.pattern_ms);
    for st in 0..steps {
        let g = &segs[seg_of[st]];
        let tm = st as f64;
        for c in 0..spec.n_inputs {
            let r = if spec.informative_input && g.seq.is_some() && c < spec.n_inputs / 2 {
                0.06
            } else {
                0.005
            };
            if rng.next_f64() < r {
                let _ = writeln!(inputs, "{c},{tm}");
                ni += 1;
            }
        }
        for k in 0..n {
            let mut p = bg;
            if spec.net == Net::Planted && tm >= learned_from {
                if let Some(sq) = g.seq {
                    let rel = tm - seq_start[seg_of[st]];
                    if k % nseq == sq && (rel - planted[k]).abs() < 10.0 {
                        p += spec.burst_p;
                    }
                }
            }
            if rng.next_f64() < p {
                let _ = writeln!(spikes, "{k},{tm}");
                ns += 1;
            }
        }
        if spec.rho_neurons > 0 && Some(seg_of[st]) == last_pattern_seg {
            let rel = tm - g.a;
            for k in 0..spec.rho_neurons.min(n) {
                let d = rel - planted[k];
                let rho = 0.05 + (-(d * d) / 200.0).exp();
                let _ = writeln!(rho_rows, "{tm},{k},0,{rho}");
            }
        }
    }
    std::fs::write(dir.join("spikes.csv"), spikes).unwrap();
    std::fs::write(dir.join("input_spikes.csv"), inputs).unwrap();
    if spec.rho_neurons > 0 {
        std::fs::write(dir.join("neuron_traces.csv"), rho_rows).unwrap();
    }

    // synapses and traces (input synapses only, small)
    let mut s = String::from("synapse,source,target,slot,kind,w_initial,w_final,U,D_ms,F_ms\n");
    let mut id = 0;
    for k in 0..n {
        for j in 0..spec.n_inputs {
            let wf = rng.range(-3.0, 1.0);
            let _ = writeln!(s, "{id},{j},{k},{j},input,0,{wf},1,1,1");
            id += 1;
        }
    }
    std::fs::write(dir.join("synapses.csv"), s).unwrap();
    let mut s = String::from("time_ms,synapse,source,target,weight,epsp\n");
    for step in (0..steps).step_by(100) {
        for syn in 0..3usize {
            let w = -(step as f64 / end) * (syn as f64 + 1.0);
            let e = ((step / 100 + syn) % 7) as f64 * 0.1;
            let _ = writeln!(s, "{step},{syn},{syn},0,{w},{e}");
        }
    }
    std::fs::write(dir.join("synapse_traces.csv"), s).unwrap();

    if spec.write_summary {
        let summary = serde_json::json!({
            "config": {
                "seed": spec.seed,
                "network": {"grid": [gn, gm], "k_min": spec.k, "k_max": spec.k,
                            "n_inputs": spec.n_inputs},
                "model": {"dt_ms": 1.0, "tau_decay_ms": 20.0, "tau_rise_ms": 2.0},
                "input": {"pattern_sequences": spec.sequences},
                "phases": [{"name": "train", "role": "train", "duration_ms": spec.train_ms}]
            },
            "seed": spec.seed, "backend": "synthetic", "threads": 1,
            "versions": {"seqlearn_nest": "test", "engine": "synthetic"},
            "simulated_ms": end,
            "wall_s": {"build": 0.1, "simulate": 1.0, "write": 0.1, "total": 1.2},
            "rtf": 1.0 / (end / 1000.0),
            "counts": {"neurons": n, "circuits": nc, "synapses": id,
                        "input_spikes": ni, "network_spikes": ns}
        });
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(&summary).unwrap(),
        )
        .unwrap();
    }
    Written {
        n_neurons: n,
        planted_ms: planted,
        n_spikes: ns,
        n_input_spikes: ni,
    }
}
