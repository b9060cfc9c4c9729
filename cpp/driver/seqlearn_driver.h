/*
 *  seqlearn_driver.h
 *
 *  The one interface between a program and seqlearnmodule.so's NEST driver:
 *  the module exports the factory seqlearn_driver_create, which returns an
 *  object implementing Driver (cpp/driver/nest_driver.cpp).  The Rust
 *  crate's cxx bridge (cpp/bridge.{h,cc}) is its only caller.
 *
 *  ABI-neutral: the module is built with the libstdc++ ABI of its NEST
 *  kernel (the old one for the PyPI wheel, the new one for a source build)
 *  and dlopened by a program built with the new one, so only
 *  plain data, pointers with lengths, enums and abstract sinks for
 *  variable-length output cross it -- no std::string, no STL containers, no
 *  exceptions (every method catches them and returns a Status; error()
 *  holds the message).
 *
 *  Under MPI every rank makes the same calls with the same arguments (they
 *  are collective); the read-out calls (take_*, final_state) return the
 *  values of all neurons on every rank, gathered from the ranks that own
 *  them.  Generic status access reaches local neurons only.
 *
 *  Indices, not NEST node ids: neurons are 0..n_neurons-1 in network
 *  order; sources are 0..n_inputs-1 (input channels) then n_inputs + k
 *  (neuron k); slots count a neuron's incoming synapses from 0.  Times are
 *  native steps (docs/nest.md, "Time conventions"); the driver converts to
 *  and from NEST's stamps.
 */

#ifndef SEQLEARN_DRIVER_H
#define SEQLEARN_DRIVER_H

#include <cstddef>
#include <cstdint>

// relative: the module (-I cpp) and the crate's bridge include this header
#include "../kernels/seqlearn_kernels.h"

namespace seqlearn
{
namespace driver
{

//! Checked by the factory: a module of another version refuses to load.
constexpr int ABI_VERSION = 6;

using kernels::SpikeLaw;
using kernels::StpVariant;

//! What a call did.
enum class Status : std::int32_t
{
  Ok = 0,
  Nest = 1,      //!< NEST raised an exception
  Argument = 2,  //!< invalid argument (sizes, indices, values)
  State = 3,     //!< call out of order (no network, no context, ...)
  Unknown = 4    //!< unexpected C++ exception
};

//! Model parameters of all neurons (docs: seqlearn_wta_neuron).
struct NeuronParams
{
  double r_max;  //!< Hz
  double tau_decay;  //!< ms
  double tau_rise;   //!< ms
  double eta;
  bool variance_tracking;
  bool bias_learning;
  SpikeLaw spike_law;
};

//! One neuron: its circuit position, its number of slots, its initial bias,
//! whether its circuit learns (network.train_fraction).
//! The neurons of a circuit are consecutive, circuit_index 0..K-1.
struct NeuronView
{
  std::uint32_t circuit_size;
  std::uint32_t circuit_index;
  std::uint32_t n_incoming;
  double bias;
  bool trained;
};

//! STP synapses of one variant, n of them (parallel arrays).
struct SynapsesView
{
  const std::uint32_t* source;  //!< source index
  const std::uint32_t* target;  //!< neuron index
  const std::uint32_t* slot;    //!< slot at the target
  const double* u;
  const double* d;  //!< ms
  const double* f;  //!< ms
  std::size_t n;
  StpVariant variant;
};

//! One recorded synapse: the slot of a neuron.
struct RecordedSlot
{
  std::uint32_t target;
  std::uint32_t slot;
};

//! The whole network, its input, protocol events and what to record.
struct NetworkView
{
  NeuronParams params;
  const NeuronView* neurons;
  std::size_t n_neurons;
  //! initial weights, neuron by neuron in slot order (sum of n_incoming)
  const double* weights;
  std::size_t n_weights;
  //! input channels: channel c spikes at input_steps[input_offsets[c] ..
  //! input_offsets[c+1]); n_inputs + 1 offsets
  std::size_t n_inputs;
  const std::size_t* input_offsets;
  const std::uint64_t* input_steps;
  //! connected in this order (it fixes NEST's delivery order)
  SynapsesView input_synapses;
  SynapsesView recurrent_synapses;
  //! steps whose traces and STP state are reset
  const std::uint64_t* reset_steps;
  std::size_t n_resets;
  //! forced spikes: neuron k spikes at forced_steps[forced_offsets[k] ..
  //! forced_offsets[k+1]) and never draws (n_neurons + 1 offsets)
  bool forced;
  const std::size_t* forced_offsets;
  const std::uint64_t* forced_steps;
  //! neurons whose u, rho set_trace_recording switches
  const std::uint32_t* recorded_neurons;
  std::size_t n_recorded_neurons;
  //! synapses whose weight and Y are recorded every synapse_interval steps
  const RecordedSlot* recorded_synapses;
  std::size_t n_recorded_synapses;
  std::uint64_t synapse_interval;
};

//! Receives spikes: neuron index and native step, n of them.
class SpikeSink
{
public:
  virtual void spikes( const std::uint32_t* neuron, const std::uint64_t* step, std::size_t n ) = 0;

protected:
  ~SpikeSink() = default;
};

//! Receives a block of trace samples of the recorded neurons: n_samples
//! steps, u and rho sample-major (u[i * n_recorded + k]).
class TraceSink
{
public:
  virtual void traces( const std::uint64_t* steps,
    std::size_t n_samples,
    const double* u,
    const double* rho,
    std::size_t n_values ) = 0;

protected:
  ~TraceSink() = default;
};

//! Receives n synapse samples: step, the index into recorded_synapses, the
//! weight at the start of the step and Y.
class SynapseTraceSink
{
public:
  virtual void samples( const std::uint64_t* step,
    const std::uint32_t* synapse,
    const double* weight,
    const double* epsp,
    std::size_t n ) = 0;

protected:
  ~SynapseTraceSink() = default;
};

//! How the kernel runs: MPI ranks, this process's rank, threads per rank
//! and virtual processes (ranks x threads), after reset.
struct Parallel
{
  std::uint32_t ranks;
  std::uint32_t rank;
  std::uint32_t threads;
  std::uint32_t vps;
  bool have_mpi;  //!< the NEST kernel was built with MPI
};

//! What a generic status entry is about.
enum class Target : std::uint8_t
{
  NeuronDefaults = 0,   //!< GetDefaults of seqlearn_wta_neuron
  SynapseDefaults = 1,  //!< GetDefaults of seqlearn_stp_synapse
  Neuron = 2,           //!< neuron `neuron`
  Synapse = 3           //!< the synapse source -> neuron `neuron`
};

struct StatusTarget
{
  Target target;
  std::uint32_t neuron;
  std::uint32_t source;
};

//! A status value: a number (bools and integers as 0/1 and their value), a
//! list of numbers, or a text.
enum class ValueKind : std::uint8_t
{
  Number = 0,
  Numbers = 1,
  Text = 2,
  Flag = 3
};

struct ValueView
{
  ValueKind kind;
  double number;
  const double* numbers;
  std::size_t n_numbers;
  const char* text;
  std::size_t text_len;
  bool flag;
};

//! Receives one status value (the view is valid during the call).
class ValueSink
{
public:
  virtual void value( const ValueView& v ) = 0;

protected:
  ~ValueSink() = default;
};

/*
 * The NEST side of a simulation.  One object per process (NEST's kernel is
 * a singleton); all calls from one thread.
 */
class Driver
{
public:
  //! Deletes the object (in the module, which allocated it).
  virtual void destroy() = 0;
  //! The message of the last failed call.
  virtual const char* error() const = 0;

  //! init_nest on the first call, ResetKernel after; resolution 1 ms,
  //! threads, rng_seed (1 .. 2^31-1); installs the module.
  virtual Status reset( std::uint32_t threads, std::uint32_t seed ) = 0;
  //! Creates the network (after reset; once).
  virtual Status build( const NetworkView& net ) = 0;
  //! STDP (and bias learning) of every neuron on or off.
  virtual Status set_learning( bool on ) = 0;
  //! The trace recording of the recorded neurons on or off, every
  //! interval steps (>= 1) at steps t with t % interval == 0.
  virtual Status set_trace_recording( bool on, std::uint64_t interval ) = 0;

  //! One Prepare / Run... / Cleanup context; run simulates steps more steps.
  virtual Status prepare() = 0;
  virtual Status run( std::uint64_t steps ) = 0;
  virtual Status cleanup() = 0;
  //! Steps simulated so far.
  virtual Status kernel_steps( std::uint64_t* steps ) = 0;

  //! The spikes since the last call.  Outside a context the recorder is
  //! emptied; inside one NEST refuses that, and only the new events are
  //! handed out (memory grows until the next call after cleanup).
  virtual Status take_spikes( SpikeSink& sink ) = 0;
  //! The trace samples of the recorded neurons since the last call, which
  //! must have sampled the same steps (else an error naming the neuron);
  //! complete up to the end of the last run, allowed inside a context.
  virtual Status take_traces( TraceSink& sink ) = 0;
  //! The synapse samples since the last call, target by target.
  virtual Status take_synapse_traces( SynapseTraceSink& sink ) = 0;
  //! The learned state: w, S, Q per synapse (network order: neuron by
  //! neuron, slot order; n_synapses = n_weights) and the biases.
  virtual Status final_state( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons ) = 0;

  //! Ranks, rank, threads and VPs of the kernel (after reset).
  virtual Status parallel( Parallel* out ) = 0;
  //! nest::shutdown_nest(code): MPI_Finalize for 0, MPI_Abort(code) else
  //! (a no-op without MPI).  Every later call fails; once per process.
  virtual Status shutdown( int code ) = 0;

  //! Generic status access (tests, PyNEST-level checks).
  virtual Status get_status( const StatusTarget& target, const char* key, ValueSink& sink ) = 0;
  virtual Status set_status( const StatusTarget& target, const char* key, const ValueView& value ) = 0;

protected:
  ~Driver() = default;
};

}  // namespace driver
}  // namespace seqlearn

extern "C"
{
  /* The factory: a Driver for the module at module_path (installed into
   * NEST by reset), or NULL if abi_version differs from ABI_VERSION (then
   * *error, if given, points to a static message). */
  seqlearn::driver::Driver* seqlearn_driver_create( int abi_version, const char* module_path, const char** error );
}

#endif
