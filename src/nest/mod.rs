//! NEST 3.10 backend: the `cxx` bridge to `cpp/bridge.cc` and a safe wrapper.
//!
//! The binary links neither NEST nor libpython.  [`NestKernel::load`]
//! dlopens libpython, the NEST kernel (`nestkernel_api.so` of the PyPI wheel)
//! and the extension module `seqlearnmodule.so` built by `build.rs`, then
//! drives the kernel through the module's C driver API (`cpp/sl_capi.h`).
//! See `docs/nest.md`.
//!
//! The NEST kernel is a process-wide singleton: a [`NestKernel`] holds a
//! global lock for its lifetime, so a second `load` in another thread waits
//! until the first handle is dropped (and one thread must not hold two).
//!
//! Time convention of this wrapper: all times are native step times in ms
//! (step `t` <-> `t * dt`, `dt = 1 ms`), for input spikes, output spikes,
//! multimeter samples, reset times and forced spikes alike.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::{anyhow, bail, Context, Result};

#[cxx::bridge(namespace = "seqlearn_bridge")]
mod ffi {
    unsafe extern "C++" {
        include!("seqlearn-nest/cpp/bridge.h");

        fn load(libpython: &str, kernel: &str, module: &str) -> Result<()>;
        fn is_loaded() -> bool;
        fn loaded_module_path() -> String;

        fn api_init(threads: i32, seed: i64) -> Result<()>;
        fn install_module(path: &str) -> Result<()>;
        #[allow(clippy::too_many_arguments)]
        fn set_neuron_defaults(
            r_max: f64,
            tau_decay: f64,
            tau_rise: f64,
            eta: f64,
            variance_tracking: bool,
            bias_learning: bool,
            spike_law: &str,
        ) -> Result<()>;
        fn create_neurons(
            circuit_size: &[i64],
            circuit_index: &[i64],
            n_incoming: &[i64],
            weights: &[f64],
        ) -> Result<i64>;
        fn connect_circuit(ids: &[i64]) -> Result<()>;
        fn create_inputs(offsets: &[usize], times: &[f64]) -> Result<i64>;
        #[allow(clippy::too_many_arguments)]
        fn connect(
            sources: &[i64],
            targets: &[i64],
            slots: &[i64],
            u: &[f64],
            d: &[f64],
            f: &[f64],
            variant: &str,
        ) -> Result<()>;
        fn set_reset_times(times: &[f64]) -> Result<()>;
        fn set_learning(on: bool) -> Result<()>;
        fn set_forced_spikes(node: i64, times: &[f64]) -> Result<()>;
        fn set_recorded_slots(node: i64, slots: &[i64], interval: f64) -> Result<()>;
        fn record_spikes() -> Result<i64>;
        fn record_multimeter(ids: &[i64], interval: f64) -> Result<i64>;
        fn prepare() -> Result<()>;
        fn run(ms: f64) -> Result<()>;
        fn cleanup() -> Result<()>;
        fn kernel_time() -> Result<f64>;
        fn fetch_spikes() -> Result<usize>;
        fn copy_spikes(senders: &mut [i64], times: &mut [f64]) -> Result<()>;
        fn fetch_multimeter() -> Result<usize>;
        fn copy_multimeter(
            senders: &mut [i64],
            times: &mut [f64],
            u: &mut [f64],
            rho: &mut [f64],
        ) -> Result<()>;
        fn fetch_slot_recording(node: i64) -> Result<usize>;
        fn copy_slot_recording(
            times: &mut [f64],
            slots: &mut [i64],
            weights: &mut [f64],
            epsps: &mut [f64],
        ) -> Result<()>;
        fn get_vector_len(node: i64, key: &str) -> Result<usize>;
        fn get_vector(node: i64, key: &str, out: &mut [f64]) -> Result<()>;
        fn get_scalar(node: i64, key: &str) -> Result<f64>;
        fn set_vector(node: i64, key: &str, values: &[f64]) -> Result<()>;
        fn set_double(node: i64, key: &str, value: f64) -> Result<()>;
        fn set_long(node: i64, key: &str, value: i64) -> Result<()>;
        fn set_bool(node: i64, key: &str, value: bool) -> Result<()>;
        fn set_string(node: i64, key: &str, value: &str) -> Result<()>;
        fn get_stp_state(
            sources: &[i64],
            targets: &[i64],
            s: &mut [f64],
            r: &mut [f64],
            u: &mut [f64],
        ) -> Result<()>;
    }
}

/// NEST node id (1-based, as NEST counts).
pub type NodeId = i64;

/// How to install NEST when it is missing.
pub const INSTALL_HINT: &str = "install NEST 3.10 with `bash scripts/setup.sh`, or \
`python3 -m venv .venv && .venv/bin/pip install nest-simulator==3.10.0` plus \
`apt-get install libboost-dev libltdl-dev`, then rebuild (cargo build)";

/// Whether `build.rs` found NEST and compiled the module.
pub fn nest_available() -> bool {
    cfg!(seqlearn_has_nest)
}

/// Locations of the three shared objects loaded at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestPaths {
    /// `seqlearnmodule.so` (env `SEQLEARN_NEST_MODULE`, else built by build.rs)
    pub module: PathBuf,
    /// `nestkernel_api.so` (env `SEQLEARN_NEST_KERNEL`, else found at build time)
    pub kernel: PathBuf,
    /// libpython of the interpreter that has `nest` (env `SEQLEARN_NEST_LIBPYTHON`)
    pub libpython: PathBuf,
}

impl NestPaths {
    /// Runtime overrides first, then the paths baked in by `build.rs`.
    pub fn resolve() -> Result<Self> {
        fn pick(var: &str, built: Option<&'static str>, what: &str) -> Result<PathBuf> {
            if let Some(v) = std::env::var_os(var) {
                if !v.is_empty() {
                    return Ok(PathBuf::from(v));
                }
            }
            built.map(PathBuf::from).ok_or_else(|| {
                anyhow!("NEST backend unavailable: no {what} (set {var}, or {INSTALL_HINT})")
            })
        }
        let p = NestPaths {
            module: pick(
                "SEQLEARN_NEST_MODULE",
                option_env!("SEQLEARN_BUILT_MODULE"),
                "seqlearnmodule.so was built",
            )?,
            kernel: pick(
                "SEQLEARN_NEST_KERNEL",
                option_env!("SEQLEARN_BUILT_KERNEL"),
                "NEST kernel was found at build time",
            )?,
            libpython: pick(
                "SEQLEARN_NEST_LIBPYTHON",
                option_env!("SEQLEARN_BUILT_LIBPYTHON"),
                "libpython was found at build time",
            )?,
        };
        for (path, what) in [
            (&p.module, "seqlearn module"),
            (&p.kernel, "NEST kernel"),
            (&p.libpython, "libpython"),
        ] {
            if !path.is_file() {
                bail!("{what} not found at {} ({INSTALL_HINT})", path.display());
            }
        }
        Ok(p)
    }
}

/// STP variant of `seqlearn_stp_synapse` (docs/model.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StpVariant {
    /// the original code: lagged amplitude, drifting U
    #[default]
    Original,
    /// amplitude 1
    Off,
    /// textbook Tsodyks-Markram
    TsodyksMarkram,
}

impl StpVariant {
    /// The name the NEST model uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StpVariant::Original => "original",
            StpVariant::Off => "off",
            StpVariant::TsodyksMarkram => "tsodyks_markram",
        }
    }
}

/// Spike probability law of the neuron.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpikeLaw {
    /// p = 1 - exp(-r dt)
    #[default]
    Exponential,
    /// p = r dt
    Linear,
}

impl SpikeLaw {
    /// The name the NEST model uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SpikeLaw::Exponential => "exponential",
            SpikeLaw::Linear => "linear",
        }
    }
}

/// Model parameters shared by all neurons created afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronDefaults {
    /// Hz
    pub r_max: f64,
    /// ms
    pub tau_decay: f64,
    /// ms
    pub tau_rise: f64,
    pub eta: f64,
    pub variance_tracking: bool,
    pub bias_learning: bool,
    pub spike_law: SpikeLaw,
}

impl Default for NeuronDefaults {
    fn default() -> Self {
        NeuronDefaults {
            r_max: 100.0,
            tau_decay: 20.0,
            tau_rise: 2.0,
            eta: 0.05,
            variance_tracking: true,
            bias_learning: false,
            spike_law: SpikeLaw::Exponential,
        }
    }
}

/// One neuron to create: its circuit position and the initial weight of
/// every incoming slot (the number of slots is `weights.len()`).
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronSpec {
    pub circuit_size: usize,
    pub circuit_index: usize,
    pub weights: Vec<f64>,
}

/// STP synapses to create (parallel arrays, one entry per connection).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynapseBatch {
    pub sources: Vec<NodeId>,
    pub targets: Vec<NodeId>,
    pub slots: Vec<i64>,
    pub u: Vec<f64>,
    /// ms
    pub d: Vec<f64>,
    /// ms
    pub f: Vec<f64>,
}

impl SynapseBatch {
    pub fn push(&mut self, source: NodeId, target: NodeId, slot: usize, u: f64, d: f64, f: f64) {
        self.sources.push(source);
        self.targets.push(target);
        self.slots.push(slot as i64);
        self.u.push(u);
        self.d.push(d);
        self.f.push(f);
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Recorded network spikes (native step times, ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spikes {
    pub senders: Vec<NodeId>,
    pub times: Vec<f64>,
}

/// Multimeter samples: `u` and `rho` as used in the step at `times` (ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MultimeterData {
    pub senders: Vec<NodeId>,
    pub times: Vec<f64>,
    pub u: Vec<f64>,
    pub rho: Vec<f64>,
}

/// Per-slot recording of one neuron: weight at the start of the step and EPSP Y.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotRecording {
    pub times: Vec<f64>,
    pub slots: Vec<i64>,
    pub weights: Vec<f64>,
    pub epsps: Vec<f64>,
}

/// STP state of one connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StpState {
    pub s: f64,
    pub r: f64,
    pub u: f64,
}

static KERNEL_LOCK: Mutex<()> = Mutex::new(());

/// Handle to the (process-wide) NEST kernel with the seqlearn module.
pub struct NestKernel {
    paths: NestPaths,
    prepared: bool,
    initialized: bool,
    _guard: MutexGuard<'static, ()>,
}

impl std::fmt::Debug for NestKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestKernel")
            .field("paths", &self.paths)
            .field("prepared", &self.prepared)
            .finish()
    }
}

fn ctx<T>(r: std::result::Result<T, cxx::Exception>, what: &str) -> Result<T> {
    r.map_err(|e| anyhow!("{what}: {}", e.what()))
}

fn to_i64(v: usize, what: &str) -> Result<i64> {
    i64::try_from(v).with_context(|| format!("{what} too large"))
}

impl NestKernel {
    /// Load libpython, the NEST kernel and the seqlearn module (paths from
    /// [`NestPaths::resolve`]) and take the kernel lock.  Call
    /// [`NestKernel::reset`] before building a network.
    pub fn load() -> Result<Self> {
        let paths = NestPaths::resolve()?;
        Self::load_from(paths)
    }

    /// Like [`NestKernel::load`] with explicit paths.  Within one process
    /// only one module path can ever be loaded.
    pub fn load_from(paths: NestPaths) -> Result<Self> {
        let guard = KERNEL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let s = |p: &Path| p.to_string_lossy().into_owned();
        ctx(
            ffi::load(&s(&paths.libpython), &s(&paths.kernel), &s(&paths.module)),
            "loading NEST",
        )
        .with_context(|| format!("NEST backend unavailable ({INSTALL_HINT})"))?;
        Ok(NestKernel {
            paths,
            prepared: false,
            initialized: false,
            _guard: guard,
        })
    }

    pub fn paths(&self) -> &NestPaths {
        &self.paths
    }

    fn require_init(&self) -> Result<()> {
        if !self.initialized {
            bail!("NEST kernel not initialised: call NestKernel::reset first");
        }
        Ok(())
    }

    /// Reset the kernel (ResetKernel), set 1 ms resolution, `threads` local
    /// threads and the RNG seed, and install the seqlearn module.  Forgets
    /// every node created before.
    pub fn reset(&mut self, threads: usize, seed: u32) -> Result<()> {
        if self.prepared {
            self.cleanup()?;
        }
        let threads = i32::try_from(threads).context("threads too large")?;
        ctx(
            ffi::api_init(threads, i64::from(seed)),
            "resetting the NEST kernel",
        )?;
        let module = self.paths.module.to_string_lossy().into_owned();
        ctx(ffi::install_module(&module), "installing seqlearnmodule")?;
        self.initialized = true;
        Ok(())
    }

    /// Defaults of `seqlearn_wta_neuron` for neurons created afterwards.
    pub fn set_neuron_defaults(&mut self, p: &NeuronDefaults) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_neuron_defaults(
                p.r_max,
                p.tau_decay,
                p.tau_rise,
                p.eta,
                p.variance_tracking,
                p.bias_learning,
                p.spike_law.as_str(),
            ),
            "setting neuron defaults",
        )
    }

    /// Create the neurons; returns their node ids (consecutive).
    pub fn create_neurons(&mut self, specs: &[NeuronSpec]) -> Result<Vec<NodeId>> {
        self.require_init()?;
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let mut size = Vec::with_capacity(specs.len());
        let mut index = Vec::with_capacity(specs.len());
        let mut n_in = Vec::with_capacity(specs.len());
        let mut weights = Vec::new();
        for s in specs {
            size.push(to_i64(s.circuit_size, "circuit_size")?);
            index.push(to_i64(s.circuit_index, "circuit_index")?);
            n_in.push(to_i64(s.weights.len(), "n_incoming")?);
            weights.extend_from_slice(&s.weights);
        }
        let first = ctx(
            ffi::create_neurons(&size, &index, &n_in, &weights),
            "creating neurons",
        )?;
        Ok((0..specs.len() as i64).map(|i| first + i).collect())
    }

    /// Connect the neurons of one circuit (ids in circuit-index order) so
    /// that they exchange their potentials.
    pub fn connect_circuit(&mut self, ids: &[NodeId]) -> Result<()> {
        self.require_init()?;
        ctx(ffi::connect_circuit(ids), "connecting a circuit")
    }

    /// One spike_generator per channel with the given native step times (ms);
    /// returns the generator ids.
    pub fn create_inputs(&mut self, trains: &[Vec<f64>]) -> Result<Vec<NodeId>> {
        self.require_init()?;
        if trains.is_empty() {
            return Ok(Vec::new());
        }
        let mut offsets = Vec::with_capacity(trains.len() + 1);
        let mut times = Vec::new();
        offsets.push(0usize);
        for t in trains {
            times.extend_from_slice(t);
            offsets.push(times.len());
        }
        let first = ctx(ffi::create_inputs(&offsets, &times), "creating inputs")?;
        Ok((0..trains.len() as i64).map(|i| first + i).collect())
    }

    /// Create `seqlearn_stp_synapse` connections (delay 1 ms, receptor = slot).
    pub fn connect(&mut self, batch: &SynapseBatch, variant: StpVariant) -> Result<()> {
        self.require_init()?;
        let n = batch.len();
        if [
            batch.targets.len(),
            batch.slots.len(),
            batch.u.len(),
            batch.d.len(),
            batch.f.len(),
        ]
        .iter()
        .any(|&m| m != n)
        {
            bail!("SynapseBatch: arrays differ in length");
        }
        ctx(
            ffi::connect(
                &batch.sources,
                &batch.targets,
                &batch.slots,
                &batch.u,
                &batch.d,
                &batch.f,
                variant.as_str(),
            ),
            "connecting synapses",
        )
    }

    /// Reset times (native step times, ms) of every neuron and synapse.
    pub fn set_reset_times(&mut self, times_ms: &[f64]) -> Result<()> {
        self.require_init()?;
        ctx(ffi::set_reset_times(times_ms), "setting reset times")
    }

    /// Switch STDP (and bias learning) on or off for all neurons.
    pub fn set_learning(&mut self, on: bool) -> Result<()> {
        self.require_init()?;
        ctx(ffi::set_learning(on), "setting the learning flag")
    }

    /// Make `node` spike exactly at these native step times (ms), never at random.
    pub fn set_forced_spikes(&mut self, node: NodeId, times_ms: &[f64]) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_forced_spikes(node, times_ms),
            "setting forced spikes",
        )
    }

    /// Record weight and EPSP of these slots of `node` every `interval_ms`.
    pub fn set_recorded_slots(
        &mut self,
        node: NodeId,
        slots: &[i64],
        interval_ms: f64,
    ) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_recorded_slots(node, slots, interval_ms),
            "setting recorded slots",
        )
    }

    /// Spike recorder on every neuron created so far.
    pub fn record_spikes(&mut self) -> Result<NodeId> {
        self.require_init()?;
        ctx(ffi::record_spikes(), "creating the spike recorder")
    }

    /// Multimeter recording `u` and `rho` of `ids` every `interval_ms`.
    pub fn record_multimeter(&mut self, ids: &[NodeId], interval_ms: f64) -> Result<NodeId> {
        self.require_init()?;
        ctx(
            ffi::record_multimeter(ids, interval_ms),
            "creating the multimeter",
        )
    }

    /// NEST Prepare (once before a series of [`NestKernel::run`] chunks).
    pub fn prepare(&mut self) -> Result<()> {
        self.require_init()?;
        ctx(ffi::prepare(), "NEST prepare")?;
        self.prepared = true;
        Ok(())
    }

    /// Simulate `ms` more milliseconds (after [`NestKernel::prepare`]).
    pub fn run(&mut self, ms: f64) -> Result<()> {
        if !self.prepared {
            bail!("NestKernel::run needs prepare() first");
        }
        ctx(ffi::run(ms), "NEST run")
    }

    /// NEST Cleanup (after the last chunk).
    pub fn cleanup(&mut self) -> Result<()> {
        if self.prepared {
            self.prepared = false;
            ctx(ffi::cleanup(), "NEST cleanup")?;
        }
        Ok(())
    }

    /// prepare + run + cleanup.
    pub fn simulate(&mut self, ms: f64) -> Result<()> {
        self.prepare()?;
        let r = self.run(ms);
        let c = self.cleanup();
        r.and(c)
    }

    /// Simulated time in ms.
    pub fn time_ms(&self) -> Result<f64> {
        self.require_init()?;
        ctx(ffi::kernel_time(), "reading the kernel time")
    }

    /// Spikes recorded since the last call (native step times).
    pub fn take_spikes(&mut self) -> Result<Spikes> {
        self.require_init()?;
        let n = ctx(ffi::fetch_spikes(), "reading spikes")?;
        let mut s = Spikes {
            senders: vec![0; n],
            times: vec![0.0; n],
        };
        ctx(
            ffi::copy_spikes(&mut s.senders, &mut s.times),
            "reading spikes",
        )?;
        Ok(s)
    }

    /// Multimeter samples since the last call (native step times).
    pub fn take_multimeter(&mut self) -> Result<MultimeterData> {
        self.require_init()?;
        let n = ctx(ffi::fetch_multimeter(), "reading the multimeter")?;
        let mut m = MultimeterData {
            senders: vec![0; n],
            times: vec![0.0; n],
            u: vec![0.0; n],
            rho: vec![0.0; n],
        };
        ctx(
            ffi::copy_multimeter(&mut m.senders, &mut m.times, &mut m.u, &mut m.rho),
            "reading the multimeter",
        )?;
        Ok(m)
    }

    /// Slot recording of `node` since the last call.
    pub fn take_slot_recording(&mut self, node: NodeId) -> Result<SlotRecording> {
        self.require_init()?;
        let n = ctx(ffi::fetch_slot_recording(node), "reading a slot recording")?;
        let mut r = SlotRecording {
            times: vec![0.0; n],
            slots: vec![0; n],
            weights: vec![0.0; n],
            epsps: vec![0.0; n],
        };
        ctx(
            ffi::copy_slot_recording(&mut r.times, &mut r.slots, &mut r.weights, &mut r.epsps),
            "reading a slot recording",
        )?;
        Ok(r)
    }

    /// A vector entry of a neuron's status (`weights`, `S`, `Q`, `epsp_e`,
    /// `epsp_f`, `reset_times`, `forced_spikes`, ...).
    pub fn neuron_vector(&self, node: NodeId, key: &str) -> Result<Vec<f64>> {
        self.require_init()?;
        let what = format!("reading '{key}' of node {node}");
        let n = ctx(ffi::get_vector_len(node, key), &what)?;
        let mut v = vec![0.0; n];
        ctx(ffi::get_vector(node, key, &mut v), &what)?;
        Ok(v)
    }

    /// A numeric or boolean entry of a neuron's status (`bias`, `bias_S`,
    /// `bias_Q`, `n_train_steps`, `u`, `rho`, parameters, ...).
    pub fn neuron_scalar(&self, node: NodeId, key: &str) -> Result<f64> {
        self.require_init()?;
        ctx(
            ffi::get_scalar(node, key),
            &format!("reading '{key}' of node {node}"),
        )
    }

    pub fn weights(&self, node: NodeId) -> Result<Vec<f64>> {
        self.neuron_vector(node, "weights")
    }

    pub fn set_neuron_vector(&mut self, node: NodeId, key: &str, values: &[f64]) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_vector(node, key, values),
            &format!("setting '{key}' of node {node}"),
        )
    }

    pub fn set_neuron_f64(&mut self, node: NodeId, key: &str, value: f64) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_double(node, key, value),
            &format!("setting '{key}' of node {node}"),
        )
    }

    pub fn set_neuron_i64(&mut self, node: NodeId, key: &str, value: i64) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_long(node, key, value),
            &format!("setting '{key}' of node {node}"),
        )
    }

    pub fn set_neuron_bool(&mut self, node: NodeId, key: &str, value: bool) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_bool(node, key, value),
            &format!("setting '{key}' of node {node}"),
        )
    }

    pub fn set_neuron_str(&mut self, node: NodeId, key: &str, value: &str) -> Result<()> {
        self.require_init()?;
        ctx(
            ffi::set_string(node, key, value),
            &format!("setting '{key}' of node {node}"),
        )
    }

    /// STP state of the connections `pairs[i] = (source, target)`.
    pub fn stp_state(&self, pairs: &[(NodeId, NodeId)]) -> Result<Vec<StpState>> {
        self.require_init()?;
        let src: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let tgt: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        let n = pairs.len();
        let (mut s, mut r, mut u) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        ctx(
            ffi::get_stp_state(&src, &tgt, &mut s, &mut r, &mut u),
            "reading STP state",
        )?;
        Ok((0..n)
            .map(|i| StpState {
                s: s[i],
                r: r[i],
                u: u[i],
            })
            .collect())
    }
}

impl Drop for NestKernel {
    fn drop(&mut self) {
        if self.prepared {
            let _ = ffi::cleanup();
        }
    }
}

/// Path of the module .so the current process has loaded, if any.
pub fn loaded_module() -> Option<PathBuf> {
    if ffi::is_loaded() {
        Some(PathBuf::from(ffi::loaded_module_path()))
    } else {
        None
    }
}
