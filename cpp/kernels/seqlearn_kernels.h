/*
 *  seqlearn_kernels.h
 *
 *  The per-step equations of the model (docs/model.md sections 2-4, 6), once,
 *  for both engines: the NEST module (cpp/) includes this header, and the
 *  native engine (src/engine/native/) calls the same functions through the
 *  cxx bridge cpp/kernels/native_bridge.{h,cc}.  No NEST, no libstdc++ types
 *  in any signature, nothing mutable outside the arguments: the header
 *  compiles with either libstdc++ ABI.
 *
 *  src/model/equations.rs is the readable specification and test oracle of
 *  these functions (scalar, libm); tests/golden/kernels.txt holds inputs and
 *  the oracle's outputs of each of them, checked by the Rust tests, by the
 *  C++ program cpp/kernels/test_kernels.cpp and by the NESTML tests.
 *
 *  Where the two engines compute one equation with different arithmetic,
 *  both forms are here side by side, with the reason, and each engine keeps
 *  its bits:
 *  - the soft-WTA: the native engine shifts by the circuit's maximum and uses
 *    the polynomial exp (soft_wta_max_shift); the NEST neuron exchanges
 *    exp(u - c) with a shift c shared by the circuit and uses libm's exp
 *    (circuit_rho, next_circuit_shift, circuit_value): one exp per neuron
 *    and step, the values cross the network;
 *  - the spike probability: polynomial exp (native, vectorised over all
 *    neurons) or libm (NEST, one neuron per call); the decision is one
 *    function;
 *  - the traces: the native engine steps every channel with the Euler form
 *    (trace_step); the NEST neuron decays a slot in closed form only when it
 *    reads it (DecayTable::decay, then add_jump) and its weighted sums take
 *    the decay first (trace_step_decay_first).
 *
 *  Compile with -ffp-contract=off: every fused multiply-add below is written
 *  out, so that the scalar and the AVX2 + FMA paths round alike (both are
 *  tested to give the same bits).
 */

#ifndef SEQLEARN_KERNELS_H
#define SEQLEARN_KERNELS_H

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined( __x86_64__ )
#include <immintrin.h>
#endif

// Internal to the library that includes it: direct calls, no PLT.
#pragma GCC visibility push( hidden )

//! Inlined everywhere, also into the AVX2 + FMA functions (which then use
//! hardware FMA for the scalar lanes and tails).
#define SEQLEARN_ALWAYS_INLINE inline __attribute__( ( always_inline ) )
//! The data types keep the default visibility: the models have members of
//! these types.
#define SEQLEARN_VISIBLE __attribute__( ( visibility( "default" ) ) )

namespace seqlearn
{
namespace kernels
{

/* ------------------------------------------------------------------ enums */
// The source of truth for both Rust bridges (cxx extern enums: they
// static-assert these values).

//! Item 4: the spike law.
enum class SpikeLaw : std::uint8_t
{
  Exponential = 0,  //!< p = 1 - exp(-r dt) (the original)
  Linear = 1        //!< p = r dt (the 2022 NEST version)
};

//! Section 4: the short-term plasticity variant of a synapse population.
enum class StpVariant : std::uint8_t
{
  Original = 0,       //!< lagged amplitude, drifting U, dynamic inputs
  Off = 1,            //!< amplitude 1
  TsodyksMarkram = 2  //!< textbook: fixed U, R from the new s, static inputs
};

//! Which code path an array kernel takes (the tests compare both).
enum class CodePath : std::uint8_t
{
  Best = 0,   //!< AVX2 + FMA when the CPU has them, else scalar
  Scalar = 1  //!< the scalar path (the same bits)
};

/* -------------------------------------------------------------------- exp */
/*
 * exp(x) by the reduction x = (16 m + j) ln2/16 + r, |r| <= ln2/32:
 * exp(x) = 2^m T_j (1 + expm1(r)) with T_j = 2^(j/16) from a table of 16
 * and expm1(r) = r + r^2 q(r) of degree 7 (Taylor; truncation < 2e-18),
 * within 2 ulp of libm's exp (T_j's rounding and the last fma: about
 * 1 ulp).  STDP needs two exp per synapse of a spiking neuron and the
 * native soft-WTA and spike law one per neuron, and the STDP kernel waits on
 * the exp's dependency chain: the table and Estrin's scheme for q make it
 * four fma long where the former degree-13 Horner form (x = n ln2 + r,
 * |r| <= ln2/2) was fourteen.  The table lookup is one permute on eight
 * lanes, a gather on four.  The scalar, 4-lane and 8-lane forms do the same
 * operations in the same order (std::fma is exactly rounded with or without
 * hardware FMA), so all give the same bits.
 */

//! Inputs with |x| <= EXP_SAFE take the polynomial, the rest libm.
constexpr double EXP_SAFE = 700.0;
//! 16 / ln 2 (16 log2 e: a power of two times LOG2E, exact).
constexpr double LOG2E_16 = 16.0 * 1.4426950408889634;
//! fdlibm's split of ln 2 over 16: n * LN2_16_HI is exact for |n| < 2^21.
constexpr double LN2_16_HI = 6.93147180369123816490e-01 / 16.0;
constexpr double LN2_16_LO = 1.90821492927058770002e-10 / 16.0;
//! 1.5 * 2^52: adding it rounds to an integer held in the low bits.
constexpr double SHIFT = 6755399441055744.0;
//! 2^(j/16), j = 0..15, rounded to nearest.
alignas( 64 ) constexpr double EXP2_J16[ 16 ] = { 0x1.0000000000000p+0,
  0x1.0b5586cf9890fp+0,
  0x1.172b83c7d517bp+0,
  0x1.2387a6e756238p+0,
  0x1.306fe0a31b715p+0,
  0x1.3dea64c123422p+0,
  0x1.4bfdad5362a27p+0,
  0x1.5ab07dd485429p+0,
  0x1.6a09e667f3bcdp+0,
  0x1.7a11473eb0187p+0,
  0x1.8ace5422aa0dbp+0,
  0x1.9c49182a3f090p+0,
  0x1.ae89f995ad3adp+0,
  0x1.c199bdd85529cp+0,
  0x1.d5818dcfba487p+0,
  0x1.ea4afa2a490dap+0 };
//! Taylor coefficients 1/k! of expm1(r) / r, k = 1..7 (EXPM1_C[k - 1]).
constexpr double EXPM1_C[ 7 ] = { 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0 };

/*
 * The bits of t = x 16/ln2 + SHIFT hold n = 16 m + j in the low mantissa
 * bits (two's complement for n < 0): j = bits & 15, and 2^m is
 * ((bits >> 4) + 1023) << 52 (only the low 12 bits of m + 1023 survive the
 * shift, so the high bits of t do not matter).
 */
//! exp(x) for |x| <= 700 by the table and the polynomial.
SEQLEARN_ALWAYS_INLINE double
exp_poly( const double x )
{
  const double t = std::fma( x, LOG2E_16, SHIFT );
  const double n = t - SHIFT;
  double r = std::fma( -n, LN2_16_HI, x );
  r = std::fma( -n, LN2_16_LO, r );
  // expm1(r) = r + r^2 q(r), q by Estrin's scheme: the dependency chain
  // is four fma long instead of Horner's seven (the STDP kernel waits on it)
  const double r2 = r * r;
  const double r4 = r2 * r2;
  const double a = std::fma( EXPM1_C[ 2 ], r, EXPM1_C[ 1 ] );
  const double b = std::fma( EXPM1_C[ 4 ], r, EXPM1_C[ 3 ] );
  const double c = std::fma( EXPM1_C[ 6 ], r, EXPM1_C[ 5 ] );
  const double q = std::fma( c, r4, std::fma( b, r2, a ) );
  const double p = std::fma( q, r2, r );
  std::uint64_t bits;
  std::memcpy( &bits, &t, sizeof bits );
  const double tj = EXP2_J16[ bits & 15 ];
  // 2^m T_j (1 + p): m added to the exponent field (exact: the result is
  // normal for |x| <= 700)
  const double y = std::fma( tj, p, tj );
  std::uint64_t ybits;
  std::memcpy( &ybits, &y, sizeof ybits );
  ybits += ( bits >> 4 ) << 52;
  double e;
  std::memcpy( &e, &ybits, sizeof e );
  return e;
}

//! exp(x): the polynomial inside the safe range, libm outside (overflow,
//! underflow towards subnormals, NaN).
SEQLEARN_ALWAYS_INLINE double
exp1( const double x )
{
  return std::fabs( x ) <= EXP_SAFE ? exp_poly( x ) : std::exp( x );
}

//! max as maxpd computes it (a > b ? a : b); equals std::max for the
//! non-NaN values that occur.
SEQLEARN_ALWAYS_INLINE double
max_pd( const double a, const double b )
{
  return a > b ? a : b;
}

//! Whether the vectorised paths can run on this CPU.
inline bool
has_avx2_fma()
{
#if defined( __x86_64__ )
  return __builtin_cpu_supports( "avx2" ) and __builtin_cpu_supports( "fma" );
#else
  return false;
#endif
}

#if defined( __x86_64__ )
//! exp_poly on four lanes (the table by a gather).
__attribute__( ( target( "avx2,fma" ) ) ) SEQLEARN_ALWAYS_INLINE __m256d
exp4( const __m256d x )
{
  const __m256d shift = _mm256_set1_pd( SHIFT );
  const __m256d t = _mm256_fmadd_pd( x, _mm256_set1_pd( LOG2E_16 ), shift );
  const __m256d n = _mm256_sub_pd( t, shift );
  __m256d r = _mm256_fnmadd_pd( n, _mm256_set1_pd( LN2_16_HI ), x );
  r = _mm256_fnmadd_pd( n, _mm256_set1_pd( LN2_16_LO ), r );
  const __m256d r2 = _mm256_mul_pd( r, r );
  const __m256d r4 = _mm256_mul_pd( r2, r2 );
  const __m256d a = _mm256_fmadd_pd( _mm256_set1_pd( EXPM1_C[ 2 ] ), r, _mm256_set1_pd( EXPM1_C[ 1 ] ) );
  const __m256d b = _mm256_fmadd_pd( _mm256_set1_pd( EXPM1_C[ 4 ] ), r, _mm256_set1_pd( EXPM1_C[ 3 ] ) );
  const __m256d c = _mm256_fmadd_pd( _mm256_set1_pd( EXPM1_C[ 6 ] ), r, _mm256_set1_pd( EXPM1_C[ 5 ] ) );
  const __m256d q = _mm256_fmadd_pd( c, r4, _mm256_fmadd_pd( b, r2, a ) );
  const __m256d p = _mm256_fmadd_pd( q, r2, r );
  const __m256i tb = _mm256_castpd_si256( t );
  const __m256d tj = _mm256_i64gather_pd( EXP2_J16, _mm256_and_si256( tb, _mm256_set1_epi64x( 15 ) ), 8 );
  const __m256i y = _mm256_castpd_si256( _mm256_fmadd_pd( tj, p, tj ) );
  return _mm256_castsi256_pd( _mm256_add_epi64( y, _mm256_slli_epi64( _mm256_srli_epi64( tb, 4 ), 52 ) ) );
}

//! All four lanes inside the polynomial's range.
__attribute__( ( target( "avx2,fma" ) ) ) inline bool
safe4( const __m256d x )
{
  const __m256d abs = _mm256_andnot_pd( _mm256_set1_pd( -0.0 ), x );
  return _mm256_movemask_pd( _mm256_cmp_pd( abs, _mm256_set1_pd( EXP_SAFE ), _CMP_LE_OQ ) ) == 0xF;
}

__attribute__( ( target( "avx2,fma" ) ) ) inline void
exp_into_avx2( const double* x, double* y, const std::size_t n, const bool negate )
{
  const __m256d sign = _mm256_set1_pd( negate ? -0.0 : 0.0 );
  std::size_t i = 0;
  for ( ; i + 4 <= n; i += 4 )
  {
    const __m256d v = _mm256_xor_pd( _mm256_loadu_pd( x + i ), sign );
    if ( safe4( v ) )
    {
      _mm256_storeu_pd( y + i, exp4( v ) );
    }
    else
    {
      for ( std::size_t l = i; l < i + 4; ++l )
      {
        y[ l ] = exp1( negate ? -x[ l ] : x[ l ] );
      }
    }
  }
  for ( ; i < n; ++i )
  {
    y[ i ] = exp1( negate ? -x[ i ] : x[ i ] );
  }
}
#endif

//! y[i] = exp(x[i]) (exp(-x[i]) with negate), n values.
inline void
exp_into( const double* x, double* y, const std::size_t n, const bool negate, const CodePath path = CodePath::Best )
{
#if defined( __x86_64__ )
  if ( path == CodePath::Best and has_avx2_fma() )
  {
    exp_into_avx2( x, y, n, negate );
    return;
  }
#endif
  for ( std::size_t i = 0; i < n; ++i )
  {
    y[ i ] = exp1( negate ? -x[ i ] : x[ i ] );
  }
}

/* --------------------------------------------------- section 2: the step */

//! Item 1: the unweighted EPSP of a source.
SEQLEARN_ALWAYS_INLINE double
epsp( const double e, const double f )
{
  return e - f;
}

//! Item 1 for interleaved trace pairs ef = [e0 f0 e1 f1 ...]: y[i] = e_i - f_i.
inline void
epsps_of_pairs( const double* ef, double* y, const std::size_t n )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    y[ i ] = epsp( ef[ 2 * i ], ef[ 2 * i + 1 ] );
  }
}

//! Item 2: u = b + sum_j w_j e_j - sum_j w_j f_j, from the two weighted sums.
inline double
potential( const double b, const double e_sum, const double f_sum )
{
  return b + ( e_sum - f_sum );
}

inline void
potentials( const double* b, const double* e_sum, const double* f_sum, double* u, const std::size_t n )
{
  for ( std::size_t k = 0; k < n; ++k )
  {
    u[ k ] = potential( b[ k ], e_sum[ k ], f_sum[ k ] );
  }
}

//! Item 6: one explicit Euler step of a trace with jump a = y*A, k = dt/tau.
inline double
trace_step( const double x, const double a, const double k )
{
  return x + ( a - x * k );
}

//! Item 6 without input: x - x*k.
inline double
trace_decay( const double x, const double k )
{
  return x - x * k;
}

//! Item 6 with the decay first, (x - x*k) + a: how the NEST neuron keeps its
//! weighted sums (decayed at the step, the logged inputs added after).
//! trace_step up to rounding.
inline double
trace_step_decay_first( const double x, const double a, const double k )
{
  return trace_decay( x, k ) + a;
}

//! Item 6 for an array of traces.
inline void
trace_steps( double* x, const double* a, const std::size_t n, const double k )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    x[ i ] = trace_step( x[ i ], a[ i ], k );
  }
}

//! Item 6 for interleaved pairs ef = [e0 f0 e1 f1 ...]: e with kd, f with kr,
//! both with the jump a[i].
inline void
trace_steps_pairs( double* ef, const double* a, const std::size_t n, const double kd, const double kr )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    ef[ 2 * i ] = trace_step( ef[ 2 * i ], a[ i ], kd );
    ef[ 2 * i + 1 ] = trace_step( ef[ 2 * i + 1 ], a[ i ], kr );
  }
}

//! Item 6, the jump of an input on a slot brought to its step (lazy form).
inline void
add_jump( double& e, double& f, const double a )
{
  e += a;
  f += a;
}

/*
 * Item 6 in closed form: a trace without input decays from step tau to t as
 * x (1 - k)^(t - tau).  (1 - kd)^m and (1 - kr)^m for m < size by repeated
 * multiplication, interleaved; std::pow beyond.  The Euler form up to
 * rounding (about m ulp after m steps).  One table serves every neuron with
 * the same time constants (shared, read-only).
 */
class SEQLEARN_VISIBLE DecayTable
{
public:
  static constexpr std::size_t SIZE = 1024;

  DecayTable( const double kd, const double kr )
    : kd_( kd )
    , kr_( kr )
    , powers_( 2 * SIZE )
  {
    powers_[ 0 ] = 1.0;
    powers_[ 1 ] = 1.0;
    for ( std::size_t m = 1; m < SIZE; ++m )
    {
      powers_[ 2 * m ] = powers_[ 2 * m - 2 ] * ( 1.0 - kd );
      powers_[ 2 * m + 1 ] = powers_[ 2 * m - 1 ] * ( 1.0 - kr );
    }
  }

  double
  kd() const
  {
    return kd_;
  }
  double
  kr() const
  {
    return kr_;
  }

  //! e and f brought forward by m >= 0 steps without input.
  void
  decay( double& e, double& f, const long m ) const
  {
    if ( static_cast< std::size_t >( m ) < SIZE )
    {
      e *= powers_[ 2 * m ];
      f *= powers_[ 2 * m + 1 ];
    }
    else
    {
      e *= std::pow( 1.0 - kd_, static_cast< double >( m ) );
      f *= std::pow( 1.0 - kr_, static_cast< double >( m ) );
    }
  }

private:
  double kd_;
  double kr_;
  std::vector< double > powers_;
};

/* ------------------------------------------------------ item 3: soft-WTA */

/*
 * Native form: rho_k = exp(u_k - max) / sum_l exp(u_l - max) for every
 * circuit, the neurons of a circuit consecutive (sizes[c] of them).  The
 * exp of all neurons in one vectorised pass over scratch (u - max), the
 * division as a product with 1 / sum.
 */
inline void
soft_wta_max_shift( const double* u,
  double* rho,
  double* scratch,
  const std::uint32_t* sizes,
  const std::size_t n_circuits,
  const CodePath path = CodePath::Best )
{
  std::size_t first = 0;
  for ( std::size_t c = 0; c < n_circuits; ++c )
  {
    const std::size_t end = first + sizes[ c ];
    double m = -std::numeric_limits< double >::infinity();
    for ( std::size_t k = first; k < end; ++k )
    {
      m = u[ k ] > m ? u[ k ] : m;
    }
    for ( std::size_t k = first; k < end; ++k )
    {
      scratch[ k ] = u[ k ] - m;
    }
    first = end;
  }
  exp_into( scratch, rho, first, false, path );
  first = 0;
  for ( std::size_t c = 0; c < n_circuits; ++c )
  {
    const std::size_t end = first + sizes[ c ];
    double sum = 0.0;
    for ( std::size_t k = first; k < end; ++k )
    {
      sum += rho[ k ];
    }
    // one division per circuit instead of one per neuron (rho within one
    // more rounding of v / sum)
    const double inv = 1.0 / sum;
    for ( std::size_t k = first; k < end; ++k )
    {
      rho[ k ] *= inv;
    }
    first = end;
  }
}

/*
 * NEST form.  Every member of a circuit holds v_l = exp(u_l - c) of all K
 * members, with one shift c shared by the circuit; rho_k = v_k / sum_l v_l
 * (sum in circuit-index order).  v_max receives the largest v_l.
 */
inline double
circuit_rho( const double* v, const std::size_t K, const std::size_t self, double& v_max )
{
  double denom = 0.0;
  v_max = 0.0;
  for ( std::size_t l = 0; l < K; ++l )
  {
    denom += v[ l ];
    v_max = std::max( v_max, v[ l ] );
  }
  return v[ self ] / denom;
}

//! The binary exponent of a normal, finite x > 0 (ilogb without the call).
inline int
exponent_of( const double x )
{
  std::uint64_t bits;
  std::memcpy( &bits, &x, sizeof bits );
  return static_cast< int >( ( bits >> 52 ) & 0x7ff ) - 1023;
}

//! Whether v_max of circuit_rho is a usable normal number.
inline bool
circuit_in_range( const double v_max )
{
  return v_max >= std::numeric_limits< double >::min() and std::isfinite( v_max );
}

/*
 * The shift of the next step, c' = c + E ln 2 with E the binary exponent of
 * v_max: within ln 2 of the circuit's largest potential of this step, the
 * same in every member (same values, same order).  Keeps the values near 1
 * unless a potential moves by hundreds within one step.
 */
inline double
next_circuit_shift( const double c, const double v_max )
{
  return c + static_cast< double >( circuit_in_range( v_max ) ? exponent_of( v_max ) : 0 ) * M_LN2;
}

//! What a member sends for the next step: exp(u - c) (libm).
inline double
circuit_value( const double u, const double c )
{
  return std::exp( u - c );
}

/* ---------------------------------------------------------- item 4: spike */

//! r dt with r in Hz and dt in ms.
inline double
spike_argument( const double r_hz, const double dt_ms )
{
  return r_hz * dt_ms * 1e-3;
}

//! p of the law for x = r dt, with the polynomial exp (native engine).
inline double
spike_probability_poly( const double x, const SpikeLaw law )
{
  return law == SpikeLaw::Linear ? x : 1.0 - exp1( -x );
}

//! p of the law for x = r dt, with libm's exp (NEST neuron).
inline double
spike_probability_libm( const double x, const SpikeLaw law )
{
  return law == SpikeLaw::Linear ? x : 1.0 - std::exp( -x );
}

//! The decision: a uniform draw in [0, 1) below p.
inline bool
spike_decision( const double draw, const double p )
{
  return draw < p;
}

/*
 * spike_decision(draw, spike_probability_libm(x, law)), without the exp for
 * most draws: p = 1 - exp(-x) <= x also after rounding (margin: libm's 1 ulp
 * of exp near 1 and more), and most draws lie above x.
 */
inline bool
spike_decision_libm( const double draw, const double x, const SpikeLaw law )
{
  if ( law == SpikeLaw::Linear )
  {
    return spike_decision( draw, x );
  }
  return draw < x + x * 1e-9 + 1e-15 and spike_decision( draw, spike_probability_libm( x, law ) );
}

//! The uniform in [0, 1) that rand's `random::<f64>()` makes of 64 bits:
//! the 53 high bits times 2^-53.
inline double
uniform_of_bits( const std::uint64_t bits )
{
  return static_cast< double >( bits >> 11 ) * ( 1.0 / 9007199254740992.0 );
}

/*
 * The NEST neuron's spike draws: every neuron its own random stream,
 * xoshiro256++ (Blackman & Vigna 2018) started from its key (rng_seed and
 * node id) through the SplitMix64 finaliser, so that a neuron draws the same
 * numbers on whatever thread, VP or MPI rank it runs: the result of a run
 * does not depend on how many there are.  (The native engine draws from one
 * ChaCha8 stream in neuron order: engine-specific, as before.)
 */
struct SEQLEARN_VISIBLE DrawStream
{
  std::uint64_t s[ 4 ];
};

//! SplitMix64's output function of x (a bijection of the 64-bit integers).
inline std::uint64_t
splitmix64_mix( std::uint64_t x )
{
  x = ( x ^ ( x >> 30 ) ) * 0xbf58476d1ce4e5b9ull;
  x = ( x ^ ( x >> 27 ) ) * 0x94d049bb133111ebull;
  return x ^ ( x >> 31 );
}

//! The stream of the neuron with node id `node` under NEST's `rng_seed`:
//! the key (seed, node) is hashed before SplitMix64 fills the state, so
//! that neighbouring keys start far apart in SplitMix64's sequence.
inline DrawStream
draw_stream( const std::uint64_t seed, const std::uint64_t node )
{
  const std::uint64_t gamma = 0x9e3779b97f4a7c15ull;
  std::uint64_t x = splitmix64_mix( seed * gamma ) ^ node;
  x = splitmix64_mix( x );
  DrawStream d {};
  for ( std::uint64_t& w : d.s )
  {
    x += gamma;
    w = splitmix64_mix( x );
  }
  if ( ( d.s[ 0 ] | d.s[ 1 ] | d.s[ 2 ] | d.s[ 3 ] ) == 0 )
  {
    d.s[ 0 ] = 1;  // the one state xoshiro cannot leave
  }
  return d;
}

//! The next 64 bits of a stream (xoshiro256++).
inline std::uint64_t
next_bits( DrawStream& d )
{
  const auto rotl = []( const std::uint64_t v, const int k ) { return ( v << k ) | ( v >> ( 64 - k ) ); };
  std::uint64_t* s = d.s;
  const std::uint64_t result = rotl( s[ 0 ] + s[ 3 ], 23 ) + s[ 0 ];
  const std::uint64_t t = s[ 1 ] << 17;
  s[ 2 ] ^= s[ 0 ];
  s[ 3 ] ^= s[ 1 ];
  s[ 1 ] ^= s[ 2 ];
  s[ 0 ] ^= s[ 3 ];
  s[ 2 ] ^= t;
  s[ 3 ] = rotl( s[ 3 ], 45 );
  return result;
}

//! The next uniform in [0, 1) of a stream (uniform_of_bits of next_bits).
inline double
next_uniform( DrawStream& d )
{
  return uniform_of_bits( next_bits( d ) );
}

/*
 * Native form for all n neurons: x = r dt with r = r_max rho, p by the law
 * (polynomial exp, computed only where the draw can fall below it), one
 * uniform per neuron from bits[k]; spiked[k] set, the indices of the
 * spiking neurons appended to spiking in neuron order; returns their
 * number.  scratch is unused (kept for the callers' interface).
 *
 * The exp only for the draws below x (+ margin): p = 1 - exp(-x) <= x, also
 * after rounding (the polynomial is within 2 ulp of exp near 1, the margin
 * is more than twice that), and most draws lie above x.  The scalar exp1
 * gives the bits of the vectorised one, so the decisions are those of
 * spike_decision(draw, spike_probability_poly(x, law)) for every draw.
 */
//! The decisions of neurons a..b (scalar: the reference and the rare
//! lanes), the spiking ones appended to spiking[count..]; returns the count.
SEQLEARN_ALWAYS_INLINE std::size_t
spike_draws_scalar( const double* rho,
  const std::uint64_t* bits,
  const std::size_t a,
  const std::size_t b,
  const double r_max_hz,
  const double dt_ms,
  const SpikeLaw law,
  bool* spiked,
  std::uint32_t* spiking,
  std::size_t count )
{
  for ( std::size_t k = a; k < b; ++k )
  {
    const double x = spike_argument( r_max_hz * rho[ k ], dt_ms );
    const double draw = uniform_of_bits( bits[ k ] );
    const bool z = law == SpikeLaw::Linear
      ? spike_decision( draw, x )
      : draw < x + x * 1e-9 + 1e-15 and spike_decision( draw, spike_probability_poly( x, law ) );
    spiked[ k ] = z;
    if ( z )
    {
      spiking[ count++ ] = static_cast< std::uint32_t >( k );
    }
  }
  return count;
}

#if defined( __x86_64__ )
/*
 * Four neurons at a time: x, the draws and the test against x's bound in
 * vector lanes (the same operations: the 53-bit integer of a draw converts
 * exactly as hi * 2^32 + lo), a block without a candidate written at once,
 * the few others lane by lane.  What it buys: the scalar loop's branch and
 * conversion per neuron were ~6 % of a paper-scale step.
 */
__attribute__( ( target( "avx2,fma" ) ) ) inline std::size_t
spike_draws_avx2( const double* rho,
  const std::uint64_t* bits,
  const std::size_t n,
  const double r_max_hz,
  const double dt_ms,
  const SpikeLaw law,
  bool* spiked,
  std::uint32_t* spiking )
{
  const __m256i magic = _mm256_set1_epi64x( 0x4330000000000000LL );  // 2^52
  const __m256d two52 = _mm256_set1_pd( 4503599627370496.0 );
  const __m256i lo32 = _mm256_set1_epi64x( 0xffffffffLL );
  std::size_t count = 0;
  std::size_t k = 0;
  for ( ; k + 4 <= n; k += 4 )
  {
    const __m256d x = _mm256_mul_pd(
      _mm256_mul_pd( _mm256_mul_pd( _mm256_set1_pd( r_max_hz ), _mm256_loadu_pd( rho + k ) ), _mm256_set1_pd( dt_ms ) ),
      _mm256_set1_pd( 1e-3 ) );
    const __m256i v = _mm256_srli_epi64( _mm256_loadu_si256( reinterpret_cast< const __m256i* >( bits + k ) ), 11 );
    const __m256d hi =
      _mm256_sub_pd( _mm256_castsi256_pd( _mm256_or_si256( _mm256_srli_epi64( v, 32 ), magic ) ), two52 );
    const __m256d lo = _mm256_sub_pd( _mm256_castsi256_pd( _mm256_or_si256( _mm256_and_si256( v, lo32 ), magic ) ), two52 );
    const __m256d draw = _mm256_mul_pd( _mm256_add_pd( _mm256_mul_pd( hi, _mm256_set1_pd( 4294967296.0 ) ), lo ),
      _mm256_set1_pd( 1.0 / 9007199254740992.0 ) );
    const __m256d bound = law == SpikeLaw::Linear
      ? x
      : _mm256_add_pd( _mm256_add_pd( x, _mm256_mul_pd( x, _mm256_set1_pd( 1e-9 ) ) ), _mm256_set1_pd( 1e-15 ) );
    if ( _mm256_movemask_pd( _mm256_cmp_pd( draw, bound, _CMP_LT_OQ ) ) == 0 )
    {
      std::memset( spiked + k, 0, 4 );
      continue;
    }
    count = spike_draws_scalar( rho, bits, k, k + 4, r_max_hz, dt_ms, law, spiked, spiking, count );
  }
  return spike_draws_scalar( rho, bits, k, n, r_max_hz, dt_ms, law, spiked, spiking, count );
}
#endif

inline std::size_t
spike_draws( const double* rho,
  const std::uint64_t* bits,
  const std::size_t n,
  const double r_max_hz,
  const double dt_ms,
  const SpikeLaw law,
  double* scratch,
  bool* spiked,
  std::uint32_t* spiking,
  const CodePath path = CodePath::Best )
{
  ( void ) scratch;
#if defined( __x86_64__ )
  if ( path == CodePath::Best and has_avx2_fma() )
  {
    return spike_draws_avx2( rho, bits, n, r_max_hz, dt_ms, law, spiked, spiking );
  }
#endif
  return spike_draws_scalar( rho, bits, 0, n, r_max_hz, dt_ms, law, spiked, spiking, 0 );
}

/* ------------------------------------------ section 3: STDP, bias learning */

//! Learning-rate settings of one update.
struct SEQLEARN_VISIBLE Rates
{
  double eta;              //!< base learning rate
  double rate_n;           //!< eta / n, n training steps so far (without variance tracking)
  bool variance_tracking;  //!< adaptive learning rates
};

//! Rates of a training step: n = training steps so far including this one.
inline Rates
rates_of( const double eta, const bool variance_tracking, const std::uint64_t n )
{
  return Rates { eta, eta / static_cast< double >( n ), variance_tracking };
}

/*
 * One update of w (a weight, or the bias with y = Z) with S, Q:
 * eta_kj = eta (Q - S^2) / (exp(-S) + 1) with variance tracking, else eta/n;
 * P = exp(w); w += eta_kj (y - P) / max(P, eta_kj); then S, Q with the new
 * w.  Returns the change of w.  Exp is exp1 (STDP: the polynomial, as the
 * vectorised path) or std::exp (the bias: one value per neuron).
 */
template < double ( *Exp )( double ) >
SEQLEARN_ALWAYS_INLINE double
adaptive_update( double& w, double& s, double& q, const double y, const Rates& r )
{
  const double rate = r.variance_tracking ? r.eta * ( q - s * s ) / ( Exp( -s ) + 1.0 ) : r.rate_n;
  const double p = Exp( w );
  const double w0 = w;
  const double w1 = w0 + rate * ( y - p ) / max_pd( p, rate );
  w = w1;
  if ( r.variance_tracking )
  {
    s += rate * ( w1 - s );
    q += rate * ( w1 * w1 - q );
  }
  return w1 - w0;
}

inline double
libm_exp( const double x )
{
  return std::exp( x );
}

/*
 * STDP with variance tracking in one division instead of two: with
 * N = eta (Q - S^2), D = exp(-S) + 1 and M = max(P D, N) (D > 0, so
 * max(P, N/D) = M/D), eta_kj = N/D = N M / (D M) and
 * dw = eta_kj (y - P) / max(P, eta_kj) = N (y - P) D / (D M): both from
 * 1 / (D M).  The same quantities in other roundings (a few ulp of each
 * update; tolerance stdp in tests/golden/kernels.txt).  The form needs
 * P D^2 finite: w and S within STDP_SAFE (e^(3 * 230) < DBL_MAX); outside,
 * adaptive_update's two divisions (never in a learning network: w is a log
 * probability).
 */
constexpr double STDP_SAFE = 230.0;

//! STDP of one synapse (polynomial exp).
SEQLEARN_ALWAYS_INLINE double
stdp_one( double& w, double& s, double& q, const double y, const Rates& r )
{
  if ( not r.variance_tracking or not( std::fabs( w ) <= STDP_SAFE and std::fabs( s ) <= STDP_SAFE ) )
  {
    return adaptive_update< exp1 >( w, s, q, y, r );
  }
  const double big_n = r.eta * ( q - s * s );
  const double d = exp_poly( -s ) + 1.0;
  const double p = exp_poly( w );
  const double m = max_pd( p * d, big_n );
  const double inv = 1.0 / ( d * m );
  const double rate = big_n * m * inv;
  const double w0 = w;
  const double w1 = w0 + big_n * ( y - p ) * d * inv;
  w = w1;
  s += rate * ( w1 - s );
  q += rate * ( w1 * w1 - q );
  return w1 - w0;
}

//! Bias learning of one neuron, Z = 1 if it spiked (libm exp).
inline void
bias_update( double& b, double& s, double& q, const bool spiked, const Rates& r )
{
  adaptive_update< libm_exp >( b, s, q, spiked ? 1.0 : 0.0, r );
}

//! Bias learning of n neurons (every training step).
inline void
bias_updates( double* b, double* s, double* q, const bool* spiked, const std::size_t n, const Rates& r )
{
  for ( std::size_t k = 0; k < n; ++k )
  {
    bias_update( b[ k ], s[ k ], q[ k ], spiked[ k ], r );
  }
}

#if defined( __x86_64__ )
//! All four lanes inside the one-division form's range.
__attribute__( ( target( "avx2,fma" ) ) ) inline bool
stdp_safe4( const __m256d x )
{
  const __m256d abs = _mm256_andnot_pd( _mm256_set1_pd( -0.0 ), x );
  return _mm256_movemask_pd( _mm256_cmp_pd( abs, _mm256_set1_pd( STDP_SAFE ), _CMP_LE_OQ ) ) == 0xF;
}

/*
 * STDP of four synapses: w, s, q in place from y; returns w1 - w0 per lane.
 * A block with a lane outside the vectorised forms' range takes the scalar form
 * (the same bits lane by lane).
 */
__attribute__( ( target( "avx2,fma" ) ) ) SEQLEARN_ALWAYS_INLINE __m256d
stdp4( double* w, double* s, double* q, const __m256d y, const Rates& r )
{
  const __m256d wv = _mm256_loadu_pd( w );
  const __m256d sv = _mm256_loadu_pd( s );
  const __m256d qv = _mm256_loadu_pd( q );
  const __m256d ns = _mm256_xor_pd( sv, _mm256_set1_pd( -0.0 ) );
  if ( not r.variance_tracking and safe4( wv ) )
  {
    const __m256d rate = _mm256_set1_pd( r.rate_n );
    const __m256d p = exp4( wv );
    const __m256d w1 =
      _mm256_add_pd( wv, _mm256_div_pd( _mm256_mul_pd( rate, _mm256_sub_pd( y, p ) ), _mm256_max_pd( p, rate ) ) );
    _mm256_storeu_pd( w, w1 );
    return _mm256_sub_pd( w1, wv );
  }
  if ( not( r.variance_tracking and stdp_safe4( wv ) and stdp_safe4( sv ) ) )
  {
    alignas( 32 ) double y4[ 4 ];
    alignas( 32 ) double d4[ 4 ];
    _mm256_store_pd( y4, y );
    for ( int l = 0; l < 4; ++l )
    {
      d4[ l ] = stdp_one( w[ l ], s[ l ], q[ l ], y4[ l ], r );
    }
    return _mm256_load_pd( d4 );
  }
  const __m256d big_n = _mm256_mul_pd( _mm256_set1_pd( r.eta ), _mm256_sub_pd( qv, _mm256_mul_pd( sv, sv ) ) );
  const __m256d d = _mm256_add_pd( exp4( ns ), _mm256_set1_pd( 1.0 ) );
  const __m256d p = exp4( wv );
  const __m256d m = _mm256_max_pd( _mm256_mul_pd( p, d ), big_n );
  const __m256d inv = _mm256_div_pd( _mm256_set1_pd( 1.0 ), _mm256_mul_pd( d, m ) );
  const __m256d rate = _mm256_mul_pd( _mm256_mul_pd( big_n, m ), inv );
  const __m256d w1 = _mm256_add_pd(
    wv, _mm256_mul_pd( _mm256_mul_pd( _mm256_mul_pd( big_n, _mm256_sub_pd( y, p ) ), d ), inv ) );
  _mm256_storeu_pd( w, w1 );
  _mm256_storeu_pd( s, _mm256_add_pd( sv, _mm256_mul_pd( rate, _mm256_sub_pd( w1, sv ) ) ) );
  _mm256_storeu_pd( q, _mm256_add_pd( qv, _mm256_mul_pd( rate, _mm256_sub_pd( _mm256_mul_pd( w1, w1 ), qv ) ) ) );
  return _mm256_sub_pd( w1, wv );
}

//! stdp_gathered's vectorised path.
template < class Load, class Store >
__attribute__( ( target( "avx2,fma" ) ) ) inline void
stdp_gathered_avx2( double* s, double* q, const std::size_t n, const Rates& r, Load& load, Store& store )
{
  alignas( 32 ) double w4[ 4 ];
  alignas( 32 ) double y4[ 4 ];
  std::size_t i = 0;
  for ( ; i + 4 <= n; i += 4 )
  {
    load( i, 4, w4, y4 );
    stdp4( w4, s + i, q + i, _mm256_load_pd( y4 ), r );
    store( i, 4, w4 );
  }
  if ( i < n )
  {
    load( i, n - i, w4, y4 );
    for ( std::size_t l = 0; i + l < n; ++l )
    {
      stdp_one( w4[ l ], s[ i + l ], q[ i + l ], y4[ l ], r );
    }
    store( i, n - i, w4 );
  }
}
#endif

/*
 * STDP (section 3) of the n synapses of a spiking neuron in blocks of four,
 * for weights that need not be one array (the NEST neuron keeps each weight
 * with its slot's traces and brings its lazily decayed slots to the step
 * here): load(i, m, w, y) writes the weights and EPSPs Y of synapses
 * i..i+m into w[0..m), y[0..m) (m <= 4), store(i, m, w) takes the new
 * weights back; s, q in place.
 */
template < class Load, class Store >
inline void
stdp_gathered( double* s,
  double* q,
  const std::size_t n,
  const Rates& r,
  Load&& load,
  Store&& store,
  const CodePath path = CodePath::Best )
{
#if defined( __x86_64__ )
  if ( path == CodePath::Best and has_avx2_fma() )
  {
    stdp_gathered_avx2( s, q, n, r, load, store );
    return;
  }
#endif
  double w4[ 4 ];
  double y4[ 4 ];
  for ( std::size_t i = 0; i < n; i += 4 )
  {
    const std::size_t m = std::min< std::size_t >( 4, n - i );
    load( i, m, w4, y4 );
    for ( std::size_t l = 0; l < m; ++l )
    {
      stdp_one( w4[ l ], s[ i + l ], q[ i + l ], y4[ l ], r );
    }
    store( i, m, w4 );
  }
}

//! STDP of n synapses with their EPSPs in an array.
inline void
stdp_update( double* w, double* s, double* q, const double* y, const std::size_t n, const Rates& r, const CodePath path = CodePath::Best )
{
  stdp_gathered(
    s,
    q,
    n,
    r,
    [ w, y ]( std::size_t i, std::size_t m, double* w4, double* y4 )
    {
      std::copy( w + i, w + i + m, w4 );
      std::copy( y + i, y + i + m, y4 );
    },
    [ w ]( std::size_t i, std::size_t m, const double* w4 ) { std::copy( w4, w4 + m, w + i ); },
    path );
}

//! What stdp_update_pairs returns: sum_i dw_i e_i and sum_i dw_i f_i.
struct SEQLEARN_VISIBLE WeightChangeSums
{
  double de;
  double df;
};

/*
 * The native engine's STDP of one spiking neuron's learning synapses: Y from
 * the gathered interleaved traces ef = [e0 f0 e1 f1 ...], w, s, q in place;
 * returns sum dw e and sum dw f (the neuron's weighted trace sums move by
 * them).  The sums are taken in four partial sums over i mod 4 for the whole
 * blocks, then the tail, then (de0 + de1) + (de2 + de3) + tail, on both
 * paths.
 */
//! The tail i.. of stdp_update_pairs and the final sums (inlined into both
//! paths, so that the vectorised one keeps hardware FMA for the tail).
SEQLEARN_ALWAYS_INLINE WeightChangeSums
stdp_pairs_finish( double* w,
  double* s,
  double* q,
  const double* ef,
  std::size_t i,
  const std::size_t n,
  const Rates& r,
  const double* de4,
  const double* df4 )
{
  double te = 0.0;
  double tf = 0.0;
  for ( ; i < n; ++i )
  {
    const double e = ef[ 2 * i ];
    const double f = ef[ 2 * i + 1 ];
    const double d = stdp_one( w[ i ], s[ i ], q[ i ], epsp( e, f ), r );
    te += d * e;
    tf += d * f;
  }
  return WeightChangeSums { ( de4[ 0 ] + de4[ 1 ] ) + ( de4[ 2 ] + de4[ 3 ] ) + te,
    ( df4[ 0 ] + df4[ 1 ] ) + ( df4[ 2 ] + df4[ 3 ] ) + tf };
}

inline WeightChangeSums
stdp_update_pairs_scalar( double* w, double* s, double* q, const double* ef, const std::size_t n, const Rates& r )
{
  double de4[ 4 ] = { 0.0, 0.0, 0.0, 0.0 };
  double df4[ 4 ] = { 0.0, 0.0, 0.0, 0.0 };
  std::size_t i = 0;
  for ( ; i + 4 <= n; i += 4 )
  {
    for ( std::size_t l = 0; l < 4; ++l )
    {
      const double e = ef[ 2 * ( i + l ) ];
      const double f = ef[ 2 * ( i + l ) + 1 ];
      const double d = stdp_one( w[ i + l ], s[ i + l ], q[ i + l ], epsp( e, f ), r );
      de4[ l ] += d * e;
      df4[ l ] += d * f;
    }
  }
  return stdp_pairs_finish( w, s, q, ef, i, n, r, de4, df4 );
}

#if defined( __x86_64__ )
__attribute__( ( target( "avx2,fma" ) ) ) inline WeightChangeSums
stdp_update_pairs_avx2( double* w, double* s, double* q, const double* ef, const std::size_t n, const Rates& r )
{
  __m256d de = _mm256_setzero_pd();
  __m256d df = _mm256_setzero_pd();
  std::size_t i = 0;
  for ( ; i + 4 <= n; i += 4 )
  {
    // [e0 f0 e1 f1], [e2 f2 e3 f3] -> [e0 e1 e2 e3], [f0 f1 f2 f3]
    const __m256d a = _mm256_loadu_pd( ef + 2 * i );
    const __m256d b = _mm256_loadu_pd( ef + 2 * i + 4 );
    const __m256d e = _mm256_permute4x64_pd( _mm256_unpacklo_pd( a, b ), 0b11011000 );
    const __m256d f = _mm256_permute4x64_pd( _mm256_unpackhi_pd( a, b ), 0b11011000 );
    const __m256d d = stdp4( w + i, s + i, q + i, _mm256_sub_pd( e, f ), r );
    de = _mm256_add_pd( de, _mm256_mul_pd( d, e ) );
    df = _mm256_add_pd( df, _mm256_mul_pd( d, f ) );
  }
  double de4[ 4 ];
  double df4[ 4 ];
  _mm256_storeu_pd( de4, de );
  _mm256_storeu_pd( df4, df );
  return stdp_pairs_finish( w, s, q, ef, i, n, r, de4, df4 );
}
#endif

/*
 * Eight lanes (AVX-512, where the CPU has it): stdp4's operations on eight
 * synapses at once, lane by lane the same instructions (fused
 * multiply-adds, divisions, max as maxpd), so the same bits; a block with a
 * lane outside the polynomial's range takes stdp4 on both halves.
 */
inline bool
has_avx512()
{
#if defined( __x86_64__ )
  return has_avx2_fma() and __builtin_cpu_supports( "avx512f" ) and __builtin_cpu_supports( "avx512dq" );
#else
  return false;
#endif
}

#if defined( __x86_64__ )
#define SEQLEARN_AVX512 __attribute__( ( target( "avx512f,avx512dq,avx2,fma" ) ) )
// GCC 12's AVX-512 intrinsics initialise their unused pass-through operand
// from itself and warn about it inside every caller (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

//! exp_poly on eight lanes (the table by one two-register permute).
SEQLEARN_AVX512 SEQLEARN_ALWAYS_INLINE __m512d
exp8( const __m512d x )
{
  const __m512d shift = _mm512_set1_pd( SHIFT );
  const __m512d t = _mm512_fmadd_pd( x, _mm512_set1_pd( LOG2E_16 ), shift );
  const __m512d n = _mm512_sub_pd( t, shift );
  __m512d r = _mm512_fnmadd_pd( n, _mm512_set1_pd( LN2_16_HI ), x );
  r = _mm512_fnmadd_pd( n, _mm512_set1_pd( LN2_16_LO ), r );
  const __m512d r2 = _mm512_mul_pd( r, r );
  const __m512d r4 = _mm512_mul_pd( r2, r2 );
  const __m512d a = _mm512_fmadd_pd( _mm512_set1_pd( EXPM1_C[ 2 ] ), r, _mm512_set1_pd( EXPM1_C[ 1 ] ) );
  const __m512d b = _mm512_fmadd_pd( _mm512_set1_pd( EXPM1_C[ 4 ] ), r, _mm512_set1_pd( EXPM1_C[ 3 ] ) );
  const __m512d c = _mm512_fmadd_pd( _mm512_set1_pd( EXPM1_C[ 6 ] ), r, _mm512_set1_pd( EXPM1_C[ 5 ] ) );
  const __m512d q = _mm512_fmadd_pd( c, r4, _mm512_fmadd_pd( b, r2, a ) );
  const __m512d p = _mm512_fmadd_pd( q, r2, r );
  const __m512i tb = _mm512_castpd_si512( t );
  // The index's low four bits pick one of the 16 entries.
  const __m512d tj = _mm512_permutex2var_pd( _mm512_load_pd( EXP2_J16 ), tb, _mm512_load_pd( EXP2_J16 + 8 ) );
  const __m512i y = _mm512_castpd_si512( _mm512_fmadd_pd( tj, p, tj ) );
  return _mm512_castsi512_pd( _mm512_add_epi64( y, _mm512_slli_epi64( _mm512_srli_epi64( tb, 4 ), 52 ) ) );
}

//! All eight lanes inside the polynomial's range.
SEQLEARN_AVX512 inline bool
safe8( const __m512d x )
{
  return _mm512_cmp_pd_mask( _mm512_abs_pd( x ), _mm512_set1_pd( EXP_SAFE ), _CMP_LE_OQ ) == 0xFF;
}

//! The low and high four lanes (the masked forms: GCC 12's plain casts
//! trip -Wmaybe-uninitialized on their undefined upper half).
SEQLEARN_AVX512 inline __m256d
lo4( const __m512d x )
{
  return _mm512_maskz_extractf64x4_pd( 0xFF, x, 0 );
}

SEQLEARN_AVX512 inline __m256d
hi4( const __m512d x )
{
  return _mm512_maskz_extractf64x4_pd( 0xFF, x, 1 );
}

//! All eight lanes inside the one-division form's range.
SEQLEARN_AVX512 inline bool
stdp_safe8( const __m512d x )
{
  return _mm512_cmp_pd_mask( _mm512_abs_pd( x ), _mm512_set1_pd( STDP_SAFE ), _CMP_LE_OQ ) == 0xFF;
}

//! stdp4 on eight synapses; returns w1 - w0 per lane.
SEQLEARN_AVX512 SEQLEARN_ALWAYS_INLINE __m512d
stdp8( double* w, double* s, double* q, const __m512d y, const Rates& r )
{
  const __m512d wv = _mm512_loadu_pd( w );
  const __m512d sv = _mm512_loadu_pd( s );
  const __m512d qv = _mm512_loadu_pd( q );
  const __m512d ns = _mm512_xor_pd( sv, _mm512_set1_pd( -0.0 ) );
  if ( not r.variance_tracking and safe8( wv ) )
  {
    const __m512d rate = _mm512_set1_pd( r.rate_n );
    const __m512d p = exp8( wv );
    const __m512d w1 =
      _mm512_add_pd( wv, _mm512_div_pd( _mm512_mul_pd( rate, _mm512_sub_pd( y, p ) ), _mm512_max_pd( p, rate ) ) );
    _mm512_storeu_pd( w, w1 );
    return _mm512_sub_pd( w1, wv );
  }
  if ( not( r.variance_tracking and stdp_safe8( wv ) and stdp_safe8( sv ) ) )
  {
    alignas( 64 ) double d8[ 8 ];
    _mm256_store_pd( d8, stdp4( w, s, q, lo4( y ), r ) );
    _mm256_store_pd( d8 + 4, stdp4( w + 4, s + 4, q + 4, hi4( y ), r ) );
    return _mm512_load_pd( d8 );
  }
  const __m512d big_n = _mm512_mul_pd( _mm512_set1_pd( r.eta ), _mm512_sub_pd( qv, _mm512_mul_pd( sv, sv ) ) );
  const __m512d d = _mm512_add_pd( exp8( ns ), _mm512_set1_pd( 1.0 ) );
  const __m512d p = exp8( wv );
  const __m512d m = _mm512_max_pd( _mm512_mul_pd( p, d ), big_n );
  const __m512d inv = _mm512_div_pd( _mm512_set1_pd( 1.0 ), _mm512_mul_pd( d, m ) );
  const __m512d rate = _mm512_mul_pd( _mm512_mul_pd( big_n, m ), inv );
  const __m512d w1 = _mm512_add_pd(
    wv, _mm512_mul_pd( _mm512_mul_pd( _mm512_mul_pd( big_n, _mm512_sub_pd( y, p ) ), d ), inv ) );
  _mm512_storeu_pd( w, w1 );
  _mm512_storeu_pd( s, _mm512_add_pd( sv, _mm512_mul_pd( rate, _mm512_sub_pd( w1, sv ) ) ) );
  _mm512_storeu_pd( q, _mm512_add_pd( qv, _mm512_mul_pd( rate, _mm512_sub_pd( _mm512_mul_pd( w1, w1 ), qv ) ) ) );
  return _mm512_sub_pd( w1, wv );
}

/*
 * stdp_update_pairs_avx2 eight synapses at a time: the partial sums stay
 * the four of i mod 4, each taking the low half's block, then the high
 * half's (the order of the 4-lane loop); a last block of four as there.
 */
SEQLEARN_AVX512 inline WeightChangeSums
stdp_update_pairs_avx512( double* w, double* s, double* q, const double* ef, const std::size_t n, const Rates& r )
{
  const __m512i even = _mm512_setr_epi64( 0, 2, 4, 6, 8, 10, 12, 14 );
  const __m512i odd = _mm512_setr_epi64( 1, 3, 5, 7, 9, 11, 13, 15 );
  __m256d de = _mm256_setzero_pd();
  __m256d df = _mm256_setzero_pd();
  std::size_t i = 0;
  for ( ; i + 8 <= n; i += 8 )
  {
    const __m512d a = _mm512_loadu_pd( ef + 2 * i );
    const __m512d b = _mm512_loadu_pd( ef + 2 * i + 8 );
    const __m512d e = _mm512_permutex2var_pd( a, even, b );
    const __m512d f = _mm512_permutex2var_pd( a, odd, b );
    const __m512d d = stdp8( w + i, s + i, q + i, _mm512_sub_pd( e, f ), r );
    de = _mm256_add_pd( de, _mm256_mul_pd( lo4( d ), lo4( e ) ) );
    df = _mm256_add_pd( df, _mm256_mul_pd( lo4( d ), lo4( f ) ) );
    de = _mm256_add_pd( de, _mm256_mul_pd( hi4( d ), hi4( e ) ) );
    df = _mm256_add_pd( df, _mm256_mul_pd( hi4( d ), hi4( f ) ) );
  }
  if ( i + 4 <= n )
  {
    const __m256d a = _mm256_loadu_pd( ef + 2 * i );
    const __m256d b = _mm256_loadu_pd( ef + 2 * i + 4 );
    const __m256d e = _mm256_permute4x64_pd( _mm256_unpacklo_pd( a, b ), 0b11011000 );
    const __m256d f = _mm256_permute4x64_pd( _mm256_unpackhi_pd( a, b ), 0b11011000 );
    const __m256d d = stdp4( w + i, s + i, q + i, _mm256_sub_pd( e, f ), r );
    de = _mm256_add_pd( de, _mm256_mul_pd( d, e ) );
    df = _mm256_add_pd( df, _mm256_mul_pd( d, f ) );
    i += 4;
  }
  double de4[ 4 ];
  double df4[ 4 ];
  _mm256_storeu_pd( de4, de );
  _mm256_storeu_pd( df4, df );
  return stdp_pairs_finish( w, s, q, ef, i, n, r, de4, df4 );
}
#pragma GCC diagnostic pop
#undef SEQLEARN_AVX512
#endif

inline WeightChangeSums
stdp_update_pairs( double* w,
  double* s,
  double* q,
  const double* ef,
  const std::size_t n,
  const Rates& r,
  const CodePath path = CodePath::Best )
{
#if defined( __x86_64__ )
  if ( path == CodePath::Best and has_avx512() )
  {
    return stdp_update_pairs_avx512( w, s, q, ef, n, r );
  }
  if ( path == CodePath::Best and has_avx2_fma() )
  {
    return stdp_update_pairs_avx2( w, s, q, ef, n, r );
  }
#endif
  return stdp_update_pairs_scalar( w, s, q, ef, n, r );
}

/* ------------------------------------- section 4: short-term plasticity */
// The state type is a template parameter with the members s, r, u (double)
// and last (integer): the NEST synapse keeps a StpState, the native engine
// the bridge's struct of the same shape.

//! STP state of one source (or synapse).
struct SEQLEARN_VISIBLE StpState
{
  double s;   //!< utilisation
  double r;   //!< resources R
  double u;   //!< U; drifts with s in the original variant
  long last;  //!< step of the last spike (or reset step - 1)
};

//! The initial state for utilisation U: s = U, R = 1, no spike yet.
inline StpState
stp_initial( const double U )
{
  return StpState { U, 1.0, U, -1 };
}

//! The variant that applies to a source: in the textbook variant inputs are
//! static; in the others they go through the same update (the original's
//! accidental input STP, with U = 1, D = F = dt).
inline StpVariant
stp_variant_for( const StpVariant v, const bool is_input )
{
  return v == StpVariant::TsodyksMarkram and is_input ? StpVariant::Off : v;
}

//! The amplitude A = R s a spike carries now (before its update: the lag).
template < class State >
inline double
stp_amplitude( const State& st, const StpVariant v )
{
  return v == StpVariant::Off ? 1.0 : st.r * st.s;
}

//! exp(-isi / (D + eps)) and exp(-isi / (F + eps)), eps = DBL_EPSILON.
struct SEQLEARN_VISIBLE StpFactors
{
  double d;
  double f;
};

//! isi in ms, D and F in ms.
inline StpFactors
stp_factors( const double isi, const double D, const double F )
{
  const double eps = DBL_EPSILON;
  return StpFactors { std::exp( -isi / ( D + eps ) ), std::exp( -isi / ( F + eps ) ) };
}

//! isi (ms) of a spike at step t: the time since the previous spike minus
//! one step.
template < class State >
inline double
stp_isi( const State& st, const long t, const double dt_ms )
{
  return static_cast< double >( t - st.last - 1 ) * dt_ms;
}

/*
 * The update at a spike, both right-hand sides with the old s, R:
 * original:        R' = 1 + (R - R s - 1) e_D,  s' = s + s (1 - s) e_F,  U' = s'
 *                  (U and s are one array in the original: U drifts);
 * tsodyks_markram: s' = U + s (1 - U) e_F,  R' = 1 + (R - R s' - 1) e_D;
 * off:             nothing.
 */
template < class State >
inline void
stp_apply( State& st, const StpVariant v, const StpFactors& x )
{
  const double s = st.s;
  const double r = st.r;
  if ( v == StpVariant::Original )
  {
    st.r = 1.0 + ( r - r * s - 1.0 ) * x.d;
    st.s = s + s * ( 1.0 - s ) * x.f;
    st.u = st.s;
  }
  else if ( v == StpVariant::TsodyksMarkram )
  {
    const double s1 = st.u + s * ( 1.0 - st.u ) * x.f;
    st.r = 1.0 + ( r - r * s1 - 1.0 ) * x.d;
    st.s = s1;
  }
}

//! Item 8 for a source spiking at step t with time constants D, F (ms).
template < class State >
inline void
stp_on_spike( State& st, const StpVariant v, const double D, const double F, const long t, const double dt_ms )
{
  if ( v != StpVariant::Off )
  {
    stp_apply( st, v, stp_factors( stp_isi( st, t, dt_ms ), D, F ) );
  }
  st.last = t;
}

//! Section 6: the reset at the start of a test phase in step t0: R = 1,
//! s = U (the drifted U in the original), isi counted from t0.
template < class State >
inline void
stp_reset( State& st, const long t0 )
{
  st.r = 1.0;
  st.s = st.u;
  st.last = t0 - 1;
}

//! Section 6: the traces' reset.
inline void
reset_traces( double* x, const std::size_t n )
{
  std::fill( x, x + n, 0.0 );
}

}  // namespace kernels
}  // namespace seqlearn

#undef SEQLEARN_ALWAYS_INLINE
#undef SEQLEARN_VISIBLE

#pragma GCC visibility pop

#endif
