/*
 *  seqlearn_kernels.h
 *
 *  STDP with variance tracking (docs/model.md section 3) for all incoming
 *  slots of one spiking neuron: the neuron's learning time is mostly the two
 *  exp per slot, so this is the native engine's kernel (src/engine/
 *  native.rs: stdp, exp_poly) in C++:
 *  a degree-13 polynomial exp within 2 ulp of libm, four slots per AVX2 +
 *  FMA instruction when the CPU has them, and a scalar path doing the same
 *  operations in the same order, so that both paths give the same bits.
 *  The module is compiled with -ffp-contract=off: every fused multiply-add
 *  below is written out.
 */

#ifndef SEQLEARN_KERNELS_H
#define SEQLEARN_KERNELS_H

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined( __x86_64__ )
#include <immintrin.h>
#endif

// Internal to the module: direct calls instead of calls through the PLT.
#pragma GCC visibility push( hidden )

namespace seqlearn
{
namespace kernels
{

//! Inputs with |x| <= EXP_SAFE take the polynomial, the rest libm.
constexpr double EXP_SAFE = 700.0;
constexpr double LOG2E = 1.4426950408889634;
//! fdlibm's split of ln 2: n * LN2_HI is exact for |n| < 2^11.
constexpr double LN2_HI = 6.93147180369123816490e-01;
constexpr double LN2_LO = 1.90821492927058770002e-10;
//! 1.5 * 2^52: adding it rounds to an integer held in the low bits.
constexpr double SHIFT = 6755399441055744.0;
//! Taylor coefficients 1/k!, k = 0..13.
constexpr double C[ 14 ] = { 1.0,
  1.0,
  1.0 / 2.0,
  1.0 / 6.0,
  1.0 / 24.0,
  1.0 / 120.0,
  1.0 / 720.0,
  1.0 / 5040.0,
  1.0 / 40320.0,
  1.0 / 362880.0,
  1.0 / 3628800.0,
  1.0 / 39916800.0,
  1.0 / 479001600.0,
  1.0 / 6227020800.0 };

//! exp(x) for |x| <= 708: x = n ln2 + r, Taylor polynomial for e^r, times 2^n.
inline double
exp_poly( const double x )
{
  const double t = std::fma( x, LOG2E, SHIFT );
  const double n = t - SHIFT;
  double r = std::fma( -n, LN2_HI, x );
  r = std::fma( -n, LN2_LO, r );
  double p = C[ 13 ];
#pragma GCC unroll 13
  for ( int i = 12; i >= 0; --i )
  {
    p = std::fma( p, r, C[ i ] );
  }
  std::uint64_t bits;
  std::memcpy( &bits, &t, sizeof bits );
  bits = ( bits + 1023 ) << 52;
  double scale;
  std::memcpy( &scale, &bits, sizeof scale );
  return p * scale;
}

inline double
exp1( const double x )
{
  return std::fabs( x ) <= EXP_SAFE ? exp_poly( x ) : std::exp( x );
}

//! max as maxpd computes it (a > b ? a : b).
inline double
max_pd( const double a, const double b )
{
  return a > b ? a : b;
}

//! Learning-rate settings of one update.
struct Rates
{
  double eta;     //!< base learning rate
  double rate_n;  //!< eta / n (without variance tracking)
  bool vt;        //!< variance tracking
};

//! One slot: w, S, Q updated from Y = e - f.
inline void
update_one( double& w, double& s, double& q, const double y, const Rates& r )
{
  const double rate = r.vt ? r.eta * ( q - s * s ) / ( exp1( -s ) + 1.0 ) : r.rate_n;
  const double p = exp1( w );
  const double w1 = w + rate * ( y - p ) / max_pd( p, rate );
  w = w1;
  if ( r.vt )
  {
    s += rate * ( w1 - s );
    q += rate * ( w1 * w1 - q );
  }
}

inline void
update_scalar( double* w, double* s, double* q, const double* y, const std::size_t n, const Rates& r )
{
  for ( std::size_t i = 0; i < n; ++i )
  {
    update_one( w[ i ], s[ i ], q[ i ], y[ i ], r );
  }
}

#if defined( __x86_64__ )
__attribute__( ( target( "avx2,fma" ) ) ) inline __m256d
exp4( const __m256d x )
{
  const __m256d shift = _mm256_set1_pd( SHIFT );
  const __m256d t = _mm256_fmadd_pd( x, _mm256_set1_pd( LOG2E ), shift );
  const __m256d n = _mm256_sub_pd( t, shift );
  __m256d r = _mm256_fnmadd_pd( n, _mm256_set1_pd( LN2_HI ), x );
  r = _mm256_fnmadd_pd( n, _mm256_set1_pd( LN2_LO ), r );
  __m256d p = _mm256_set1_pd( C[ 13 ] );
#pragma GCC unroll 13
  for ( int i = 12; i >= 0; --i )
  {
    p = _mm256_fmadd_pd( p, r, _mm256_set1_pd( C[ i ] ) );
  }
  const __m256i bits = _mm256_slli_epi64( _mm256_add_epi64( _mm256_castpd_si256( t ), _mm256_set1_epi64x( 1023 ) ), 52 );
  return _mm256_mul_pd( p, _mm256_castsi256_pd( bits ) );
}

__attribute__( ( target( "avx2,fma" ) ) ) inline bool
safe4( const __m256d x )
{
  const __m256d abs = _mm256_andnot_pd( _mm256_set1_pd( -0.0 ), x );
  return _mm256_movemask_pd( _mm256_cmp_pd( abs, _mm256_set1_pd( EXP_SAFE ), _CMP_LE_OQ ) ) == 0xF;
}

//! Four slots at i of update_avx2 (the scalar path when a lane is outside
//! the polynomial's range).
__attribute__( ( target( "avx2,fma" ) ) ) inline void
update4( double* w, double* s, double* q, const double* y, const Rates& r )
{
  const __m256d wv = _mm256_loadu_pd( w );
  const __m256d sv = _mm256_loadu_pd( s );
  const __m256d qv = _mm256_loadu_pd( q );
  const __m256d ns = _mm256_xor_pd( sv, _mm256_set1_pd( -0.0 ) );
  if ( not( safe4( wv ) and ( not r.vt or safe4( ns ) ) ) )
  {
    update_scalar( w, s, q, y, 4, r );
    return;
  }
  const __m256d rate = r.vt
    ? _mm256_div_pd( _mm256_mul_pd( _mm256_set1_pd( r.eta ), _mm256_sub_pd( qv, _mm256_mul_pd( sv, sv ) ) ),
        _mm256_add_pd( exp4( ns ), _mm256_set1_pd( 1.0 ) ) )
    : _mm256_set1_pd( r.rate_n );
  const __m256d p = exp4( wv );
  const __m256d yv = _mm256_loadu_pd( y );
  const __m256d w1 =
    _mm256_add_pd( wv, _mm256_div_pd( _mm256_mul_pd( rate, _mm256_sub_pd( yv, p ) ), _mm256_max_pd( p, rate ) ) );
  _mm256_storeu_pd( w, w1 );
  if ( r.vt )
  {
    _mm256_storeu_pd( s, _mm256_add_pd( sv, _mm256_mul_pd( rate, _mm256_sub_pd( w1, sv ) ) ) );
    _mm256_storeu_pd( q, _mm256_add_pd( qv, _mm256_mul_pd( rate, _mm256_sub_pd( _mm256_mul_pd( w1, w1 ), qv ) ) ) );
  }
}

__attribute__( ( target( "avx2,fma" ) ) ) inline void
update_avx2( double* w, double* s, double* q, const double* y, const std::size_t n, const Rates& r )
{
  std::size_t i = 0;
  for ( ; i + 4 <= n; i += 4 )
  {
    update4( w + i, s + i, q + i, y + i, r );
  }
  const std::size_t rest = n - i;
  if ( rest > 0 )
  {
    // the last slots in a padded copy (lanes are independent; the padding
    // w = S = Y = 0, Q = 1 is in range and discarded)
    double w4[ 4 ] = { 0.0, 0.0, 0.0, 0.0 };
    double s4[ 4 ] = { 0.0, 0.0, 0.0, 0.0 };
    double q4[ 4 ] = { 1.0, 1.0, 1.0, 1.0 };
    double y4[ 4 ] = { 0.0, 0.0, 0.0, 0.0 };
    std::copy( w + i, w + n, w4 );
    std::copy( s + i, s + n, s4 );
    std::copy( q + i, q + n, q4 );
    std::copy( y + i, y + n, y4 );
    update4( w4, s4, q4, y4, r );
    std::copy( w4, w4 + rest, w + i );
    std::copy( s4, s4 + rest, s + i );
    std::copy( q4, q4 + rest, q + i );
  }
}

#endif

//! Whether update() takes the vectorised path on this CPU.
inline bool
has_avx2_fma()
{
#if defined( __x86_64__ )
  static const bool has = __builtin_cpu_supports( "avx2" ) and __builtin_cpu_supports( "fma" );
  return has;
#else
  return false;
#endif
}

//! The binary exponent of a normal, finite x > 0 (ilogb without the call).
inline int
exponent_of( const double x )
{
  std::uint64_t bits;
  std::memcpy( &bits, &x, sizeof bits );
  return static_cast< int >( ( bits >> 52 ) & 0x7ff ) - 1023;
}

/*
 * The STDP update of n slots of a spiking neuron: w, S, Q in place, from
 * y = e - f.  allow_simd = false forces the scalar path (for the test that
 * both paths agree: sl_kernel_selftest).
 */
inline void
update( double* w, double* s, double* q, const double* y, const std::size_t n, const Rates& r, const bool allow_simd = true )
{
#if defined( __x86_64__ )
  if ( allow_simd and has_avx2_fma() )
  {
    update_avx2( w, s, q, y, n, r );
    return;
  }
#endif
  update_scalar( w, s, q, y, n, r );
}

}  // namespace kernels
}  // namespace seqlearn

#pragma GCC visibility pop

#endif
