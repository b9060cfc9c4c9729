// native_bridge.h -- the kernels of seqlearn_kernels.h for the Rust crate
// (the cxx bridge src/engine/kernels.rs).
//
// Compiled into the crate (new libstdc++ ABI, -O3 -ffp-contract=off like the
// NEST module).  The array entry points take raw pointers and lengths: a
// rust::Slice costs two calls into the Rust runtime per data()/size(), and
// the native engine calls these a dozen times per 10 us step.  The safe
// wrappers in src/engine/kernels.rs check the lengths.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rust/cxx.h"
#include "seqlearn-nest/cpp/kernels/seqlearn_kernels.h"

namespace seqlearn
{
namespace native
{

// shared structs, defined by cxx in the generated header
struct Rates;
struct SpikeLawParams;
struct StpState;
struct StpParams;
struct WeightChanges;
struct CircuitShare;
struct TracePair;

using kernels::CodePath;
using kernels::SpikeLaw;
using kernels::StpVariant;

bool has_avx2_fma();

// hot path (raw pointers, see above)
void exp_into( const double* x, double* y, std::size_t n, bool negate, CodePath path );
void potentials( const double* b, const double* e_sum, const double* f_sum, double* u, std::size_t n );
void soft_wta_max_shift( const double* u,
  double* rho,
  double* scratch,
  const std::uint32_t* sizes,
  std::size_t n_circuits,
  CodePath path );
std::size_t spike_draws( const double* rho,
  const std::uint64_t* bits,
  std::size_t n,
  const SpikeLawParams& law,
  double* scratch,
  bool* spiked,
  std::uint32_t* spiking,
  CodePath path );
WeightChanges stdp_update_pairs( double* w,
  double* s,
  double* q,
  const double* ef,
  std::size_t n,
  const Rates& rates,
  CodePath path );
void stdp_update( double* w, double* s, double* q, const double* y, std::size_t n, const Rates& rates, CodePath path );
void bias_updates( double* b, double* s, double* q, const bool* spiked, std::size_t n, const Rates& rates );
void trace_steps( double* x, const double* a, std::size_t n, double k );
void trace_steps_pairs( double* ef, const double* a, std::size_t n, double kd, double kr );
void epsps_of_pairs( const double* ef, double* y, std::size_t n );
void reset_traces( double* x, std::size_t n );
void stp_amplitudes( const StpState* st,
  const StpVariant* variant,
  const std::uint32_t* channels,
  std::size_t n,
  double* amplitude );
void stp_on_spikes( StpState* st,
  const StpParams* params,
  const StpVariant* variant,
  const std::uint32_t* channels,
  std::size_t n,
  std::int64_t t,
  double dt_ms );
void stp_resets( StpState* st, std::size_t n, std::int64_t t0 );

// set-up and the scalar kernels (golden-vector tests)
Rates rates_of( double eta, bool variance_tracking, std::uint64_t n );
StpState stp_initial( double u );
StpVariant stp_variant_for( StpVariant v, bool is_input );
double exp_poly1( double x );
double trace_step( double x, double a, double k );
double trace_decay( double x, double k );
double trace_step_decay_first( double x, double a, double k );
TracePair decay_closed_form( double e, double f, std::int64_t steps, double kd, double kr );
double epsp( double e, double f );
double potential( double b, double e_sum, double f_sum );
CircuitShare circuit_rho( rust::Slice< const double > v, std::size_t self );
double next_circuit_shift( double c, double v_max );
double circuit_value( double u, double c );
double spike_argument( double r_hz, double dt_ms );
double spike_probability_poly( double x, SpikeLaw law );
double spike_probability_libm( double x, SpikeLaw law );
bool spike_decision( double draw, double p );
bool spike_decision_libm( double draw, double x, SpikeLaw law );
double uniform_of_bits( std::uint64_t bits );
void bias_update( double& b, double& s, double& q, bool spiked, const Rates& rates );
double stp_amplitude( const StpState& st, StpVariant v );
void stp_on_spike( StpState& st, StpVariant v, double d, double f, std::int64_t t, double dt_ms );
void stp_reset( StpState& st, std::int64_t t0 );

}  // namespace native
}  // namespace seqlearn
