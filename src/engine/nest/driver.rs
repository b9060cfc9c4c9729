//! NEST 3.10 backend: the `cxx` bridge to the module's driver and a thin
//! safe wrapper.
//!
//! The binary links neither NEST nor libpython. [`NestKernel::load`]
//! dlopens libpython, the NEST kernel (`nestkernel_api.so` of the PyPI
//! wheel) and the extension module `seqlearnmodule.so` built by `build.rs`,
//! and gets the module's driver (`cpp/driver/seqlearn_driver.h`, one
//! factory symbol) as an opaque [`Kernel`] (`cpp/bridge.{h,cc}`). Each
//! operation is declared once per language boundary: here (Rust <-> C++,
//! shared structs and enums) and in the driver interface (C++ <-> the
//! module). See `docs/nest.md`.
//!
//! The NEST kernel is a process-wide singleton: the [`Kernel`] lives on one
//! dedicated thread for the rest of the process, a [`NestKernel`] holds a
//! lease on it (a second `load` waits until the first handle is dropped) and
//! runs every call there ([`NestKernel::call`]): NEST's OpenMP pool must
//! keep the same master thread (driving it from changing threads, as
//! `cargo test` does, crashed libgomp workers).
//!
//! Indices, not node ids: neurons are network indices, sources are
//! `0..n_inputs` (channels) then `n_inputs + k`, times are native steps.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{mpsc, Condvar, Mutex, OnceLock};

use anyhow::{anyhow, bail, Context, Result};

#[cxx::bridge(namespace = "seqlearn::bridge")]
mod ffi {
    /// What a generic status entry is about.
    #[namespace = "seqlearn::driver"]
    #[repr(u8)]
    #[derive(Debug)]
    enum Target {
        /// `GetDefaults` of `seqlearn_wta_neuron`
        NeuronDefaults = 0,
        /// `GetDefaults` of `seqlearn_stp_synapse`
        SynapseDefaults = 1,
        /// neuron `neuron`
        Neuron = 2,
        /// the synapse `source -> neuron`
        Synapse = 3,
    }

    /// The kind of a [`StatusValue`].
    #[namespace = "seqlearn::driver"]
    #[repr(u8)]
    #[derive(Debug)]
    enum ValueKind {
        Number = 0,
        Numbers = 1,
        Text = 2,
        Flag = 3,
    }

    /// Model parameters of all neurons.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct NeuronParams {
        /// Hz
        r_max: f64,
        /// ms
        tau_decay: f64,
        /// ms
        tau_rise: f64,
        eta: f64,
        variance_tracking: bool,
        bias_learning: bool,
        spike_law: SpikeLaw,
    }

    /// One neuron: circuit position, number of slots, initial bias. The
    /// neurons of a circuit are consecutive, `circuit_index` `0..K`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct NeuronSpec {
        circuit_size: u32,
        circuit_index: u32,
        n_incoming: u32,
        bias: f64,
        /// Whether its circuit learns (`network.train_fraction`): the
        /// driver switches learning on in training phases for these only.
        trained: bool,
    }

    /// STP synapses of one variant (parallel arrays).
    #[derive(Debug, Clone, Copy)]
    struct Synapses<'a> {
        /// source index
        source: &'a [u32],
        /// neuron index
        target: &'a [u32],
        slot: &'a [u32],
        u: &'a [f64],
        /// ms
        d: &'a [f64],
        /// ms
        f: &'a [f64],
        variant: StpVariant,
    }

    /// A recorded synapse: the slot of a neuron.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct RecordedSlot {
        target: u32,
        slot: u32,
    }

    /// The whole network, its input, resets, forced spikes and recording:
    /// one `build` call.
    #[derive(Debug, Clone, Copy)]
    struct NetworkSpec<'a> {
        params: NeuronParams,
        neurons: &'a [NeuronSpec],
        /// initial weights, neuron by neuron in slot order
        weights: &'a [f64],
        /// channel `c` spikes at `input_steps[input_offsets[c]..input_offsets[c + 1]]`
        input_offsets: &'a [usize],
        input_steps: &'a [u64],
        /// connected first (the order fixes NEST's delivery order)
        input_synapses: Synapses<'a>,
        recurrent_synapses: Synapses<'a>,
        reset_steps: &'a [u64],
        /// neuron `k` spikes exactly at `forced_steps[forced_offsets[k]..forced_offsets[k + 1]]`
        forced: bool,
        forced_offsets: &'a [usize],
        forced_steps: &'a [u64],
        /// the neurons `set_trace_recording` switches
        recorded_neurons: &'a [u32],
        recorded_synapses: &'a [RecordedSlot],
        /// steps between two synapse samples
        synapse_interval: u64,
    }

    /// Where a generic status entry is.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct StatusTarget {
        target: Target,
        neuron: u32,
        source: u32,
    }

    /// How the kernel runs (after `reset`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    struct Parallel {
        ranks: u32,
        rank: u32,
        /// threads per rank
        threads: u32,
        /// virtual processes: ranks x threads
        vps: u32,
        /// the kernel was built with MPI
        have_mpi: bool,
    }

    /// A generic status value.
    #[derive(Debug, Clone, PartialEq)]
    struct StatusValue {
        kind: ValueKind,
        number: f64,
        numbers: Vec<f64>,
        text: String,
        flag: bool,
    }

    extern "Rust" {
        type Output;
        fn append_spikes(self: &mut Output, neurons: &[u32], steps: &[u64]);
        fn append_traces(self: &mut Output, steps: &[u64], u: &[f64], rho: &[f64]);
        fn append_synapse_samples(
            self: &mut Output,
            steps: &[u64],
            synapses: &[u32],
            weights: &[f64],
            epsps: &[f64],
        );
    }

    unsafe extern "C++" {
        include!("seqlearn-nest/cpp/bridge.h");

        #[namespace = "seqlearn::kernels"]
        type SpikeLaw = crate::engine::kernels::SpikeLaw;
        #[namespace = "seqlearn::kernels"]
        type StpVariant = crate::engine::kernels::StpVariant;
        #[namespace = "seqlearn::driver"]
        type Target;
        #[namespace = "seqlearn::driver"]
        type ValueKind;

        /// The module's driver (`cpp/driver/seqlearn_driver.h`).
        type Kernel;

        fn load_kernel(libpython: &str, kernel: &str, module: &str) -> Result<UniquePtr<Kernel>>;
        fn module_path(self: &Kernel) -> String;
        /// init_nest / ResetKernel, resolution 1 ms, threads, seed
        /// (`1..2^31`), and the module installed.
        fn reset(self: Pin<&mut Kernel>, threads: u32, seed: u32) -> Result<()>;
        /// Creates the network (once after each reset).
        fn build(self: Pin<&mut Kernel>, spec: &NetworkSpec) -> Result<()>;
        fn set_learning(self: Pin<&mut Kernel>, on: bool) -> Result<()>;
        /// Trace recording of the recorded neurons every `interval` steps.
        fn set_trace_recording(self: Pin<&mut Kernel>, on: bool, interval: u64) -> Result<()>;
        fn prepare(self: Pin<&mut Kernel>) -> Result<()>;
        fn run(self: Pin<&mut Kernel>, steps: u64) -> Result<()>;
        fn cleanup(self: Pin<&mut Kernel>) -> Result<()>;
        fn kernel_steps(self: Pin<&mut Kernel>) -> Result<u64>;
        /// Spikes since the last call (also inside a context).
        fn take_spikes(self: Pin<&mut Kernel>, out: &mut Output) -> Result<()>;
        /// Trace samples since the last call, sample-major.
        fn take_traces(self: Pin<&mut Kernel>, out: &mut Output) -> Result<()>;
        fn take_synapse_traces(self: Pin<&mut Kernel>, out: &mut Output) -> Result<()>;
        /// `w`, `S`, `Q` per synapse (network order) and the biases.
        fn final_state(
            self: Pin<&mut Kernel>,
            w: &mut [f64],
            s: &mut [f64],
            q: &mut [f64],
            bias: &mut [f64],
        ) -> Result<()>;
        fn parallel(self: Pin<&mut Kernel>) -> Result<Parallel>;
        /// `nest::shutdown_nest(code)`: `MPI_Finalize` (0) or `MPI_Abort`;
        /// NEST is unusable afterwards.
        fn shutdown(self: Pin<&mut Kernel>, code: i32) -> Result<()>;
        fn get_status(
            self: Pin<&mut Kernel>,
            target: &StatusTarget,
            key: &str,
        ) -> Result<StatusValue>;
        fn set_status(
            self: Pin<&mut Kernel>,
            target: &StatusTarget,
            key: &str,
            value: &StatusValue,
        ) -> Result<()>;
    }
}

pub use ffi::{
    Kernel, NetworkSpec, NeuronParams, NeuronSpec, Parallel, RecordedSlot, StatusTarget,
    StatusValue, Synapses, Target, ValueKind,
};

/// How to install NEST when it is missing.
pub const INSTALL_HINT: &str = "install NEST 3.10 with `bash scripts/setup.sh`, or \
`python3 -m venv .venv && .venv/bin/pip install nest-simulator==3.10.0` plus \
`apt-get install libboost-dev libltdl-dev`, then rebuild (cargo build)";

/// Whether `build.rs` found NEST and compiled the module.
pub fn nest_available() -> bool {
    cfg!(seqlearn_has_nest)
}

/// Whether `build.rs` compiled a module for a NEST kernel with MPI (the
/// default NEST itself, or the prefix of `scripts/setup.sh --mpi`).
pub fn mpi_available() -> bool {
    option_env!("SEQLEARN_BUILT_HAVE_MPI") == Some("1") || cfg!(seqlearn_has_nest_mpi)
}

/// The module, kernel and libpython `build.rs` made for the MPI kernel:
/// the default ones if that NEST has MPI, else the MPI prefix's.
fn built_mpi_paths() -> [Option<&'static str>; 3] {
    if option_env!("SEQLEARN_BUILT_HAVE_MPI") == Some("1") {
        return [
            option_env!("SEQLEARN_BUILT_MODULE"),
            option_env!("SEQLEARN_BUILT_KERNEL"),
            option_env!("SEQLEARN_BUILT_LIBPYTHON"),
        ];
    }
    [
        option_env!("SEQLEARN_BUILT_MPI_MODULE"),
        option_env!("SEQLEARN_BUILT_MPI_KERNEL"),
        option_env!("SEQLEARN_BUILT_MPI_LIBPYTHON"),
    ]
}

/// How to get the MPI kernel when it is missing.
pub const MPI_INSTALL_HINT: &str = "build NEST with MPI with `bash scripts/setup.sh --mpi`, then rebuild (cargo build --release); or build against a site's MPI NEST (docs/cluster.md)";

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
    /// Runtime overrides first, then the paths baked in by `build.rs`: those
    /// of the MPI kernel under an MPI launch (or `SEQLEARN_NEST_MPI=1`,
    /// [`super::mpi::mpi_kernel_wanted`]), else the default ones.
    pub fn resolve() -> Result<Self> {
        let built = if super::mpi::mpi_kernel_wanted()? {
            let b = built_mpi_paths();
            if b[0].is_none() {
                bail!(
                    "started by an MPI launcher (or {}=1), but this build has no module for a \
                 NEST kernel with MPI: {MPI_INSTALL_HINT}",
                    super::mpi::SELECT_VAR
                );
            }
            b
        } else {
            [
                option_env!("SEQLEARN_BUILT_MODULE"),
                option_env!("SEQLEARN_BUILT_KERNEL"),
                option_env!("SEQLEARN_BUILT_LIBPYTHON"),
            ]
        };
        Self::resolve_with(built)
    }

    fn resolve_with([module, kernel, libpython]: [Option<&'static str>; 3]) -> Result<Self> {
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
                module,
                "seqlearnmodule.so was built",
            )?,
            kernel: pick(
                "SEQLEARN_NEST_KERNEL",
                kernel,
                "NEST kernel was found at build time",
            )?,
            libpython: pick(
                "SEQLEARN_NEST_LIBPYTHON",
                libpython,
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

/// Variable-length output of the driver: the bridge appends to it (cxx's
/// opaque Rust type); take the vectors out after the call.
#[derive(Debug, Default)]
pub struct Output {
    /// spikes: neuron index and native step
    pub spike_neurons: Vec<u32>,
    pub spike_steps: Vec<u64>,
    /// trace samples: steps, and `u`, `rho` sample-major (appended)
    pub trace_steps: Vec<u64>,
    pub u: Vec<f64>,
    pub rho: Vec<f64>,
    /// synapse samples: step, index into the spec's recorded synapses,
    /// weight at the start of the step and `Y`
    pub synapse_steps: Vec<u64>,
    pub synapses: Vec<u32>,
    pub weights: Vec<f64>,
    pub epsps: Vec<f64>,
}

impl Output {
    fn append_spikes(&mut self, neurons: &[u32], steps: &[u64]) {
        self.spike_neurons.extend_from_slice(neurons);
        self.spike_steps.extend_from_slice(steps);
    }

    fn append_traces(&mut self, steps: &[u64], u: &[f64], rho: &[f64]) {
        self.trace_steps.extend_from_slice(steps);
        self.u.extend_from_slice(u);
        self.rho.extend_from_slice(rho);
    }

    fn append_synapse_samples(
        &mut self,
        steps: &[u64],
        synapses: &[u32],
        weights: &[f64],
        epsps: &[f64],
    ) {
        self.synapse_steps.extend_from_slice(steps);
        self.synapses.extend_from_slice(synapses);
        self.weights.extend_from_slice(weights);
        self.epsps.extend_from_slice(epsps);
    }
}

impl StatusTarget {
    pub fn neuron_defaults() -> Self {
        StatusTarget {
            target: Target::NeuronDefaults,
            neuron: 0,
            source: 0,
        }
    }

    pub fn synapse_defaults() -> Self {
        StatusTarget {
            target: Target::SynapseDefaults,
            neuron: 0,
            source: 0,
        }
    }

    pub fn neuron(k: u32) -> Self {
        StatusTarget {
            target: Target::Neuron,
            neuron: k,
            source: 0,
        }
    }

    /// The synapse `source -> neuron k`.
    pub fn synapse(source: u32, k: u32) -> Self {
        StatusTarget {
            target: Target::Synapse,
            neuron: k,
            source,
        }
    }
}

impl StatusValue {
    fn of(kind: ValueKind) -> Self {
        StatusValue {
            kind,
            number: 0.0,
            numbers: Vec::new(),
            text: String::new(),
            flag: false,
        }
    }

    pub fn number(x: f64) -> Self {
        StatusValue {
            number: x,
            ..Self::of(ValueKind::Number)
        }
    }

    pub fn numbers(v: &[f64]) -> Self {
        StatusValue {
            numbers: v.to_vec(),
            ..Self::of(ValueKind::Numbers)
        }
    }

    pub fn text(s: &str) -> Self {
        StatusValue {
            text: s.to_string(),
            ..Self::of(ValueKind::Text)
        }
    }

    pub fn flag(b: bool) -> Self {
        StatusValue {
            flag: b,
            ..Self::of(ValueKind::Flag)
        }
    }
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

/// What the NEST thread keeps: the kernel, once loaded.
type Slot = Option<cxx::UniquePtr<Kernel>>;

type Job = Box<dyn FnOnce(&mut Slot) + Send + 'static>;

/// The NEST thread: it owns the [`Kernel`] and runs every call on it.
fn nest_thread() -> &'static Mutex<mpsc::Sender<Job>> {
    static SENDER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("nest-kernel".into())
            .spawn(move || {
                let mut slot: Slot = None;
                while let Ok(job) = rx.recv() {
                    job(&mut slot);
                }
            })
            .expect("cannot spawn the NEST thread");
        Mutex::new(tx)
    })
}

/// Runs `f` on the NEST thread and waits for its result. `f` may borrow
/// from the caller: this returns only after `f` has run or been dropped.
fn exec<'a, R: Send + 'a>(f: impl FnOnce(&mut Slot) -> R + Send + 'a) -> Result<R> {
    let (tx, rx) = mpsc::sync_channel::<std::thread::Result<R>>(1);
    let job: Box<dyn FnOnce(&mut Slot) + Send + 'a> = Box::new(move |slot| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(slot)));
        let _ = tx.send(r);
    });
    // SAFETY: the job's borrows (lifetime 'a) outlive its execution: the job
    // owns the result sender, so `rx.recv()` below returns only once the job
    // has run (Ok) or has been dropped unrun (Err: the channel closed), and
    // the NEST thread never leaks a job. Only the lifetime is erased.
    let job: Job =
        unsafe { std::mem::transmute::<Box<dyn FnOnce(&mut Slot) + Send + 'a>, Job>(job) };
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

/// Handle to the (process-wide) NEST kernel with the seqlearn module.
#[derive(Debug)]
pub struct NestKernel {
    paths: NestPaths,
    _lease: KernelLease,
}

impl std::fmt::Debug for KernelLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KernelLease")
    }
}

impl NestKernel {
    /// Loads libpython, the NEST kernel and the seqlearn module (paths from
    /// [`NestPaths::resolve`]) and takes the kernel lease. Call `reset`
    /// before building a network.
    pub fn load() -> Result<Self> {
        Self::load_from(NestPaths::resolve()?)
    }

    /// Like [`NestKernel::load`] with explicit paths. Within one process
    /// only one module path can ever be loaded.
    pub fn load_from(paths: NestPaths) -> Result<Self> {
        let lease = KernelLease::acquire();
        let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let (py, kernel, module) = (s(&paths.libpython), s(&paths.kernel), s(&paths.module));
        exec(move |slot| -> Result<()> {
            if let Some(k) = slot.as_ref() {
                let loaded = k.module_path();
                if loaded != module {
                    bail!("a different seqlearn module is loaded already: {loaded}");
                }
                return Ok(());
            }
            *slot =
                Some(ffi::load_kernel(&py, &kernel, &module).map_err(|e| anyhow!("{}", e.what()))?);
            Ok(())
        })?
        .with_context(|| format!("NEST backend unavailable ({INSTALL_HINT})"))?;
        Ok(NestKernel {
            paths,
            _lease: lease,
        })
    }

    pub fn paths(&self) -> &NestPaths {
        &self.paths
    }

    /// Runs `f` on the kernel, on the NEST thread; an exception of the
    /// driver (a NEST error with its message, a bad argument) is an `Err`.
    /// `f` may borrow from the caller, e.g.
    /// `k.call(|k| k.build(&spec))`.
    pub fn call<'a, T: Send + 'a>(
        &self,
        f: impl FnOnce(Pin<&mut Kernel>) -> std::result::Result<T, cxx::Exception> + Send + 'a,
    ) -> Result<T> {
        exec(move |slot| -> Result<T> {
            let k = slot
                .as_mut()
                .and_then(|k| k.as_mut())
                .ok_or_else(|| anyhow!("the NEST kernel is not loaded"))?;
            f(k).map_err(|e| anyhow!("{}", e.what()))
        })?
    }

    /// `call` with an [`Output`] the call appends to.
    pub fn take(
        &self,
        f: impl FnOnce(Pin<&mut Kernel>, &mut Output) -> std::result::Result<(), cxx::Exception> + Send,
        out: &mut Output,
    ) -> Result<()> {
        self.call(|k| f(k, out))
    }
}

impl Drop for NestKernel {
    fn drop(&mut self) {
        // leave no open Prepare/Cleanup context to the next owner
        let _ = self.call(|k| k.cleanup());
    }
}

/// Ends NEST in this process if it was loaded: `MPI_Finalize` for code 0,
/// else `MPI_Abort(code)`, which ends the other ranks too (without MPI
/// nothing happens). An MPI program must do this before it exits; NEST
/// cannot be used afterwards. Returns whether NEST was loaded.
pub fn shutdown(code: i32) -> Result<bool> {
    exec(move |slot| -> Result<bool> {
        match slot.as_mut().and_then(|k| k.as_mut()) {
            Some(k) => {
                k.shutdown(code).map_err(|e| anyhow!("{}", e.what()))?;
                Ok(true)
            }
            None => Ok(false),
        }
    })?
}

/// Path of the module the current process has loaded, if any.
pub fn loaded_module() -> Option<PathBuf> {
    exec(|slot| {
        slot.as_ref()
            .map(|k| PathBuf::from(k.module_path().to_string()))
    })
    .ok()
    .flatten()
}
