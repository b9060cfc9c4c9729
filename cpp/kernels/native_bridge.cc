// native_bridge.cc -- see native_bridge.h.  Each function forwards to the
// kernel of the same name in seqlearn_kernels.h; nothing is computed here.
#include "seqlearn-nest/cpp/kernels/native_bridge.h"

#include "seqlearn-nest/src/engine/kernels.rs.h"

// The per-neuron and per-channel loops (no FMA in them: the same bits) are
// also compiled for AVX2, picked at load time where the CPU has it: four
// lanes instead of SSE2's two.
#if defined( __x86_64__ ) and defined( __GNUC__ )
#define SEQLEARN_AVX2_CLONES __attribute__( ( target_clones( "avx2", "default" ) ) )
#else
#define SEQLEARN_AVX2_CLONES
#endif

namespace seqlearn
{
namespace native
{
namespace
{

kernels::Rates
rates( const Rates& r )
{
  return kernels::Rates { r.eta, r.rate_n, r.variance_tracking };
}

}  // namespace

bool
has_avx2_fma()
{
  return kernels::has_avx2_fma();
}

void
exp_into( const double* x, double* y, std::size_t n, bool negate, CodePath path )
{
  kernels::exp_into( x, y, n, negate, path );
}

SEQLEARN_AVX2_CLONES void
potentials( const double* b, const double* e_sum, const double* f_sum, double* u, std::size_t n )
{
  kernels::potentials( b, e_sum, f_sum, u, n );
}

SEQLEARN_AVX2_CLONES void
soft_wta_max_shift( const double* u,
  double* rho,
  double* scratch,
  const std::uint32_t* sizes,
  std::size_t n_circuits,
  CodePath path )
{
  kernels::soft_wta_max_shift( u, rho, scratch, sizes, n_circuits, path );
}

SEQLEARN_AVX2_CLONES std::size_t
spike_draws( const double* rho,
  const std::uint64_t* bits,
  std::size_t n,
  const SpikeLawParams& law,
  double* scratch,
  bool* spiked,
  std::uint32_t* spiking,
  CodePath path )
{
  return kernels::spike_draws( rho, bits, n, law.r_max_hz, law.dt_ms, law.law, scratch, spiked, spiking, path );
}

WeightChanges
stdp_update_pairs( double* w, double* s, double* q, const double* ef, std::size_t n, const Rates& r, CodePath path )
{
  const kernels::WeightChangeSums d = kernels::stdp_update_pairs( w, s, q, ef, n, rates( r ), path );
  return WeightChanges { d.de, d.df };
}

void
stdp_update( double* w, double* s, double* q, const double* y, std::size_t n, const Rates& r, CodePath path )
{
  kernels::stdp_update( w, s, q, y, n, rates( r ), path );
}

void
bias_updates( double* b, double* s, double* q, const bool* spiked, std::size_t n, const Rates& r )
{
  kernels::bias_updates( b, s, q, spiked, n, rates( r ) );
}

SEQLEARN_AVX2_CLONES void
trace_steps( double* x, const double* a, std::size_t n, double k )
{
  kernels::trace_steps( x, a, n, k );
}

SEQLEARN_AVX2_CLONES void
trace_steps_pairs( double* ef, const double* a, std::size_t n, double kd, double kr )
{
  kernels::trace_steps_pairs( ef, a, n, kd, kr );
}

void
epsps_of_pairs( const double* ef, double* y, std::size_t n )
{
  kernels::epsps_of_pairs( ef, y, n );
}

void
reset_traces( double* x, std::size_t n )
{
  kernels::reset_traces( x, n );
}

void
stp_amplitudes( const StpState* st,
  const StpVariant* variant,
  const std::uint32_t* channels,
  std::size_t n,
  double* amplitude )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    const std::uint32_t c = channels[ i ];
    amplitude[ c ] = kernels::stp_amplitude( st[ c ], variant[ c ] );
  }
}

void
stp_on_spikes( StpState* st,
  const StpParams* params,
  const StpVariant* variant,
  const std::uint32_t* channels,
  std::size_t n,
  std::int64_t t,
  double dt_ms )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    const std::uint32_t c = channels[ i ];
    kernels::stp_on_spike( st[ c ], variant[ c ], params[ c ].d, params[ c ].f, t, dt_ms );
  }
}

void
stp_resets( StpState* st, std::size_t n, std::int64_t t0 )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    kernels::stp_reset( st[ i ], t0 );
  }
}

Rates
rates_of( double eta, bool variance_tracking, std::uint64_t n )
{
  const kernels::Rates r = kernels::rates_of( eta, variance_tracking, n );
  return Rates { r.eta, r.rate_n, r.variance_tracking };
}

StpState
stp_initial( double u )
{
  const kernels::StpState s = kernels::stp_initial( u );
  return StpState { s.s, s.r, s.u, s.last };
}

StpVariant
stp_variant_for( StpVariant v, bool is_input )
{
  return kernels::stp_variant_for( v, is_input );
}

double
exp_poly1( double x )
{
  return kernels::exp1( x );
}

double
trace_step( double x, double a, double k )
{
  return kernels::trace_step( x, a, k );
}

double
trace_decay( double x, double k )
{
  return kernels::trace_decay( x, k );
}

double
trace_step_decay_first( double x, double a, double k )
{
  return kernels::trace_step_decay_first( x, a, k );
}

TracePair
decay_closed_form( double e, double f, std::int64_t steps, double kd, double kr )
{
  const kernels::DecayTable table( kd, kr );
  table.decay( e, f, steps );
  return TracePair { e, f };
}

double
epsp( double e, double f )
{
  return kernels::epsp( e, f );
}

double
potential( double b, double e_sum, double f_sum )
{
  return kernels::potential( b, e_sum, f_sum );
}

CircuitShare
circuit_rho( rust::Slice< const double > v, std::size_t self )
{
  double v_max = 0.0;
  const double rho = kernels::circuit_rho( v.data(), v.size(), self, v_max );
  return CircuitShare { rho, v_max };
}

double
next_circuit_shift( double c, double v_max )
{
  return kernels::next_circuit_shift( c, v_max );
}

double
circuit_value( double u, double c )
{
  return kernels::circuit_value( u, c );
}

double
spike_argument( double r_hz, double dt_ms )
{
  return kernels::spike_argument( r_hz, dt_ms );
}

double
spike_probability_poly( double x, SpikeLaw law )
{
  return kernels::spike_probability_poly( x, law );
}

double
spike_probability_libm( double x, SpikeLaw law )
{
  return kernels::spike_probability_libm( x, law );
}

bool
spike_decision( double draw, double p )
{
  return kernels::spike_decision( draw, p );
}

bool
spike_decision_libm( double draw, double x, SpikeLaw law )
{
  return kernels::spike_decision_libm( draw, x, law );
}

double
uniform_of_bits( std::uint64_t bits )
{
  return kernels::uniform_of_bits( bits );
}

void
bias_update( double& b, double& s, double& q, bool spiked, const Rates& r )
{
  kernels::bias_update( b, s, q, spiked, rates( r ) );
}

double
stp_amplitude( const StpState& st, StpVariant v )
{
  return kernels::stp_amplitude( st, v );
}

void
stp_on_spike( StpState& st, StpVariant v, double d, double f, std::int64_t t, double dt_ms )
{
  kernels::stp_on_spike( st, v, d, f, t, dt_ms );
}

void
stp_reset( StpState& st, std::int64_t t0 )
{
  kernels::stp_reset( st, t0 );
}

}  // namespace native
}  // namespace seqlearn
