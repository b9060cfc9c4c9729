/*
 *  seqlearn_wta_neuron.cpp
 *
 *  See seqlearn_wta_neuron.h and docs/nest.md.
 */

#include "seqlearn_wta_neuron.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "dict_helpers.h"
#include "seqlearn_kernels.h"
#include "event_delivery_manager_impl.h"
#include "exceptions.h"
#include "kernel_manager.h"
#include "universal_data_logger_impl.h"

namespace nest
{
template <>
void
RecordablesMap< seqlearn::seqlearn_wta_neuron >::create()
{
  insert_( "u", &seqlearn::seqlearn_wta_neuron::get_u_ );
  insert_( "rho", &seqlearn::seqlearn_wta_neuron::get_rho_ );
}
}

namespace seqlearn
{

nest::RecordablesMap< seqlearn_wta_neuron > seqlearn_wta_neuron::recordablesMap_;

namespace
{
const std::string k_r_max = "r_max";
const std::string k_tau_decay = "tau_decay";
const std::string k_tau_rise = "tau_rise";
const std::string k_eta = "eta";
const std::string k_variance_tracking = "variance_tracking";
const std::string k_learning = "learning";
const std::string k_bias_learning = "bias_learning";
const std::string k_spike_law = "spike_law";
const std::string k_trace_mode = "trace_mode";
const std::string k_n_incoming = "n_incoming";
const std::string k_circuit_size = "circuit_size";
const std::string k_circuit_index = "circuit_index";
const std::string k_reset_times = "reset_times";
const std::string k_forced = "forced";
const std::string k_forced_spikes = "forced_spikes";
const std::string k_recorded_slots = "recorded_slots";
const std::string k_slot_recording_interval = "slot_recording_interval";
const std::string k_weights = "weights";
const std::string k_epsp_e = "epsp_e";
const std::string k_epsp_f = "epsp_f";
const std::string k_S = "S";
const std::string k_Q = "Q";
const std::string k_bias = "bias";
const std::string k_bias_S = "bias_S";
const std::string k_bias_Q = "bias_Q";
const std::string k_n_train_steps = "n_train_steps";
const std::string k_u = "u";
const std::string k_rho = "rho";
const std::string k_slot_recording = "slot_recording";
const std::string k_clear_slot_recording = "clear_slot_recording";
const std::string k_record_traces = "record_traces";
const std::string k_trace_recording_interval = "trace_recording_interval";
const std::string k_trace_recording = "trace_recording";
const std::string k_clear_trace_recording = "clear_trace_recording";

//! Convert times in ms (multiples of the resolution) to sorted step numbers.
std::vector< long >
times_to_steps( const std::vector< double >& times, const double dt, const std::string& what )
{
  std::vector< long > steps;
  steps.reserve( times.size() );
  for ( const double t : times )
  {
    const double s = t / dt;
    const double r = std::round( s );
    if ( not std::isfinite( t ) or t < 0.0 or std::abs( s - r ) > 1e-9 * std::max( 1.0, std::abs( s ) ) )
    {
      throw nest::BadProperty( what + " must hold non-negative multiples of the resolution (ms)." );
    }
    steps.push_back( static_cast< long >( r ) );
  }
  std::sort( steps.begin(), steps.end() );
  steps.erase( std::unique( steps.begin(), steps.end() ), steps.end() );
  return steps;
}

//! Steps between two trace samples; throws unless interval_ms is a positive
//! multiple of the resolution (samples fall on the grid t % steps == 0).
long
trace_interval_steps( const double interval_ms )
{
  const double dt = nest::Time::get_resolution().get_ms();
  // the upper bound keeps the conversion to long defined
  if ( not( interval_ms > 0.0 ) or not( interval_ms / dt < 1e15 ) )
  {
    throw nest::BadProperty( "trace_recording_interval must be > 0 (ms) and finite, got "
      + std::to_string( interval_ms ) + "." );
  }
  return times_to_steps( { interval_ms }, dt, k_trace_recording_interval ).front();
}

//! Exact mode: trace update of all slots with this step's input amplitudes
//! (which are consumed); returns sum_j w_j * Y_j of the next step (without
//! new input).
__attribute__( ( noinline ) ) double
trace_step( double* __restrict in,
  seqlearn_wta_neuron::Slot* __restrict sl,
  const double* __restrict w,
  const size_t n,
  const double kd,
  const double kr )
{
  double acc = 0.0;
  for ( size_t j = 0; j < n; ++j )
  {
    const double a = in[ j ];
    in[ j ] = 0.0;
    const double ej = sl[ j ].e + ( a - sl[ j ].e * kd );
    const double fj = sl[ j ].f + ( a - sl[ j ].f * kr );
    sl[ j ].e = ej;
    sl[ j ].f = fj;
    acc += w[ j ] * ( ( ej - ej * kd ) - ( fj - fj * kr ) );
  }
  return acc;
}

//! sum_j w_j * Y_j of the next step (without new input).
double
predicted_input( const seqlearn_wta_neuron::Slot* sl,
  const double* w,
  const size_t n,
  const double kd,
  const double kr )
{
  double acc = 0.0;
  for ( size_t j = 0; j < n; ++j )
  {
    acc += w[ j ] * ( ( sl[ j ].e - sl[ j ].e * kd ) - ( sl[ j ].f - sl[ j ].f * kr ) );
  }
  return acc;
}
}

/* ---------------------------------------------------------------- Parameters */

seqlearn_wta_neuron::Parameters_::Parameters_()
  : r_max_( 100.0 )
  , tau_decay_( 20.0 )
  , tau_rise_( 2.0 )
  , eta_( 0.05 )
  , variance_tracking_( true )
  , learning_( false )
  , bias_learning_( false )
  , spike_law_( SpikeLaw::EXPONENTIAL )
  , trace_mode_( TraceMode::LAZY )
  , n_incoming_( 0 )
  , circuit_size_( 1 )
  , circuit_index_( 0 )
  , reset_times_()
  , forced_( false )
  , forced_spikes_()
  , recorded_slots_()
  , slot_recording_interval_( 1.0 )
  , record_traces_( false )
  , trace_recording_interval_( nest::Time::get_resolution().get_ms() )
{
}

void
seqlearn_wta_neuron::Parameters_::get( Dictionary& d ) const
{
  d[ k_r_max ] = r_max_;
  d[ k_tau_decay ] = tau_decay_;
  d[ k_tau_rise ] = tau_rise_;
  d[ k_eta ] = eta_;
  d[ k_variance_tracking ] = variance_tracking_;
  d[ k_learning ] = learning_;
  d[ k_bias_learning ] = bias_learning_;
  d[ k_spike_law ] = std::string( spike_law_ == SpikeLaw::EXPONENTIAL ? "exponential" : "linear" );
  d[ k_trace_mode ] = std::string( trace_mode_ == TraceMode::LAZY ? "lazy" : "exact" );
  d[ k_n_incoming ] = n_incoming_;
  d[ k_circuit_size ] = circuit_size_;
  d[ k_circuit_index ] = circuit_index_;
  d[ k_reset_times ] = reset_times_;
  d[ k_forced ] = forced_;
  d[ k_forced_spikes ] = forced_spikes_;
  d[ k_recorded_slots ] = recorded_slots_;
  d[ k_slot_recording_interval ] = slot_recording_interval_;
  d[ k_record_traces ] = record_traces_;
  d[ k_trace_recording_interval ] = trace_recording_interval_;
}

void
seqlearn_wta_neuron::Parameters_::set( const Dictionary& d )
{
  update_double( d, k_r_max, r_max_ );
  update_double( d, k_tau_decay, tau_decay_ );
  update_double( d, k_tau_rise, tau_rise_ );
  update_double( d, k_eta, eta_ );
  d.update_value( k_variance_tracking, variance_tracking_ );
  d.update_value( k_learning, learning_ );
  d.update_value( k_bias_learning, bias_learning_ );
  std::string law;
  if ( d.update_value( k_spike_law, law ) )
  {
    if ( law == "exponential" )
    {
      spike_law_ = SpikeLaw::EXPONENTIAL;
    }
    else if ( law == "linear" )
    {
      spike_law_ = SpikeLaw::LINEAR;
    }
    else
    {
      throw nest::BadProperty( "spike_law must be 'exponential' or 'linear', got '" + law + "'." );
    }
  }
  std::string mode;
  if ( d.update_value( k_trace_mode, mode ) )
  {
    if ( mode == "lazy" )
    {
      trace_mode_ = TraceMode::LAZY;
    }
    else if ( mode == "exact" )
    {
      trace_mode_ = TraceMode::EXACT;
    }
    else
    {
      throw nest::BadProperty( "trace_mode must be 'lazy' or 'exact', got '" + mode + "'." );
    }
  }
  d.update_integer_value( k_n_incoming, n_incoming_ );
  d.update_integer_value( k_circuit_size, circuit_size_ );
  d.update_integer_value( k_circuit_index, circuit_index_ );
  update_double_vector( d, k_reset_times, reset_times_ );
  d.update_value( k_forced, forced_ );
  update_double_vector( d, k_forced_spikes, forced_spikes_ );
  update_long_vector( d, k_recorded_slots, recorded_slots_ );
  update_double( d, k_slot_recording_interval, slot_recording_interval_ );
  d.update_value( k_record_traces, record_traces_ );
  update_double( d, k_trace_recording_interval, trace_recording_interval_ );

  if ( not( r_max_ >= 0.0 ) )
  {
    throw nest::BadProperty( "r_max must be >= 0 (Hz)." );
  }
  if ( not( tau_decay_ > 0.0 ) or not( tau_rise_ > 0.0 ) )
  {
    throw nest::BadProperty( "tau_decay and tau_rise must be > 0 (ms)." );
  }
  if ( not( eta_ >= 0.0 ) )
  {
    throw nest::BadProperty( "eta must be >= 0." );
  }
  if ( n_incoming_ < 0 )
  {
    throw nest::BadProperty( "n_incoming must be >= 0." );
  }
  if ( circuit_size_ < 1 )
  {
    throw nest::BadProperty( "circuit_size must be >= 1." );
  }
  if ( circuit_index_ < 0 or circuit_index_ >= circuit_size_ )
  {
    throw nest::BadProperty( "circuit_index must be in [0, circuit_size)." );
  }
  for ( const long s : recorded_slots_ )
  {
    if ( s < 0 or s >= n_incoming_ )
    {
      throw nest::BadProperty( "recorded_slots must be in [0, n_incoming)." );
    }
  }
  if ( not( slot_recording_interval_ > 0.0 ) )
  {
    throw nest::BadProperty( "slot_recording_interval must be > 0 (ms)." );
  }
  const double dt = nest::Time::get_resolution().get_ms();
  times_to_steps( reset_times_, dt, k_reset_times );  // validation only
  times_to_steps( forced_spikes_, dt, k_forced_spikes );
  times_to_steps( { slot_recording_interval_ }, dt, k_slot_recording_interval );
  trace_interval_steps( trace_recording_interval_ );
}

/* --------------------------------------------------------------------- State */

seqlearn_wta_neuron::State_::State_()
  : pending_summed_( 0 )
  , bias_( 0.0 )
  , bias_S_( 0.0 )
  , bias_Q_( 1.0 )
  , n_train_steps_( 0 )
  , u_( 0.0 )
  , rho_( 0.0 )
  , u_next_( 0.0 )
  , last_step_( -1 )
  , se_( 0.0 )
  , sf_( 0.0 )
  , sums_valid_( false )
{
}

void
seqlearn_wta_neuron::State_::resize( size_t n )
{
  slot_.resize( n, Slot { 0.0, 0.0, last_step_ } );
  w_.resize( n, 0.0 );
  S_.resize( n, 0.0 );
  Q_.resize( n, 1.0 );
}

void
seqlearn_wta_neuron::State_::get( Dictionary& d ) const
{
  d[ k_weights ] = w_;  // epsp_e, epsp_f: see seqlearn_wta_neuron::get_status
  d[ k_S ] = S_;
  d[ k_Q ] = Q_;
  d[ k_bias ] = bias_;
  d[ k_bias_S ] = bias_S_;
  d[ k_bias_Q ] = bias_Q_;
  d[ k_n_train_steps ] = n_train_steps_;
  d[ k_u ] = u_;
  d[ k_rho ] = rho_;
}

void
seqlearn_wta_neuron::State_::set( const Dictionary& d, const Parameters_& p )
{
  const size_t n = static_cast< size_t >( p.n_incoming_ );
  resize( n );
  auto set_vec = [ &d, n ]( const std::string& key, std::vector< double >& v )
  {
    std::vector< double > tmp;
    if ( update_double_vector( d, key, tmp ) )
    {
      if ( tmp.size() != n )
      {
        throw nest::BadProperty( key + " must have n_incoming entries." );
      }
      v = tmp;
    }
  };
  auto set_slot = [ &d, n, this ]( const std::string& key, double Slot::*member )
  {
    std::vector< double > tmp;
    if ( update_double_vector( d, key, tmp ) )
    {
      if ( tmp.size() != n )
      {
        throw nest::BadProperty( key + " must have n_incoming entries." );
      }
      for ( size_t j = 0; j < n; ++j )
      {
        slot_[ j ].*member = tmp[ j ];
      }
    }
  };
  set_vec( k_weights, w_ );
  set_slot( k_epsp_e, &Slot::e );
  set_slot( k_epsp_f, &Slot::f );
  set_vec( k_S, S_ );
  set_vec( k_Q, Q_ );
  update_double( d, k_bias, bias_ );
  update_double( d, k_bias_S, bias_S_ );
  update_double( d, k_bias_Q, bias_Q_ );
  d.update_integer_value( k_n_train_steps, n_train_steps_ );
  if ( n_train_steps_ < 0 )
  {
    throw nest::BadProperty( "n_train_steps must be >= 0." );
  }
}

/* ------------------------------------------------------------------- Buffers */

seqlearn_wta_neuron::Buffers_::Buffers_( seqlearn_wta_neuron& n )
  : circuit_shift_( 0.0 )
  , stamp_tics_( std::numeric_limits< long >::min() )
  , stamp_steps_( 0 )
  , logger_( n )
{
}

seqlearn_wta_neuron::Buffers_::Buffers_( const Buffers_&, seqlearn_wta_neuron& n )
  : circuit_shift_( 0.0 )
  , stamp_tics_( std::numeric_limits< long >::min() )
  , stamp_steps_( 0 )
  , logger_( n )
{
}

/* -------------------------------------------------------------------- Neuron */

seqlearn_wta_neuron::seqlearn_wta_neuron()
  : ArchivingNode()
  , P_()
  , S_()
  , B_( *this )
  , max_connected_slot_( -1 )
{
  recordablesMap_.create();
}

seqlearn_wta_neuron::seqlearn_wta_neuron( const seqlearn_wta_neuron& n )
  : ArchivingNode( n )
  , P_( n.P_ )
  , S_( n.S_ )
  , B_( n.B_, *this )
  , max_connected_slot_( n.max_connected_slot_ )
{
}

void
seqlearn_wta_neuron::get_status( Dictionary& d ) const
{
  P_.get( d );
  S_.get( d );
  // traces as of the last computed step (lazy mode stores older values)
  State_ cur = S_;
  normalize_( cur, cur.last_step_ );
  std::vector< double > e( cur.slot_.size() ), f( cur.slot_.size() );
  for ( size_t j = 0; j < cur.slot_.size(); ++j )
  {
    e[ j ] = cur.slot_[ j ].e;
    f[ j ] = cur.slot_[ j ].f;
  }
  d[ k_epsp_e ] = e;
  d[ k_epsp_f ] = f;
  ArchivingNode::get_status( d );
  d[ nest::names::recordables ] = recordablesMap_.get_list();

  Dictionary rec;
  rec[ "times" ] = B_.rec_times_;
  rec[ "slots" ] = B_.rec_slots_;
  rec[ "weights" ] = B_.rec_weights_;
  rec[ "epsps" ] = B_.rec_epsps_;
  d[ k_slot_recording ] = rec;

  std::vector< double > times, u, rho;
  copy_traces_( times, u, rho );
  Dictionary traces;
  traces[ "times" ] = times;
  traces[ "u" ] = u;
  traces[ "rho" ] = rho;
  d[ k_trace_recording ] = traces;
}

void
seqlearn_wta_neuron::set_status( const Dictionary& d )
{
  Parameters_ ptmp = P_;
  ptmp.set( d );
  if ( ptmp.n_incoming_ <= max_connected_slot_ )
  {
    throw nest::BadProperty( "n_incoming cannot drop below the number of connected slots ("
      + std::to_string( max_connected_slot_ + 1 ) + ")." );
  }
  State_ stmp = S_;
  normalize_( stmp, stmp.last_step_ );  // traces given are as of the last step
  stmp.set( d, ptmp );
  stmp.sums_valid_ = false;
  bool clear_rec = false;
  d.update_value( k_clear_slot_recording, clear_rec );
  bool clear_traces = false;
  d.update_value( k_clear_trace_recording, clear_traces );
  // also here, not only in pre_run_hook: a change between two Run calls
  // takes effect at once
  const long trace_steps = trace_interval_steps( ptmp.trace_recording_interval_ );

  ArchivingNode::set_status( d );

  P_ = ptmp;
  S_ = stmp;
  V_.trace_interval_steps_ = trace_steps;
  V_.next_trace_step_ = 0;
  if ( clear_rec )
  {
    B_.rec_times_.clear();
    B_.rec_slots_.clear();
    B_.rec_weights_.clear();
    B_.rec_epsps_.clear();
  }
  if ( clear_traces )
  {
    B_.traces_.clear();
  }
}

void
seqlearn_wta_neuron::set_trace_recording( const bool on, const double interval_ms )
{
  const long steps = trace_interval_steps( interval_ms );  // throws before any change
  P_.record_traces_ = on;
  P_.trace_recording_interval_ = interval_ms;
  V_.trace_interval_steps_ = steps;
  V_.next_trace_step_ = 0;
}

void
seqlearn_wta_neuron::copy_traces_( std::vector< double >& times,
  std::vector< double >& u,
  std::vector< double >& rho ) const
{
  const size_t n = B_.traces_.size();
  times.resize( n );
  u.resize( n );
  rho.resize( n );
  for ( size_t i = 0; i < n; ++i )
  {
    times[ i ] = B_.traces_[ i ].time;
    u[ i ] = B_.traces_[ i ].u;
    rho[ i ] = B_.traces_[ i ].rho;
  }
}

void
seqlearn_wta_neuron::resize_input_buffer_()
{
  const size_t len = static_cast< size_t >(
    nest::kernel().connection_manager.get_min_delay() + nest::kernel().connection_manager.get_max_delay() );
  if ( B_.in_rows_.size() != len )
  {
    B_.in_rows_.assign( len, std::vector< Buffers_::Input >() );
  }
  if ( B_.dense_in_.size() != static_cast< size_t >( P_.n_incoming_ ) )
  {
    B_.dense_in_.assign( static_cast< size_t >( P_.n_incoming_ ), 0.0 );
  }
}

void
seqlearn_wta_neuron::init_buffers_()
{
  B_.in_rows_.clear();
  B_.dense_in_.clear();
  // all potentials 0 before the first step: v = exp(0 - 0)
  B_.circuit_v_.assign( static_cast< size_t >( P_.circuit_size_ ), 1.0 );
  B_.circuit_shift_ = 0.0;
  B_.stamp_tics_ = std::numeric_limits< long >::min();
  B_.rec_times_.clear();
  B_.rec_slots_.clear();
  B_.rec_weights_.clear();
  B_.rec_epsps_.clear();
  B_.traces_.clear();
  B_.logger_.reset();
  ArchivingNode::clear_history();
}

namespace
{
const size_t POW_TABLE_SIZE = 1024;

/*
 * (1 - kd)^k and (1 - kr)^k, interleaved, by repeated multiplication.  One
 * table per pair of factors for the whole process: a table per neuron (16 KB
 * each) pushed the neurons' slots out of the cache at full scale.
 */
std::shared_ptr< const std::vector< double > >
decay_powers( const double kd, const double kr )
{
  static std::mutex mutex;
  static std::map< std::pair< double, double >, std::shared_ptr< const std::vector< double > > > tables;
  std::lock_guard< std::mutex > lock( mutex );
  std::shared_ptr< const std::vector< double > >& table = tables[ { kd, kr } ];
  if ( not table )
  {
    std::vector< double > t( 2 * POW_TABLE_SIZE );
    t[ 0 ] = 1.0;
    t[ 1 ] = 1.0;
    for ( size_t k = 1; k < POW_TABLE_SIZE; ++k )
    {
      t[ 2 * k ] = t[ 2 * k - 2 ] * ( 1.0 - kd );
      t[ 2 * k + 1 ] = t[ 2 * k - 1 ] * ( 1.0 - kr );
    }
    table = std::make_shared< const std::vector< double > >( std::move( t ) );
  }
  return table;
}
}

namespace
{
//! sum_j w_j e_j and sum_j w_j f_j, in slot order
inline void
weighted_sums( const seqlearn_wta_neuron::Slot* sl, const double* w, const size_t n, double& se, double& sf )
{
  se = 0.0;
  sf = 0.0;
  for ( size_t j = 0; j < n; ++j )
  {
    se += w[ j ] * sl[ j ].e;
    sf += w[ j ] * sl[ j ].f;
  }
}
}

inline __attribute__( ( always_inline ) ) void
seqlearn_wta_neuron::decay_slot_( Slot& x, const long t, const double* pow ) const
{
  const long k = t - x.tau;
  if ( k > 0 )
  {
    if ( static_cast< size_t >( k ) < POW_TABLE_SIZE )
    {
      x.e *= pow[ 2 * k ];
      x.f *= pow[ 2 * k + 1 ];
    }
    else
    {
      x.e *= std::pow( 1.0 - V_.kd_, static_cast< double >( k ) );
      x.f *= std::pow( 1.0 - V_.kr_, static_cast< double >( k ) );
    }
    x.tau = t;
  }
}

void
seqlearn_wta_neuron::apply_pending_( State_& s, const long t ) const
{
  const size_t len = s.pending_.size();
  const PendingInput* pending = s.pending_.data();
  Slot* sl = s.slot_.data();
  const double* pow = V_.pow_;
  size_t i = 0;
  for ( ; i < len and pending[ i ].step <= t; ++i )
  {
    // the slots are scattered over the neuron's array: fetch a few ahead
    if ( i + 8 < len )
    {
      __builtin_prefetch( &sl[ pending[ i + 8 ].slot ], 1 );
    }
    Slot& x = sl[ pending[ i ].slot ];
    decay_slot_( x, pending[ i ].step, pow );
    x.e += pending[ i ].amplitude;
    x.f += pending[ i ].amplitude;
  }
  s.pending_.erase( s.pending_.begin(), s.pending_.begin() + static_cast< long >( i ) );
  s.pending_summed_ -= std::min( s.pending_summed_, i );
}

inline void
seqlearn_wta_neuron::log_input_( const size_t slot, const long t, const double amplitude )
{
  S_.pending_.push_back( PendingInput { t, slot, amplitude } );
  if ( S_.pending_.size() >= V_.pending_limit_ )
  {
    apply_pending_( S_, S_.last_step_ );  // entries of computed steps only: their w * a is summed
  }
}

void
seqlearn_wta_neuron::normalize_( State_& s, long t ) const
{
  const bool lazy = P_.trace_mode_ == TraceMode::LAZY;
  apply_pending_( s, t );
  for ( Slot& x : s.slot_ )
  {
    if ( lazy )
    {
      decay_slot_( x, t, V_.pow_ );
    }
    x.tau = t;
  }
}

void
seqlearn_wta_neuron::pre_run_hook()
{
  B_.logger_.init();

  if ( P_.circuit_size_ > 1 and nest::kernel().connection_manager.get_min_delay() != 1 )
  {
    throw nest::BadProperty(
      "seqlearn_wta_neuron: circuits need min_delay == resolution (one step), so that potentials sent in one "
      "step arrive in the next." );
  }

  V_.dt_ms_ = nest::Time::get_resolution().get_ms();
  V_.dt_s_ = V_.dt_ms_ / 1000.0;
  V_.kd_ = V_.dt_ms_ / P_.tau_decay_;
  V_.kr_ = V_.dt_ms_ / P_.tau_rise_;
  V_.pow_table_ = decay_powers( V_.kd_, V_.kr_ );
  V_.pow_ = V_.pow_table_->data();
  V_.reset_steps_ = times_to_steps( P_.reset_times_, V_.dt_ms_, k_reset_times );
  V_.forced_steps_ = times_to_steps( P_.forced_spikes_, V_.dt_ms_, k_forced_spikes );
  V_.reset_cursor_ = 0;
  // applying the log costs O(its length): amortised O(1) per input
  V_.pending_limit_ = std::max< size_t >( 64, static_cast< size_t >( P_.n_incoming_ ) );
  V_.rec_interval_steps_ = std::max( 1L, static_cast< long >( std::round( P_.slot_recording_interval_ / V_.dt_ms_ ) ) );
  V_.trace_interval_steps_ =
    std::max( 1L, static_cast< long >( std::round( P_.trace_recording_interval_ / V_.dt_ms_ ) ) );
  V_.next_trace_step_ = 0;
  V_.rng_ = nest::get_vp_specific_rng( get_thread() );

  S_.resize( static_cast< size_t >( P_.n_incoming_ ) );
  resize_input_buffer_();
  if ( B_.circuit_v_.size() != static_cast< size_t >( P_.circuit_size_ ) )
  {
    B_.circuit_v_.resize( static_cast< size_t >( P_.circuit_size_ ), 1.0 );
  }
  B_.sent_u_.assign( static_cast< size_t >( nest::kernel().connection_manager.get_min_delay() ), 0.0 );
  S_.sums_valid_ = false;
}

void
seqlearn_wta_neuron::update( nest::Time const& origin, const long from, const long to )
{
  const size_t n = static_cast< size_t >( P_.n_incoming_ );
  const size_t K = static_cast< size_t >( P_.circuit_size_ );
  const size_t ci = static_cast< size_t >( P_.circuit_index_ );
  const double kd = V_.kd_;
  const double kr = V_.kr_;
  const bool lazy = P_.trace_mode_ == TraceMode::LAZY;

  std::vector< double >& sent_u = B_.sent_u_;  // one value per lag, sized in pre_run_hook()

  for ( long lag = from; lag < to; ++lag )
  {
    const long t = origin.get_steps() + lag;
    std::vector< Buffers_::Input >& row =
      B_.in_rows_[ static_cast< size_t >( nest::kernel().event_delivery_manager.get_modulo( lag ) ) ];
    Slot* sl = S_.slot_.data();

    // a. trace update with the spikes of step t-1, or reset.
    double acc = 0.0;  // exact mode: sum_j w_j Y_j(t+1) without new input
    if ( is_reset_step_( t ) )
    {
      row.clear();
      S_.pending_.clear();
      S_.pending_summed_ = 0;
      for ( size_t j = 0; j < n; ++j )
      {
        sl[ j ].e = 0.0;
        sl[ j ].f = 0.0;
        sl[ j ].tau = t;
      }
      S_.se_ = 0.0;
      S_.sf_ = 0.0;
      S_.sums_valid_ = true;
    }
    else if ( lazy )
    {
      if ( not S_.sums_valid_ )
      {
        normalize_( S_, t - 1 );  // what remains in the log is of step t
        S_.pending_summed_ = 0;
        weighted_sums( sl, S_.w_.data(), n, S_.se_, S_.sf_ );
        S_.sums_valid_ = true;
      }
      // e(t) = e(t-1) (1 - kd) + a, summed over the slots with weights: the
      // log entries not yet summed are this step's inputs (handle() logged
      // them and prefetched their weights)
      double input = 0.0;
      for ( size_t i = S_.pending_summed_; i < S_.pending_.size(); ++i )
      {
        input += S_.w_[ S_.pending_[ i ].slot ] * S_.pending_[ i ].amplitude;
      }
      for ( const Buffers_::Input& in : row )
      {
        input += S_.w_[ in.slot ] * in.amplitude;
        log_input_( in.slot, t, in.amplitude );
      }
      row.clear();
      S_.pending_summed_ = S_.pending_.size();
      S_.se_ -= S_.se_ * kd;
      S_.sf_ -= S_.sf_ * kr;
      S_.se_ += input;
      S_.sf_ += input;
    }
    else
    {
      double* dense = B_.dense_in_.data();
      for ( const Buffers_::Input& in : row )
      {
        dense[ in.slot ] += in.amplitude;
      }
      row.clear();
      acc = trace_step( dense, sl, S_.w_.data(), n, kd, kr );
    }

    // per-slot recording: weight at the start of the step and Y
    if ( not P_.recorded_slots_.empty() and t % V_.rec_interval_steps_ == 0 )
    {
      if ( lazy )
      {
        apply_pending_( S_, t );
      }
      for ( const long rs : P_.recorded_slots_ )
      {
        const size_t j = static_cast< size_t >( rs );
        if ( lazy )
        {
          decay_slot_( sl[ j ], t, V_.pow_ );
        }
        B_.rec_times_.push_back( static_cast< double >( t ) * V_.dt_ms_ );
        B_.rec_slots_.push_back( rs );
        B_.rec_weights_.push_back( S_.w_[ j ] );
        B_.rec_epsps_.push_back( sl[ j ].e - sl[ j ].f );
      }
    }

    // c. soft-max over the circuit: every member holds v_k = exp(u_k - c)
    // of step t, with the same shift c (see below)
    S_.u_ = S_.u_next_;
    const double* v = B_.circuit_v_.data();
    double denom = 0.0;
    double v_max = 0.0;
    for ( size_t k = 0; k < K; ++k )
    {
      denom += v[ k ];
      v_max = std::max( v_max, v[ k ] );
    }
    S_.rho_ = v[ ci ] / denom;
    const double r = P_.r_max_ * S_.rho_;

    bool spiked = false;
    if ( P_.forced_ )
    {
      spiked = std::binary_search( V_.forced_steps_.begin(), V_.forced_steps_.end(), t );
    }
    else
    {
      const double x = r * V_.dt_s_;
      const double draw = V_.rng_->drand();
      if ( P_.spike_law_ == SpikeLaw::LINEAR )
      {
        spiked = draw < x;
      }
      else
      {
        // p = 1 - exp(-x) <= x, also after rounding (margin: libm's 1 ulp of
        // exp near 1 and more): most draws are above x and need no exp
        spiked = draw < x + x * 1e-9 + 1e-15 and draw < 1.0 - std::exp( -x );
      }
    }

    // d. send the spike
    if ( spiked )
    {
      set_spiketime( nest::Time::step( t + 1 ) );
      nest::SpikeEvent se;
      nest::kernel().event_delivery_manager.send( *this, se, lag );
    }

    // e. learning
    const bool weights_change = P_.learning_ and spiked;
    if ( P_.learning_ )
    {
      ++S_.n_train_steps_;
      const double n_steps = static_cast< double >( S_.n_train_steps_ );
      if ( spiked )
      {
        learn_slots_( t, lazy );
      }
      if ( P_.bias_learning_ )
      {
        const double Z = spiked ? 1.0 : 0.0;
        const double eta0 = P_.variance_tracking_
          ? P_.eta_ * ( S_.bias_Q_ - S_.bias_S_ * S_.bias_S_ ) / ( std::exp( -S_.bias_S_ ) + 1.0 )
          : P_.eta_ / n_steps;
        const double P = std::exp( S_.bias_ );
        S_.bias_ += eta0 * ( Z - P ) / std::max( P, eta0 );
        if ( P_.variance_tracking_ )
        {
          const double b = S_.bias_;
          S_.bias_S_ += eta0 * ( b - S_.bias_S_ );
          S_.bias_Q_ += eta0 * ( b * b - S_.bias_Q_ );
        }
      }
    }

    B_.logger_.record_data( t );
    // trace recording: the values the multimeter gets, stamped with native
    // step time, at t % interval == 0; next_trace_step_ saves the division
    // per step except after a change of the interval
    if ( P_.record_traces_ and t >= V_.next_trace_step_ )
    {
      const long r = t == V_.next_trace_step_ ? 0 : t % V_.trace_interval_steps_;
      if ( r == 0 )
      {
        B_.traces_.push_back( Buffers_::TraceSample { static_cast< double >( t ) * V_.dt_ms_, S_.u_, S_.rho_ } );
        if ( B_.traces_.size() < B_.traces_.capacity() )
        {
          __builtin_prefetch( B_.traces_.data() + B_.traces_.size(), 1 );
        }
      }
      V_.next_trace_step_ = t - r + V_.trace_interval_steps_;
    }

    S_.last_step_ = t;

    // f. prediction of the potential of step t+1: the jump of this step's
    // spikes enters e and f alike and cancels in Y(t+1) = e - f.
    if ( is_reset_step_( t + 1 ) )
    {
      S_.u_next_ = S_.bias_;
    }
    else if ( lazy )
    {
      S_.u_next_ = S_.bias_ + ( ( S_.se_ - S_.se_ * kd ) - ( S_.sf_ - S_.sf_ * kr ) );
    }
    else
    {
      if ( weights_change )
      {
        acc = predicted_input( sl, S_.w_.data(), n, kd, kr );  // w changed: recompute
      }
      S_.u_next_ = S_.bias_ + acc;
    }

    // g. what the circuit gets for step t+1: v = exp(u_next - c'), where the
    // new shift c' = c + E ln 2, with E the binary exponent of max_k v_k, is
    // within ln 2 of the largest potential of step t. Every member computes
    // c' from the same values, so all share it; one exp per neuron instead
    // of K, and the values stay near 1 unless a potential moves by hundreds
    // within one step.
    const bool in_range = v_max >= std::numeric_limits< double >::min() and std::isfinite( v_max );
    const double shift =
      B_.circuit_shift_ + static_cast< double >( in_range ? kernels::exponent_of( v_max ) : 0 ) * M_LN2;
    const double v_next = std::exp( S_.u_next_ - shift );
    if ( not( in_range and std::isfinite( v_next ) ) )
    {
      throw nest::KernelException( "seqlearn_wta_neuron " + std::to_string( get_node_id() ) + ": potential "
        + std::to_string( S_.u_next_ ) + " at step " + std::to_string( t + 1 )
        + " is out of the soft-max's floating-point range (it moved by more than ~700 within one step)." );
    }
    B_.circuit_shift_ = shift;
    B_.circuit_v_[ ci ] = v_next;
    sent_u[ static_cast< size_t >( lag ) ] = v_next;
  }

  if ( K > 1 )
  {
    nest::InstantaneousRateConnectionEvent ev;
    ev.set_coeffarray( sent_u );
    nest::kernel().event_delivery_manager.send_secondary( *this, ev );
  }
}

void
seqlearn_wta_neuron::learn_slots_( const long t, const bool lazy )
{
  if ( lazy )
  {
    apply_pending_( S_, t );
  }
  const size_t n = S_.slot_.size();
  Slot* sl = S_.slot_.data();
  double* w = S_.w_.data();
  // Y of all slots, contiguous for the kernel: one scratch per thread, so
  // that it stays in the cache instead of one per neuron
  static thread_local std::vector< double > y_scratch;
  y_scratch.resize( n );
  double* y = y_scratch.data();
  const double* pow = V_.pow_;
  if ( lazy )
  {
    for ( size_t j = 0; j < n; ++j )
    {
      decay_slot_( sl[ j ], t, pow );
      y[ j ] = sl[ j ].e - sl[ j ].f;
    }
  }
  else
  {
    for ( size_t j = 0; j < n; ++j )
    {
      y[ j ] = sl[ j ].e - sl[ j ].f;
    }
  }
  const kernels::Rates rates { P_.eta_,
    P_.eta_ / static_cast< double >( S_.n_train_steps_ ),
    P_.variance_tracking_ };
  kernels::update( w, S_.S_.data(), S_.Q_.data(), y, n, rates );
  if ( lazy )
  {
    weighted_sums( sl, w, n, S_.se_, S_.sf_ );  // of step t, after learning
  }
}

size_t
seqlearn_wta_neuron::handles_test_event( nest::SpikeEvent&, size_t receptor_type )
{
  if ( receptor_type >= static_cast< size_t >( P_.n_incoming_ ) )
  {
    throw nest::UnknownReceptorType( static_cast< long >( receptor_type ), get_name() );
  }
  max_connected_slot_ = std::max( max_connected_slot_, static_cast< long >( receptor_type ) );
  return receptor_type;
}

size_t
seqlearn_wta_neuron::handles_test_event( nest::InstantaneousRateConnectionEvent&, size_t receptor_type )
{
  if ( receptor_type >= static_cast< size_t >( P_.circuit_size_ ) or receptor_type == static_cast< size_t >( P_.circuit_index_ ) )
  {
    throw nest::UnknownReceptorType( static_cast< long >( receptor_type ), get_name() );
  }
  return receptor_type;
}

void
seqlearn_wta_neuron::handle( nest::SpikeEvent& e )
{
  const size_t slot = e.get_rport();
  const double amplitude = e.get_weight() * e.get_multiplicity();
  // Input for the next step is logged: update() adds w * amplitude to the
  // trace sums, the traces take it from the log when read. Its weight is
  // only prefetched here, so that the ~650 arriving spikes of a step wait
  // for their scattered weights together, not one after the other.  Inputs
  // further ahead wait in a ring-buffer row.
  const nest::Time& stamp = e.get_stamp();
  if ( stamp.get_tics() != B_.stamp_tics_ )
  {
    B_.stamp_tics_ = stamp.get_tics();
    B_.stamp_steps_ = stamp.get_steps();
  }
  const long step = B_.stamp_steps_ + e.get_delay_steps() - 1;
  if ( step == S_.last_step_ + 1 and P_.trace_mode_ == TraceMode::LAZY )
  {
    __builtin_prefetch( S_.w_.data() + slot );
    log_input_( slot, step, amplitude );
    return;
  }
  const long row = nest::kernel().event_delivery_manager.get_modulo(
    e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() ) );
  B_.in_rows_[ static_cast< size_t >( row ) ].push_back( Buffers_::Input { slot, amplitude } );
}

void
seqlearn_wta_neuron::handle( nest::InstantaneousRateConnectionEvent& e )
{
  // weight deliberately ignored: the value is the sender's exp(u - c)
  const size_t k = e.get_rport();
  auto it = e.begin();
  if ( it != e.end() and k < static_cast< size_t >( P_.circuit_size_ ) )
  {
    B_.circuit_v_[ k ] = e.get_coeffvalue( it );
  }
}

}  // namespace seqlearn
