//! The network definition (model.md §1): grid of WTA circuits, recurrent
//! circuit pairs, input wiring, STP parameters and initial weights. Both
//! engines take this definition as it is.

use anyhow::Result;
use rand::seq::index::sample;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

use crate::model::config::{self, Config, InitialWeights, NetworkConfig};
use crate::model::params;
use crate::model::rng::{self, Stream};
use crate::usage;

/// One WTA circuit at grid position `(x, y)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Circuit {
    pub x: usize,
    pub y: usize,
    /// Number of neurons `K`.
    pub k: usize,
    /// Id of its first neuron; its neurons are `first_neuron..first_neuron+k`.
    pub first_neuron: usize,
    /// Whether it learns (`network.train_fraction`); an untrained circuit's
    /// weights and biases never change.
    pub trained: bool,
}

/// Short-term plasticity parameters of one source (or synapse).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StpParams {
    pub u: f64,
    /// Depression time constant (ms).
    pub d: f64,
    /// Facilitation time constant (ms).
    pub f: f64,
}

/// One synapse `target <- source`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synapse {
    /// Source id: `0..n_inputs` input channels, then network neurons.
    pub source: usize,
    pub target: usize,
    pub w0: f64,
    pub stp: StpParams,
}

/// The whole network. Synapses are grouped by target (ascending) and sorted by
/// source id inside a group; `target_offsets[k]..target_offsets[k+1]` is the
/// range of neuron `k`'s incoming synapses (their slots `0..`).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub shape: [usize; 2],
    pub n_inputs: usize,
    pub circuits: Vec<Circuit>,
    /// Circuit of each neuron.
    pub neuron_circuit: Vec<usize>,
    /// STP parameters of each source (the per-source draw).
    pub source_stp: Vec<StpParams>,
    /// Marked recurrent circuit pairs `(pre, post)`, in marking order.
    pub circuit_pairs: Vec<(usize, usize)>,
    pub synapses: Vec<Synapse>,
    pub target_offsets: Vec<usize>,
    /// Whether each synapse has its own STP state (`stp_draw = "per_synapse"`).
    pub stp_per_synapse: bool,
    /// Initial bias `b_k` of each neuron (0 when built; a replay may set it).
    pub bias0: Vec<f64>,
}

impl Network {
    pub fn n_neurons(&self) -> usize {
        self.neuron_circuit.len()
    }

    pub fn n_sources(&self) -> usize {
        self.n_inputs + self.n_neurons()
    }

    /// Source id of network neuron `k`.
    pub fn neuron_source(&self, k: usize) -> usize {
        self.n_inputs + k
    }

    pub fn is_input_source(&self, j: usize) -> bool {
        j < self.n_inputs
    }

    /// Incoming synapses of neuron `k` (index range into `synapses`).
    pub fn incoming(&self, k: usize) -> std::ops::Range<usize> {
        self.target_offsets[k]..self.target_offsets[k + 1]
    }

    /// Slot of synapse `s` at its target.
    pub fn slot(&self, s: usize) -> usize {
        s - self.target_offsets[self.synapses[s].target]
    }

    /// Whether neuron `k` learns (its circuit is trained).
    pub fn is_trained(&self, k: usize) -> bool {
        self.circuits[self.neuron_circuit[k]].trained
    }

    /// Builds the network from the config with the `Network` random stream.
    /// The stages draw from it in this order: circuit sizes, circuit pairs,
    /// the circuits that get input, the wiring, STP parameters, the trained
    /// circuits, weights. (A stage that has nothing to choose — every
    /// circuit gets input, every circuit learns — draws nothing.)
    pub fn build(cfg: &Config) -> Result<Network> {
        let mut rng = rng::stream(cfg.seed, Stream::Network);
        let nc = &cfg.network;
        let (mut circuits, neuron_circuit) = draw_circuits(nc, &mut rng);
        let circuit_pairs = mark_circuit_pairs(&circuits, nc.lambda, nc.n_conn, &mut rng)?;
        let gets_input = draw_circuit_subset(nc.input_circuit_fraction, circuits.len(), &mut rng);
        let (pairs, target_offsets) = wire(
            nc,
            &circuits,
            &neuron_circuit,
            &circuit_pairs,
            &gets_input,
            &mut rng,
        );
        let n_sources = nc.n_inputs + neuron_circuit.len();
        let stp = StpDraw::new(cfg.model.dt_ms, nc.frac_tau_ds);
        let source_stp: Vec<StpParams> = (0..n_sources)
            .map(|j| {
                if j < nc.n_inputs {
                    stp.input
                } else {
                    stp.draw(&mut rng)
                }
            })
            .collect();
        let per_synapse = nc.stp_draw == config::StpDraw::PerSynapse;
        let mut synapses: Vec<Synapse> = pairs
            .into_iter()
            .map(|(source, target)| Synapse {
                source,
                target,
                w0: 0.0,
                stp: if per_synapse && source >= nc.n_inputs {
                    stp.draw(&mut rng)
                } else {
                    source_stp[source]
                },
            })
            .collect();
        let trained = draw_circuit_subset(nc.train_fraction, circuits.len(), &mut rng);
        for (c, t) in circuits.iter_mut().zip(trained) {
            c.trained = t;
        }
        for s in &mut synapses {
            // tasks.md §1.1: an untrained circuit's synapses start at ln U(0,1)
            let kind = if circuits[neuron_circuit[s.target]].trained {
                nc.initial_weights
            } else {
                InitialWeights::LogUniform
            };
            s.w0 = initial_weight(kind, &mut rng);
        }
        Ok(Network {
            bias0: vec![0.0; neuron_circuit.len()],
            shape: nc.grid,
            n_inputs: nc.n_inputs,
            circuits,
            neuron_circuit,
            source_stp,
            circuit_pairs,
            synapses,
            target_offsets,
            stp_per_synapse: per_synapse,
        })
    }

    /// Checks internal consistency (used for networks read from files).
    pub fn validate(&self) -> Result<()> {
        let n = self.n_neurons();
        if self.bias0.len() != n {
            return Err(usage!(
                "network: {} initial biases for {n} neurons",
                self.bias0.len()
            ));
        }
        if self.target_offsets.len() != n + 1 || self.target_offsets[n] != self.synapses.len() {
            return Err(usage!("network: synapse offsets do not match the neurons"));
        }
        for (i, c) in self.circuits.iter().enumerate() {
            if c.k == 0 || c.first_neuron + c.k > n {
                return Err(usage!("network: circuit {i} has bad neuron range"));
            }
            if (c.first_neuron..c.first_neuron + c.k).any(|k| self.neuron_circuit[k] != i) {
                return Err(usage!(
                    "network: neurons of circuit {i} are not consecutive"
                ));
            }
        }
        for k in 0..n {
            let r = self.incoming(k);
            let syn = &self.synapses[r];
            if syn
                .iter()
                .any(|s| s.target != k || s.source >= self.n_sources())
                || syn.windows(2).any(|w| w[0].source >= w[1].source)
            {
                return Err(usage!(
                    "network: synapses of neuron {k} must target it, come from existing sources \
                     and be sorted by source without duplicates"
                ));
            }
        }
        Ok(())
    }
}

/// The grid's circuits, `K` drawn per position in position-index order, and
/// the circuit of each neuron (model.md §1).
fn draw_circuits(nc: &NetworkConfig, rng: &mut ChaCha8Rng) -> (Vec<Circuit>, Vec<usize>) {
    let [n, m] = nc.grid;
    let mut circuits = Vec::with_capacity(n * m);
    let mut neuron_circuit = Vec::new();
    for x in 0..n {
        for y in 0..m {
            let k = rng.random_range(nc.k_min..=nc.k_max);
            circuits.push(Circuit {
                x,
                y,
                k,
                first_neuron: neuron_circuit.len(),
                trained: true,
            });
            neuron_circuit.extend(std::iter::repeat_n(circuits.len() - 1, k));
        }
    }
    (circuits, neuron_circuit)
}

/// `round(fraction * p)` of the `p` circuits, drawn without replacement
/// (which circuits receive input, which learn); all of them without a draw.
fn draw_circuit_subset(fraction: f64, p: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let n_chosen = (fraction * p as f64).round() as usize;
    let mut chosen = vec![n_chosen == p; p];
    if n_chosen < p {
        for c in sample(rng, p, n_chosen) {
            chosen[c] = true;
        }
    }
    chosen
}

/// The `(source, target)` pairs, grouped by target, sources ascending
/// (inputs, then the neurons of the presynaptic circuits), and each
/// target's offset.
fn wire(
    nc: &NetworkConfig,
    circuits: &[Circuit],
    neuron_circuit: &[usize],
    circuit_pairs: &[(usize, usize)],
    gets_input: &[bool],
    rng: &mut ChaCha8Rng,
) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut pre_circuits: Vec<Vec<usize>> = vec![Vec::new(); circuits.len()];
    for &(a, b) in circuit_pairs {
        pre_circuits[b].push(a);
    }
    for pre in &mut pre_circuits {
        pre.sort_unstable();
    }
    let mut pairs = Vec::new();
    let mut target_offsets = vec![0];
    for (k, &c) in neuron_circuit.iter().enumerate() {
        if gets_input[c] {
            for ch in 0..nc.n_inputs {
                if nc.input_p_conn >= 1.0 || rng.random::<f64>() < nc.input_p_conn {
                    pairs.push((ch, k));
                }
            }
        }
        for &a in &pre_circuits[c] {
            let ca = &circuits[a];
            for pre in ca.first_neuron..ca.first_neuron + ca.k {
                if nc.p_conn >= 1.0 || rng.random::<f64>() < nc.p_conn {
                    pairs.push((nc.n_inputs + pre, k));
                }
            }
        }
        target_offsets.push(pairs.len());
    }
    (pairs, target_offsets)
}

/// model.md §4: the STP parameters of inputs (`U = 1`, `D = F = dt`) and
/// the draw of a recurrent source, `U ~ N(0.5, 0.25^2)`,
/// `D ~ N(110, 55^2)` ms, `F ~ N(5, 2.5^2)` ms, then `U >= 0`, `D, F >= dt`;
/// `D`, `F` means and SDs scaled by `10 / frac_tau_ds` (tasks.md §1.1).
struct StpDraw {
    input: StpParams,
    dt: f64,
    u: Normal<f64>,
    d: Normal<f64>,
    f: Normal<f64>,
}

impl StpDraw {
    fn new(dt: f64, frac_tau_ds: f64) -> StpDraw {
        let k = 10.0 / frac_tau_ds;
        StpDraw {
            input: StpParams {
                u: 1.0,
                d: dt,
                f: dt,
            },
            dt,
            u: Normal::new(params::STP_U, 0.25).expect("valid normal"),
            d: Normal::new(params::STP_D_MS * k, 55.0 * k).expect("valid normal"),
            f: Normal::new(params::STP_F_MS * k, 2.5 * k).expect("valid normal"),
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> StpParams {
        StpParams {
            u: self.u.sample(rng).max(0.0),
            d: self.d.sample(rng).max(self.dt),
            f: self.f.sample(rng).max(self.dt),
        }
    }
}

/// One initial weight (model.md §1).
fn initial_weight(kind: InitialWeights, rng: &mut ChaCha8Rng) -> f64 {
    match kind {
        InitialWeights::Zero => 0.0,
        InitialWeights::LogUniform => open01(rng).ln(),
        InitialWeights::NegLogUniform => -open01(rng).ln(),
    }
}

/// U(0,1) without 0, so that `ln` stays finite.
fn open01(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let u: f64 = rng.random();
        if u > 0.0 {
            return u;
        }
    }
}

/// Euclidean distance of two circuits on the grid.
pub fn distance(a: &Circuit, b: &Circuit) -> f64 {
    let dx = a.x as f64 - b.x as f64;
    let dy = a.y as f64 - b.y as f64;
    (dx * dx + dy * dy).sqrt()
}

/// The original's circuit-pair loop (model.md §1): draw a distance
/// `d ~ Exp(lambda)`, pick uniformly among all ordered pairs (self pairs
/// included) with `d - 1 < dist <= d + 1`, mark it unless it is a self pair,
/// until `n_conn` distinct pairs (capped at `P(P-1)`) are marked.
pub fn mark_circuit_pairs(
    circuits: &[Circuit],
    lambda: f64,
    n_conn: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, usize)>> {
    let p = circuits.len();
    let target = n_conn.min(p * p.saturating_sub(1));
    // All ordered pairs sorted by distance: the candidates of one draw are a
    // contiguous range, found by binary search.
    let mut pairs: Vec<(f64, usize, usize)> = (0..p)
        .flat_map(|a| (0..p).map(move |b| (a, b)))
        .map(|(a, b)| (distance(&circuits[a], &circuits[b]), a, b))
        .collect();
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let exp = Exp::new(lambda).map_err(|e| usage!("network.lambda: {e}"))?;
    let mut marked = vec![false; p * p];
    let mut out = Vec::with_capacity(target);
    let max_dist = pairs.last().map_or(0.0, |q| q.0);
    // The loop bound: far more draws than any valid setting needs; beyond it
    // the wanted pairs are (almost) unreachable with this lambda.
    let max_draws = 10_000_000u64.max(1000 * target as u64);
    let mut draws = 0u64;
    while out.len() < target {
        draws += 1;
        if draws > max_draws {
            return Err(usage!(
                "config keys `network.lambda` = {lambda}, `network.n_conn` = {n_conn}: only {} of \
                 {target} circuit pairs found in {max_draws} distance draws on this grid; use a \
                 lambda nearer 1 / (grid diameter) or a smaller n_conn",
                out.len()
            ));
        }
        let d: f64 = exp.sample(rng);
        if d - 1.0 >= max_dist {
            continue;
        }
        let lo = pairs.partition_point(|q| q.0 <= d - 1.0);
        let hi = pairs.partition_point(|q| q.0 <= d + 1.0);
        if lo >= hi {
            continue;
        }
        let (_, a, b) = pairs[rng.random_range(lo..hi)];
        if a != b && !marked[a * p + b] {
            marked[a * p + b] = true;
            out.push((a, b));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Config;

    fn small() -> Config {
        let mut c = Config::default();
        c.network.grid = [4, 3];
        c.network.n_inputs = 7;
        c.network.n_conn = 30;
        c
    }

    #[test]
    fn grid_and_neuron_ids_follow_position_order() {
        let cfg = small();
        let net = Network::build(&cfg).unwrap();
        assert_eq!(net.circuits.len(), 12);
        let mut next = 0;
        for (c, circ) in net.circuits.iter().enumerate() {
            assert_eq!((circ.x, circ.y), (c / 3, c % 3));
            assert!((2..=10).contains(&circ.k));
            assert_eq!(circ.first_neuron, next);
            next += circ.k;
        }
        assert_eq!(net.n_neurons(), next);
        net.validate().unwrap();
    }

    #[test]
    fn pair_loop_marks_exactly_n_conn_distinct_non_self_pairs() {
        let cfg = small();
        let net = Network::build(&cfg).unwrap();
        assert_eq!(net.circuit_pairs.len(), 30);
        let mut seen = std::collections::HashSet::new();
        for &(a, b) in &net.circuit_pairs {
            assert_ne!(a, b);
            assert!(seen.insert((a, b)));
        }
    }

    #[test]
    fn frac_tau_ds_scales_the_stp_time_constants() {
        let mean_df = |f: f64| {
            let mut cfg = small();
            cfg.network.grid = [10, 10];
            cfg.network.frac_tau_ds = f;
            let net = Network::build(&cfg).unwrap();
            let rec = &net.source_stp[cfg.network.n_inputs..];
            let n = rec.len() as f64;
            (
                rec.iter().map(|s| s.d).sum::<f64>() / n,
                rec.iter().map(|s| s.f).sum::<f64>() / n,
                rec.iter().map(|s| s.u).sum::<f64>() / n,
            )
        };
        let (d10, f10, u10) = mean_df(10.0);
        let (d5, f5, u5) = mean_df(5.0);
        assert!((d10 - 110.0).abs() < 10.0, "{d10}");
        assert!((d5 - 220.0).abs() < 20.0, "{d5}");
        assert!((f5 / f10 - 2.0).abs() < 0.25, "{f5} {f10}");
        assert!((u5 - u10).abs() < 0.05, "U is unaffected: {u5} {u10}");
    }

    #[test]
    fn pair_count_is_capped_at_all_ordered_pairs() {
        let mut cfg = small();
        cfg.network.grid = [2, 2];
        cfg.network.n_conn = 1000;
        let net = Network::build(&cfg).unwrap();
        assert_eq!(net.circuit_pairs.len(), 12);
    }

    #[test]
    fn marked_pairs_are_wired_all_to_all_with_inputs_everywhere() {
        let cfg = small();
        let net = Network::build(&cfg).unwrap();
        let mut expected = 0;
        for c in &net.circuits {
            let rec: usize = net
                .circuit_pairs
                .iter()
                .filter(|&&(_, b)| net.circuits[b] == *c)
                .map(|&(a, _)| net.circuits[a].k)
                .sum();
            expected += c.k * (cfg.network.n_inputs + rec);
        }
        assert_eq!(net.synapses.len(), expected);
        assert!(net.synapses.iter().all(|s| s.w0 == 0.0));
    }

    #[test]
    fn stp_draws_are_clipped_and_inputs_fixed() {
        let mut cfg = small();
        cfg.network.grid = [10, 10];
        let net = Network::build(&cfg).unwrap();
        for (j, p) in net.source_stp.iter().enumerate() {
            if j < net.n_inputs {
                assert_eq!((p.u, p.d, p.f), (1.0, 1.0, 1.0));
            } else {
                assert!(p.u >= 0.0 && p.d >= 1.0 && p.f >= 1.0);
            }
        }
        assert!(
            net.source_stp.iter().any(|p| p.u == 0.0),
            "some U clipped to 0"
        );
    }

    #[test]
    fn initial_weight_options_have_their_sign() {
        let mut cfg = small();
        cfg.network.initial_weights = InitialWeights::LogUniform;
        assert!(Network::build(&cfg)
            .unwrap()
            .synapses
            .iter()
            .all(|s| s.w0 < 0.0));
        cfg.network.initial_weights = InitialWeights::NegLogUniform;
        assert!(Network::build(&cfg)
            .unwrap()
            .synapses
            .iter()
            .all(|s| s.w0 > 0.0));
    }

    #[test]
    fn train_fraction_picks_circuits_and_their_initial_weights() {
        let mut cfg = small();
        let all = Network::build(&cfg).unwrap();
        assert!(all.circuits.iter().all(|c| c.trained));

        cfg.network.train_fraction = 0.5;
        let half = Network::build(&cfg).unwrap();
        let n_trained = half.circuits.iter().filter(|c| c.trained).count();
        assert_eq!(n_trained, 6, "round(0.5 * 12) circuits learn");
        // the draws before the subset are untouched: same circuits and wiring
        let shape = |n: &Network| (n.neuron_circuit.clone(), n.circuit_pairs.clone());
        assert_eq!(shape(&half), shape(&all));
        assert_eq!(half.source_stp, all.source_stp);
        for s in &half.synapses {
            if half.is_trained(s.target) {
                assert_eq!(s.w0, 0.0, "trained circuits keep initial_weights = zero");
            } else {
                assert!(s.w0 < 0.0 && s.w0.is_finite(), "untrained: ln U(0,1)");
            }
        }
        let other_seed = Network::build(&Config {
            seed: cfg.seed + 1,
            ..cfg.clone()
        })
        .unwrap();
        let trained = |n: &Network| n.circuits.iter().map(|c| c.trained).collect::<Vec<_>>();
        assert_ne!(trained(&other_seed), trained(&half), "the subset is drawn");

        // train_fraction 0 is exactly the log-uniform network
        cfg.network.train_fraction = 0.0;
        let none = Network::build(&cfg).unwrap();
        assert!(none.circuits.iter().all(|c| !c.trained));
        cfg.network.train_fraction = 1.0;
        cfg.network.initial_weights = InitialWeights::LogUniform;
        let log_uniform = Network::build(&cfg).unwrap();
        let w0 = |n: &Network| {
            n.synapses
                .iter()
                .map(|s| s.w0.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(w0(&none), w0(&log_uniform));
    }

    #[test]
    fn deletion_options_thin_the_synapses() {
        let mut cfg = small();
        let full = Network::build(&cfg).unwrap().synapses.len();
        cfg.network.p_conn = 0.5;
        cfg.network.input_p_conn = 0.5;
        let thin = Network::build(&cfg).unwrap();
        thin.validate().unwrap();
        assert!(thin.synapses.len() < full * 3 / 4);
        cfg.network.input_circuit_fraction = 0.0;
        let none = Network::build(&cfg).unwrap();
        assert!(none.synapses.iter().all(|s| s.source >= none.n_inputs));
    }

    #[test]
    fn same_seed_same_network() {
        let cfg = small();
        assert_eq!(Network::build(&cfg).unwrap(), Network::build(&cfg).unwrap());
    }
}
