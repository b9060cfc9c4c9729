// bridge.h -- C++ side of the cxx bridge (src/engine/nest/driver.rs).
//
// Compiled by cxx-build with the default (new) libstdc++ ABI and linked into
// the Rust binary.  It links neither NEST nor libpython: load() dlopens
// libpython (RTLD_GLOBAL) and initialises it, dlopens the NEST kernel
// (nestkernel_api.so, RTLD_GLOBAL) and the seqlearn module, and resolves the
// module's C driver API (cpp/sl_capi.h).  Only C types cross that line.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rust/cxx.h"

namespace seqlearn_bridge
{

void load( rust::Str libpython, rust::Str kernel, rust::Str module );
bool is_loaded();
rust::String loaded_module_path();

void api_init( std::int32_t threads, std::int64_t seed );
void install_module( rust::Str path );
void set_neuron_defaults( double r_max,
  double tau_decay,
  double tau_rise,
  double eta,
  bool variance_tracking,
  bool bias_learning,
  rust::Str spike_law );
std::int64_t create_neurons( rust::Slice< const std::int64_t > circuit_size,
  rust::Slice< const std::int64_t > circuit_index,
  rust::Slice< const std::int64_t > n_incoming,
  rust::Slice< const double > weights );
void connect_circuit( rust::Slice< const std::int64_t > ids );
std::int64_t create_inputs( rust::Slice< const std::size_t > offsets, rust::Slice< const double > times );
void connect( rust::Slice< const std::int64_t > sources,
  rust::Slice< const std::int64_t > targets,
  rust::Slice< const std::int64_t > slots,
  rust::Slice< const double > u,
  rust::Slice< const double > d,
  rust::Slice< const double > f,
  rust::Str variant );
void set_reset_times( rust::Slice< const double > times );
void set_learning( bool on );
void set_forced_spikes( std::int64_t node, rust::Slice< const double > times );
void set_recorded_slots( std::int64_t node, rust::Slice< const std::int64_t > slots, double interval );
std::int64_t record_spikes();
std::int64_t record_multimeter( rust::Slice< const std::int64_t > ids, double interval );
void prepare();
void run( double ms );
void cleanup();
double kernel_time();
std::size_t fetch_spikes();
void copy_spikes( rust::Slice< std::int64_t > senders, rust::Slice< double > times );
std::size_t fetch_multimeter();
void copy_multimeter( rust::Slice< std::int64_t > senders,
  rust::Slice< double > times,
  rust::Slice< double > u,
  rust::Slice< double > rho );
std::size_t fetch_slot_recording( std::int64_t node );
void copy_slot_recording( rust::Slice< double > times,
  rust::Slice< std::int64_t > slots,
  rust::Slice< double > weights,
  rust::Slice< double > epsps );
void set_trace_recording( rust::Slice< const std::int64_t > ids, bool on, double interval );
std::size_t fetch_trace_block( rust::Slice< const std::int64_t > ids );
void copy_trace_block( rust::Slice< double > times, rust::Slice< double > u, rust::Slice< double > rho );
std::size_t get_vector_len( std::int64_t node, rust::Str key );
void get_vector( std::int64_t node, rust::Str key, rust::Slice< double > out );
double get_scalar( std::int64_t node, rust::Str key );
void kernel_selftest( std::size_t n, rust::Slice< double > out );
void set_vector( std::int64_t node, rust::Str key, rust::Slice< const double > values );
void set_double( std::int64_t node, rust::Str key, double value );
void set_long( std::int64_t node, rust::Str key, std::int64_t value );
void set_bool( std::int64_t node, rust::Str key, bool value );
void set_string( std::int64_t node, rust::Str key, rust::Str value );
void get_stp_state( rust::Slice< const std::int64_t > sources,
  rust::Slice< const std::int64_t > targets,
  rust::Slice< double > s,
  rust::Slice< double > r,
  rust::Slice< double > u );

}  // namespace seqlearn_bridge
