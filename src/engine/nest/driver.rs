//! NEST 3.10 backend: the `cxx` bridge to `cpp/bridge.cc` and a safe wrapper.
//!
//! The binary links neither NEST nor libpython.  [`NestKernel::load`]
//! dlopens libpython, the NEST kernel (`nestkernel_api.so` of the PyPI wheel)
//! and the extension module `seqlearnmodule.so` built by `build.rs`, then
//! drives the kernel through the module's C driver API (`cpp/sl_capi.h`).
//! See `docs/nest.md`.
//!
//! The NEST kernel is a process-wide singleton: a [`NestKernel`] holds a
//! global lease for its lifetime, so a second `load` waits until the first
//! handle is dropped (one thread must not try to hold two).  All calls into
//! NEST run on one dedicated thread, so a `NestKernel` may be used from (and
//! moved to) any thread.
//!
//! Time convention of this wrapper: all times are native step times in ms
//! (step `t` <-> `t * dt`, `dt = 1 ms`), for input spikes, output spikes,
//! multimeter samples, trace and slot recordings, reset times and forced
//! spikes alike.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Condvar, Mutex, OnceLock};

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
        fn set_trace_recording(ids: &[i64], on: bool, interval: f64) -> Result<()>;
        fn fetch_trace_block(ids: &[i64]) -> Result<usize>;
        fn copy_trace_block(times: &mut [f64], u: &mut [f64], rho: &mut [f64]) -> Result<()>;
        fn get_vector_len(node: i64, key: &str) -> Result<usize>;
        fn get_vector(node: i64, key: &str, out: &mut [f64]) -> Result<()>;
        fn get_scalar(node: i64, key: &str) -> Result<f64>;
        fn kernel_selftest(n: usize, out: &mut [f64]) -> Result<()>;
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
/// What [`NestKernel::kernel_selftest`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelSelftest {
    pub path_diff: f64,
    pub ref_diff: f64,
    pub simd: bool,
}

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

/// Ownership of the process-wide kernel: at most one [`NestKernel`] exists at
/// a time; `acquire` waits for the current owner to drop its handle.
struct KernelLease;

static KERNEL_BUSY: Mutex<bool> = Mutex::new(false);
static KERNEL_FREED: Condvar = Condvar::new();

impl KernelLease {
    fn acquire() -> Self {
        let mut busy = KERNEL_BUSY.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            busy = KERNEL_FREED.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy = true;
        KernelLease
    }
}

impl Drop for KernelLease {
    fn drop(&mut self) {
        *KERNEL_BUSY.lock().unwrap_or_else(|p| p.into_inner()) = false;
        KERNEL_FREED.notify_one();
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// All NEST calls run on one dedicated OS thread: NEST and its OpenMP
/// thread pool must be driven from a single master thread (calling it from
/// changing threads, as a test harness does, crashes libgomp workers).
fn nest_thread() -> &'static Mutex<mpsc::Sender<Job>> {
    static SENDER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("nest-kernel".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .expect("cannot spawn the NEST thread");
        Mutex::new(tx)
    })
}

/// Run `f` on the NEST thread and wait for its result.
fn exec<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    let (tx, rx) = mpsc::sync_channel::<std::thread::Result<R>>(1);
    let job: Job = Box::new(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    nest_thread()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| anyhow!("the NEST thread is gone"))?;
    match rx.recv() {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => bail!("a NEST call panicked"),
        Err(_) => bail!("the NEST thread is gone"),
    }
}

/// Run an FFI call on the NEST thread; errors carry `what` as context.
fn call<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> std::result::Result<T, cxx::Exception> + Send + 'static,
) -> Result<T> {
    exec(f)?.map_err(|e| anyhow!("{what}: {}", e.what()))
}

/// Handle to the (process-wide) NEST kernel with the seqlearn module.
pub struct NestKernel {
    paths: NestPaths,
    prepared: bool,
    initialized: bool,
    _lease: KernelLease,
}

impl std::fmt::Debug for NestKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestKernel")
            .field("paths", &self.paths)
            .field("prepared", &self.prepared)
            .finish()
    }
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
        let lease = KernelLease::acquire();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let (py, kernel, module) = (s(&paths.libpython), s(&paths.kernel), s(&paths.module));
        call("loading NEST", move || ffi::load(&py, &kernel, &module))
            .with_context(|| format!("NEST backend unavailable ({INSTALL_HINT})"))?;
        Ok(NestKernel {
            paths,
            prepared: false,
            initialized: false,
            _lease: lease,
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
    /// threads and the RNG seed (>= 1), and install the seqlearn module.
    /// Forgets every node created before.
    pub fn reset(&mut self, threads: usize, seed: u32) -> Result<()> {
        if self.prepared {
            self.cleanup()?;
        }
        self.initialized = false;
        let threads = i32::try_from(threads).context("threads too large")?;
        call("resetting the NEST kernel", move || {
            ffi::api_init(threads, i64::from(seed))
        })?;
        let module = self.paths.module.to_string_lossy().into_owned();
        call("installing seqlearnmodule", move || {
            ffi::install_module(&module)
        })?;
        self.initialized = true;
        Ok(())
    }

    /// Defaults of `seqlearn_wta_neuron` for neurons created afterwards.
    pub fn set_neuron_defaults(&mut self, p: &NeuronDefaults) -> Result<()> {
        self.require_init()?;
        let p = p.clone();
        call("setting neuron defaults", move || {
            ffi::set_neuron_defaults(
                p.r_max,
                p.tau_decay,
                p.tau_rise,
                p.eta,
                p.variance_tracking,
                p.bias_learning,
                p.spike_law.as_str(),
            )
        })
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
        let first = call("creating neurons", move || {
            ffi::create_neurons(&size, &index, &n_in, &weights)
        })?;
        Ok((0..specs.len() as i64).map(|i| first + i).collect())
    }

    /// Connect the neurons of one circuit (ids in circuit-index order) so
    /// that they exchange their potentials.
    pub fn connect_circuit(&mut self, ids: &[NodeId]) -> Result<()> {
        self.require_init()?;
        let ids = ids.to_vec();
        call("connecting a circuit", move || ffi::connect_circuit(&ids))
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
        let first = call("creating inputs", move || {
            ffi::create_inputs(&offsets, &times)
        })?;
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
        let b = batch.clone();
        call("connecting synapses", move || {
            ffi::connect(
                &b.sources,
                &b.targets,
                &b.slots,
                &b.u,
                &b.d,
                &b.f,
                variant.as_str(),
            )
        })
    }

    /// Reset times (native step times, ms) of every neuron and synapse.
    pub fn set_reset_times(&mut self, times_ms: &[f64]) -> Result<()> {
        self.require_init()?;
        let t = times_ms.to_vec();
        call("setting reset times", move || ffi::set_reset_times(&t))
    }

    /// Switch STDP (and bias learning) on or off for all neurons.
    pub fn set_learning(&mut self, on: bool) -> Result<()> {
        self.require_init()?;
        call("setting the learning flag", move || ffi::set_learning(on))
    }

    /// Make `node` spike exactly at these native step times (ms), never at random.
    pub fn set_forced_spikes(&mut self, node: NodeId, times_ms: &[f64]) -> Result<()> {
        self.require_init()?;
        let t = times_ms.to_vec();
        call("setting forced spikes", move || {
            ffi::set_forced_spikes(node, &t)
        })
    }

    /// Record weight and EPSP of these slots of `node` every `interval_ms`.
    pub fn set_recorded_slots(
        &mut self,
        node: NodeId,
        slots: &[i64],
        interval_ms: f64,
    ) -> Result<()> {
        self.require_init()?;
        let s = slots.to_vec();
        call("setting recorded slots", move || {
            ffi::set_recorded_slots(node, &s, interval_ms)
        })
    }

    /// Spike recorder on every neuron created so far.
    pub fn record_spikes(&mut self) -> Result<NodeId> {
        self.require_init()?;
        call("creating the spike recorder", ffi::record_spikes)
    }

    /// Multimeter recording `u` and `rho` of `ids` every `interval_ms`.
    pub fn record_multimeter(&mut self, ids: &[NodeId], interval_ms: f64) -> Result<NodeId> {
        self.require_init()?;
        let ids = ids.to_vec();
        call("creating the multimeter", move || {
            ffi::record_multimeter(&ids, interval_ms)
        })
    }

    /// NEST Prepare (once before a series of [`NestKernel::run`] chunks).
    pub fn prepare(&mut self) -> Result<()> {
        self.require_init()?;
        call("NEST prepare", ffi::prepare)?;
        self.prepared = true;
        Ok(())
    }

    /// Simulate `ms` more milliseconds (after [`NestKernel::prepare`]).
    pub fn run(&mut self, ms: f64) -> Result<()> {
        if !self.prepared {
            bail!("NestKernel::run needs prepare() first");
        }
        call("NEST run", move || ffi::run(ms))
    }

    /// NEST Cleanup (after the last chunk).
    pub fn cleanup(&mut self) -> Result<()> {
        if self.prepared {
            self.prepared = false;
            call("NEST cleanup", ffi::cleanup)?;
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
        call("reading the kernel time", ffi::kernel_time)
    }

    /// Spikes recorded since the last call (native step times).  Works
    /// inside a prepare/cleanup context too; NEST only lets the recorder be
    /// emptied outside one, so in long runs read after `cleanup` as well.
    pub fn take_spikes(&mut self) -> Result<Spikes> {
        self.require_init()?;
        call("reading spikes", || {
            let n = ffi::fetch_spikes()?;
            let mut s = Spikes {
                senders: vec![0; n],
                times: vec![0.0; n],
            };
            ffi::copy_spikes(&mut s.senders, &mut s.times)?;
            Ok(s)
        })
    }

    /// Multimeter samples since the last call (native step times; same
    /// rules as [`NestKernel::take_spikes`]).  NEST hands over the samples of
    /// a run's last step with the next run.
    pub fn take_multimeter(&mut self) -> Result<MultimeterData> {
        self.require_init()?;
        call("reading the multimeter", || {
            let n = ffi::fetch_multimeter()?;
            let mut m = MultimeterData {
                senders: vec![0; n],
                times: vec![0.0; n],
                u: vec![0.0; n],
                rho: vec![0.0; n],
            };
            ffi::copy_multimeter(&mut m.senders, &mut m.times, &mut m.u, &mut m.rho)?;
            Ok(m)
        })
    }

    /// Slot recording of `node` since the last call.
    pub fn take_slot_recording(&mut self, node: NodeId) -> Result<SlotRecording> {
        self.require_init()?;
        call("reading a slot recording", move || {
            let n = ffi::fetch_slot_recording(node)?;
            let mut r = SlotRecording {
                times: vec![0.0; n],
                slots: vec![0; n],
                weights: vec![0.0; n],
                epsps: vec![0.0; n],
            };
            ffi::copy_slot_recording(&mut r.times, &mut r.slots, &mut r.weights, &mut r.epsps)?;
            Ok(r)
        })
    }

    /// Switch the neuron-internal trace recording of `nodes` on or off:
    /// `u` and `rho` at every step `t` with `t % (interval_ms / dt) == 0`.
    /// `interval_ms` must be a positive multiple of the resolution.  Between
    /// runs (also inside a prepare/cleanup context) it takes effect at once.
    pub fn set_trace_recording(
        &mut self,
        nodes: &[NodeId],
        on: bool,
        interval_ms: f64,
    ) -> Result<()> {
        self.require_init()?;
        let ids = nodes.to_vec();
        call("setting the trace recording", move || {
            ffi::set_trace_recording(&ids, on, interval_ms)
        })
    }

    /// Trace recordings of `nodes` since the last call (the neurons are
    /// emptied), which must have sampled the same steps: returns the sample
    /// times (ms) and appends `u` and `rho` as used in those steps (the
    /// values a multimeter would report) sample-major: sample `i` of
    /// `nodes[k]` at `old_len + i * nodes.len() + k`. Complete up to the end
    /// of the last run (no lag), and allowed between runs inside a
    /// prepare/cleanup context. Nodes that sampled other steps are an error
    /// (take them in separate calls); on an error from the module `u` and
    /// `rho` are as before.
    pub fn take_trace_block(
        &mut self,
        nodes: &[NodeId],
        u: &mut Vec<f64>,
        rho: &mut Vec<f64>,
    ) -> Result<Vec<f64>> {
        self.require_init()?;
        anyhow::ensure!(u.len() == rho.len(), "u and rho differ in length");
        let ids = nodes.to_vec();
        let old_len = u.len();
        // the buffers travel to the NEST thread and back (one trip, no copy)
        let (mut bu, mut brho) = (std::mem::take(u), std::mem::take(rho));
        let (bu, brho, times) = exec(move || {
            let times = (|| {
                let n = ffi::fetch_trace_block(&ids)?;
                let mut times = vec![0.0; n];
                bu.resize(old_len + n * ids.len(), 0.0);
                brho.resize(old_len + n * ids.len(), 0.0);
                ffi::copy_trace_block(&mut times, &mut bu[old_len..], &mut brho[old_len..])?;
                Ok::<_, cxx::Exception>(times)
            })();
            if times.is_err() {
                bu.truncate(old_len);
                brho.truncate(old_len);
            }
            (bu, brho, times)
        })?;
        *u = bu;
        *rho = brho;
        times.map_err(|e| anyhow!("reading the trace recording: {}", e.what()))
    }

    /// A vector entry of a neuron's status (`weights`, `S`, `Q`, `epsp_e`,
    /// `epsp_f`, `reset_times`, `forced_spikes`, ...).
    pub fn neuron_vector(&self, node: NodeId, key: &str) -> Result<Vec<f64>> {
        self.require_init()?;
        let k = key.to_string();
        call(&format!("reading '{key}' of node {node}"), move || {
            let n = ffi::get_vector_len(node, &k)?;
            let mut v = vec![0.0; n];
            ffi::get_vector(node, &k, &mut v)?;
            Ok(v)
        })
    }

    /// A numeric or boolean entry of a neuron's status (`bias`, `bias_S`,
    /// `bias_Q`, `n_train_steps`, `u`, `rho`, parameters, ...).
    pub fn neuron_scalar(&self, node: NodeId, key: &str) -> Result<f64> {
        self.require_init()?;
        let k = key.to_string();
        call(&format!("reading '{key}' of node {node}"), move || {
            ffi::get_scalar(node, &k)
        })
    }

    /// The module's learning kernel on `n` pseudo-random slots per setting
    /// (`sl_kernel_selftest`): largest difference between its vectorised
    /// and scalar paths, largest relative difference from the model's
    /// formulas with libm `exp`, and whether the vectorised path ran.
    pub fn kernel_selftest(&self, n: usize) -> Result<KernelSelftest> {
        call("testing the learning kernel", move || {
            let mut out = [0.0; 3];
            ffi::kernel_selftest(n, &mut out)?;
            Ok(KernelSelftest {
                path_diff: out[0],
                ref_diff: out[1],
                simd: out[2] != 0.0,
            })
        })
    }

    pub fn weights(&self, node: NodeId) -> Result<Vec<f64>> {
        self.neuron_vector(node, "weights")
    }

    pub fn set_neuron_vector(&mut self, node: NodeId, key: &str, values: &[f64]) -> Result<()> {
        self.require_init()?;
        let (k, v) = (key.to_string(), values.to_vec());
        call(&format!("setting '{key}' of node {node}"), move || {
            ffi::set_vector(node, &k, &v)
        })
    }

    pub fn set_neuron_f64(&mut self, node: NodeId, key: &str, value: f64) -> Result<()> {
        self.require_init()?;
        let k = key.to_string();
        call(&format!("setting '{key}' of node {node}"), move || {
            ffi::set_double(node, &k, value)
        })
    }

    pub fn set_neuron_i64(&mut self, node: NodeId, key: &str, value: i64) -> Result<()> {
        self.require_init()?;
        let k = key.to_string();
        call(&format!("setting '{key}' of node {node}"), move || {
            ffi::set_long(node, &k, value)
        })
    }

    pub fn set_neuron_bool(&mut self, node: NodeId, key: &str, value: bool) -> Result<()> {
        self.require_init()?;
        let k = key.to_string();
        call(&format!("setting '{key}' of node {node}"), move || {
            ffi::set_bool(node, &k, value)
        })
    }

    pub fn set_neuron_str(&mut self, node: NodeId, key: &str, value: &str) -> Result<()> {
        self.require_init()?;
        let (k, v) = (key.to_string(), value.to_string());
        call(&format!("setting '{key}' of node {node}"), move || {
            ffi::set_string(node, &k, &v)
        })
    }

    /// STP state of the connections `pairs[i] = (source, target)`.
    pub fn stp_state(&self, pairs: &[(NodeId, NodeId)]) -> Result<Vec<StpState>> {
        self.require_init()?;
        let src: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let tgt: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        let n = pairs.len();
        let (s, r, u) = call("reading STP state", move || {
            let (mut s, mut r, mut u) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            ffi::get_stp_state(&src, &tgt, &mut s, &mut r, &mut u)?;
            Ok((s, r, u))
        })?;
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
            let _ = call("NEST cleanup", ffi::cleanup);
        }
    }
}

/// Path of the module .so the current process has loaded, if any.
pub fn loaded_module() -> Option<PathBuf> {
    exec(|| {
        if ffi::is_loaded() {
            Some(PathBuf::from(ffi::loaded_module_path().to_string()))
        } else {
            None
        }
    })
    .ok()
    .flatten()
}
