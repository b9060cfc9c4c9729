/*
 *  seqlearn_wta_neuron.cpp
 *
 *  See seqlearn_wta_neuron.h and docs/nest.md.  The equations are the
 *  kernels of kernels/seqlearn_kernels.h; this file holds NEST's side: status
 *  dictionaries, event handling, the lazy traces and the order of the step.
 */

#include "seqlearn_wta_neuron.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "dict_helpers.h"
#include "event_delivery_manager_impl.h"
#include "exceptions.h"
#include "kernel_manager.h"
#include "seqlearn_parameters.h"
#include "seqlearn_time.h"
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
namespace defaults = parameters::neuron;

const std::string k_r_max = "r_max";
const std::string k_tau_decay = "tau_decay";
const std::string k_tau_rise = "tau_rise";
const std::string k_eta = "eta";
const std::string k_variance_tracking = "variance_tracking";
const std::string k_learning = "learning";
const std::string k_bias_learning = "bias_learning";
const std::string k_vp_draws = "vp_draws";
const std::string k_spike_law = "spike_law";
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
const std::string k_circuit_u_initial = "circuit_u_initial";
const std::string k_n_train_steps = "n_train_steps";
const std::string k_u = "u";
const std::string k_rho = "rho";
const std::string k_slot_recording = "slot_recording";
const std::string k_clear_slot_recording = "clear_slot_recording";
const std::string k_record_traces = "record_traces";
const std::string k_trace_recording_interval = "trace_recording_interval";
const std::string k_trace_recording = "trace_recording";
const std::string k_clear_trace_recording = "clear_trace_recording";

kernels::SpikeLaw
spike_law_of( const std::string& name )
{
  return static_cast< kernels::SpikeLaw >(
    choice_index( k_spike_law, name, defaults::spike_law_names, defaults::spike_law_count ) );
}
}

/* ---------------------------------------------------------------- Parameters */

seqlearn_wta_neuron::Parameters_::Parameters_()
  : r_max_( defaults::r_max )
  , tau_decay_( defaults::tau_decay )
  , tau_rise_( defaults::tau_rise )
  , eta_( defaults::eta )
  , variance_tracking_( defaults::variance_tracking )
  , learning_( defaults::learning )
  , bias_learning_( defaults::bias_learning )
  , vp_draws_( defaults::vp_draws )
  , spike_law_( spike_law_of( defaults::spike_law ) )
  , n_incoming_( 0 )
  , circuit_size_( 1 )
  , circuit_index_( 0 )
  , reset_times_()
  , forced_( false )
  , forced_spikes_()
  , recorded_slots_()
  , slot_recording_interval_( 1.0 )
  , record_traces_( false )
  , trace_recording_interval_( 1.0 )
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
  d[ k_vp_draws ] = vp_draws_;
  d[ k_spike_law ] = std::string( defaults::spike_law_names[ static_cast< size_t >( spike_law_ ) ] );
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
  d.update_value( k_vp_draws, vp_draws_ );
  std::string law;
  if ( d.update_value( k_spike_law, law ) )
  {
    spike_law_ = spike_law_of( law );
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

  check_range( k_r_max, r_max_, defaults::r_max_range, "Hz" );
  check_range( k_tau_decay, tau_decay_, defaults::tau_decay_range, "ms" );
  check_range( k_tau_rise, tau_rise_, defaults::tau_rise_range, "ms" );
  check_range( k_eta, eta_, defaults::eta_range, "" );
  // Upper bound: a slot holds five doubles; beyond it resizing would abort.
  constexpr long max_incoming = 1L << 26;
  if ( n_incoming_ < 0 or n_incoming_ > max_incoming )
  {
    throw nest::BadProperty(
      "n_incoming must be in [0, " + std::to_string( max_incoming ) + "], got " + std::to_string( n_incoming_ ) + "." );
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
  const double dt = resolution_ms();
  steps_of_times( reset_times_, dt, k_reset_times );  // validation only
  steps_of_times( forced_spikes_, dt, k_forced_spikes );
  interval_steps( slot_recording_interval_, dt, k_slot_recording_interval );
  interval_steps( trace_recording_interval_, dt, k_trace_recording_interval );
}

/* --------------------------------------------------------------------- State */

seqlearn_wta_neuron::State_::State_()
  : bias_S_( 0.0 )
  , bias_Q_( 1.0 )
  , n_train_steps_( 0 )
  , bias_( 0.0 )
  , draws_()
  , u_( 0.0 )
  , rho_( 0.0 )
  , u_next_( 0.0 )
  , se_( 0.0 )
  , sf_( 0.0 )
  , sums_valid_( false )
  , last_step_( -1 )
{
}

void
seqlearn_wta_neuron::State_::resize( size_t n )
{
  slot_.resize( n, Slot { 0.0, 0.0, 0.0, last_step_ } );
  S_.resize( n, 0.0 );
  Q_.resize( n, 1.0 );
}

void
seqlearn_wta_neuron::State_::get( Dictionary& d ) const
{
  std::vector< double > w( slot_.size() );
  for ( size_t j = 0; j < slot_.size(); ++j )
  {
    w[ j ] = slot_[ j ].w;
  }
  d[ k_weights ] = w;  // epsp_e, epsp_f: see seqlearn_wta_neuron::get_status
  d[ k_S ] = S_;
  d[ k_Q ] = Q_;
  d[ k_bias ] = bias_;
  d[ k_bias_S ] = bias_S_;
  d[ k_bias_Q ] = bias_Q_;
  d[ k_n_train_steps ] = n_train_steps_;
  d[ k_u ] = u_;
  d[ k_rho ] = rho_;
  d[ k_circuit_u_initial ] = circuit_u_initial_;
}

void
seqlearn_wta_neuron::State_::set( const Dictionary& d, const Parameters_& p )
{
  const size_t n = static_cast< size_t >( p.n_incoming_ );
  resize( n );
  auto values = [ &d, n ]( const std::string& key, std::vector< double >& v ) -> bool
  {
    if ( not update_double_vector( d, key, v ) )
    {
      return false;
    }
    if ( v.size() != n )
    {
      throw nest::BadProperty( key + " must have n_incoming entries." );
    }
    return true;
  };
  std::vector< double > tmp;
  if ( values( k_weights, tmp ) )
  {
    for ( size_t j = 0; j < n; ++j )
    {
      slot_[ j ].w = tmp[ j ];
    }
  }
  if ( values( k_S, tmp ) )
  {
    S_ = tmp;
  }
  if ( values( k_Q, tmp ) )
  {
    Q_ = tmp;
  }
  if ( values( k_epsp_e, tmp ) )
  {
    for ( size_t j = 0; j < n; ++j )
    {
      slot_[ j ].e = tmp[ j ];
    }
  }
  if ( values( k_epsp_f, tmp ) )
  {
    for ( size_t j = 0; j < n; ++j )
    {
      slot_[ j ].f = tmp[ j ];
    }
  }
  update_double( d, k_bias, bias_ );
  update_double( d, k_bias_S, bias_S_ );
  update_double( d, k_bias_Q, bias_Q_ );
  d.update_integer_value( k_n_train_steps, n_train_steps_ );
  if ( n_train_steps_ < 0 )
  {
    throw nest::BadProperty( "n_train_steps must be >= 0." );
  }
  if ( update_double_vector( d, k_circuit_u_initial, tmp ) )
  {
    if ( not tmp.empty() and tmp.size() != static_cast< size_t >( p.circuit_size_ ) )
    {
      throw nest::BadProperty( k_circuit_u_initial + " must be empty or have circuit_size entries." );
    }
    if ( not std::all_of( tmp.begin(), tmp.end(), []( const double u ) { return std::isfinite( u ); } ) )
    {
      throw nest::BadProperty( k_circuit_u_initial + " must be finite." );
    }
    circuit_u_initial_ = tmp;
  }
}

/* ------------------------------------------------------------------- Buffers */

seqlearn_wta_neuron::Buffers_::Buffers_( seqlearn_wta_neuron& n )
  : stamp_tics_( std::numeric_limits< long >::min() )
  , stamp_steps_( 0 )
  , circuit_shift_( 0.0 )
  , circuit_v_max_( 1.0 )
  , logger_( n )
{
}

seqlearn_wta_neuron::Buffers_::Buffers_( const Buffers_&, seqlearn_wta_neuron& n )
  : Buffers_( n )
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
  update_decay_table_();
}

seqlearn_wta_neuron::seqlearn_wta_neuron( const seqlearn_wta_neuron& n )
  : ArchivingNode( n )
  , P_( n.P_ )
  , S_( n.S_ )
  , B_( n.B_, *this )
  , max_connected_slot_( n.max_connected_slot_ )
{
  // nodes are copies of the model prototype: share its decay table
  V_.decay_ = n.V_.decay_;
}

void
seqlearn_wta_neuron::update_decay_table_()
{
  const double dt = resolution_ms();
  const double kd = dt / P_.tau_decay_;
  const double kr = dt / P_.tau_rise_;
  if ( not V_.decay_ or V_.decay_->kd() != kd or V_.decay_->kr() != kr )
  {
    V_.decay_ = std::make_shared< const kernels::DecayTable >( kd, kr );
  }
}

void
seqlearn_wta_neuron::get_status( Dictionary& d ) const
{
  P_.get( d );
  S_.get( d );
  // traces as of the last computed step (the lazy state holds older values)
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
  std::vector< double > times, weights, epsps;
  std::vector< long > slots;
  for ( const SlotSample& s : B_.slot_samples_ )
  {
    times.push_back( s.time );
    slots.push_back( s.slot );
    weights.push_back( s.weight );
    epsps.push_back( s.epsp );
  }
  rec[ "times" ] = times;
  rec[ "slots" ] = slots;
  rec[ "weights" ] = weights;
  rec[ "epsps" ] = epsps;
  d[ k_slot_recording ] = rec;

  Dictionary traces;
  std::vector< double > t_times, u, rho;
  for ( const TraceSample& s : B_.traces_ )
  {
    t_times.push_back( s.time );
    u.push_back( s.u );
    rho.push_back( s.rho );
  }
  traces[ "times" ] = t_times;
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
  const long trace_steps = interval_steps( ptmp.trace_recording_interval_, resolution_ms(), k_trace_recording_interval );

  ArchivingNode::set_status( d );

  P_ = ptmp;
  S_ = stmp;
  update_decay_table_();
  V_.trace_interval_steps_ = trace_steps;
  V_.next_trace_step_ = 0;
  if ( clear_rec )
  {
    B_.slot_samples_.clear();
  }
  if ( clear_traces )
  {
    B_.traces_.clear();
  }
}

void
seqlearn_wta_neuron::set_trace_recording( const bool on, const long steps )
{
  if ( steps < 1 )
  {
    throw nest::BadProperty( "trace_recording_interval must be >= 1 step." );
  }
  P_.record_traces_ = on;
  P_.trace_recording_interval_ = static_cast< double >( steps ) * resolution_ms();
  V_.trace_interval_steps_ = steps;
  V_.next_trace_step_ = 0;
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
}

void
seqlearn_wta_neuron::init_buffers_()
{
  B_.next_in_.clear();
  B_.in_rows_.clear();
  // all potentials 0 before the first step: v = exp(0 - 0)
  B_.circuit_v_.assign( static_cast< size_t >( P_.circuit_size_ ), 1.0 );
  B_.circuit_shift_ = 0.0;
  B_.stamp_tics_ = std::numeric_limits< long >::min();
  B_.slot_samples_.clear();
  B_.traces_.clear();
  B_.logger_.reset();
  ArchivingNode::clear_history();
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

  V_.dt_ms_ = resolution_ms();
  V_.kd_ = V_.dt_ms_ / P_.tau_decay_;
  V_.kr_ = V_.dt_ms_ / P_.tau_rise_;
  update_decay_table_();
  V_.reset_steps_ = steps_of_times( P_.reset_times_, V_.dt_ms_, k_reset_times );
  V_.forced_steps_ = steps_of_times( P_.forced_spikes_, V_.dt_ms_, k_forced_spikes );
  V_.reset_cursor_ = 0;
  V_.rec_interval_steps_ = interval_steps( P_.slot_recording_interval_, V_.dt_ms_, k_slot_recording_interval );
  V_.trace_interval_steps_ = interval_steps( P_.trace_recording_interval_, V_.dt_ms_, k_trace_recording_interval );
  V_.next_trace_step_ = 0;
  V_.rng_ = nest::get_vp_specific_rng( get_thread() );

  S_.resize( static_cast< size_t >( P_.n_incoming_ ) );
  resize_input_buffer_();
  if ( B_.circuit_v_.size() != static_cast< size_t >( P_.circuit_size_ ) )
  {
    B_.circuit_v_.resize( static_cast< size_t >( P_.circuit_size_ ), 1.0 );
  }
  B_.heard_.resize( static_cast< size_t >( P_.circuit_size_ ), false );
  B_.sent_u_.assign( static_cast< size_t >( nest::kernel().connection_manager.get_min_delay() ), 0.0 );
  S_.sums_valid_ = false;
  if ( S_.last_step_ < 0 )
  {
    initial_potentials_();
    S_.draws_ = kernels::draw_stream( rng_seed_(), get_node_id() );
  }
}

void
seqlearn_wta_neuron::check_peers_() const
{
  for ( size_t l = 0; l < B_.heard_.size(); ++l )
  {
    if ( l != static_cast< size_t >( P_.circuit_index_ ) and not B_.heard_[ l ] )
    {
      throw nest::BadProperty( "seqlearn_wta_neuron " + std::to_string( get_node_id() ) + ": circuit_size is "
        + std::to_string( P_.circuit_size_ ) + " but no potential arrived from circuit member " + std::to_string( l )
        + "; connect every ordered pair of the circuit with rate_connection_instantaneous (receptor_type = the "
          "sender's circuit_index)." );
    }
  }
}

std::uint64_t
seqlearn_wta_neuron::rng_seed_()
{
  Dictionary d;
  nest::kernel().random_manager.get_status( d );
  long seed = 0;
  d.update_integer_value( nest::names::rng_seed, seed );
  return static_cast< std::uint64_t >( seed );
}

void
seqlearn_wta_neuron::initial_potentials_()
{
  // step 0: u = b (the traces start at 0); the members' values exp(u_l - c)
  // with the shift c = max_l u_l, as the circuit's first exchange would give
  const size_t k = static_cast< size_t >( P_.circuit_size_ );
  std::vector< double > u0 = S_.circuit_u_initial_;
  if ( u0.empty() )
  {
    u0.assign( k, 0.0 );
  }
  if ( u0.size() != k )
  {
    throw nest::BadProperty( "seqlearn_wta_neuron " + std::to_string( get_node_id() ) + ": circuit_u_initial has "
      + std::to_string( u0.size() ) + " entries, circuit_size is " + std::to_string( k ) + "." );
  }
  const size_t own = static_cast< size_t >( P_.circuit_index_ );
  if ( k > 1 and u0[ own ] != S_.bias_ )
  {
    throw nest::BadProperty( "seqlearn_wta_neuron " + std::to_string( get_node_id() ) + ": bias "
      + std::to_string( S_.bias_ ) + " differs from circuit_u_initial[circuit_index] = " + std::to_string( u0[ own ] )
      + ": the soft-max of step 0 needs every member's initial potential; set circuit_u_initial to the members' "
        "biases in circuit order." );
  }
  u0[ own ] = S_.bias_;
  const double shift = *std::max_element( u0.begin(), u0.end() );
  for ( size_t l = 0; l < k; ++l )
  {
    B_.circuit_v_[ l ] = kernels::circuit_value( u0[ l ], shift );
  }
  B_.circuit_shift_ = shift;
  S_.u_next_ = S_.bias_;
}

/* ------------------------------------------------------------ lazy traces */

inline __attribute__( ( always_inline ) ) void
seqlearn_wta_neuron::decay_slot_( Slot& x, const long t ) const
{
  const long m = t - x.tau;
  if ( m > 0 )
  {
    V_.decay_->decay( x.e, x.f, m );
    x.tau = t;
  }
}

void
seqlearn_wta_neuron::normalize_( State_& s, const long t ) const
{
  for ( Slot& x : s.slot_ )
  {
    decay_slot_( x, t );
    x.tau = t;
  }
}

void
seqlearn_wta_neuron::weighted_sums_()
{
  // the sums E = sum_j w_j e_j and F = sum_j w_j f_j the potential is
  // formed of (kernels::potential), in slot order
  double se = 0.0;
  double sf = 0.0;
  for ( const Slot& x : S_.slot_ )
  {
    se += x.w * x.e;
    sf += x.w * x.f;
  }
  S_.se_ = se;
  S_.sf_ = sf;
}

/* ------------------------------------------------------------------ the step */

// The stages are inlined into update(): called once per neuron and step, a
// call each cost ~2 % more instructions per step (callgrind).
#define STAGE __attribute__( ( always_inline ) )

inline STAGE void
seqlearn_wta_neuron::take_input_( const long t, const long lag )
{
  std::vector< Buffers_::Input >& row =
    B_.in_rows_[ static_cast< size_t >( nest::kernel().event_delivery_manager.get_modulo( lag ) ) ];
  if ( is_reset_step_( t ) )
  {
    // section 6: the inputs of step t-1 are discarded, the traces start at 0
    row.clear();
    B_.next_in_.clear();
    for ( Slot& x : S_.slot_ )
    {
      x.e = 0.0;
      x.f = 0.0;
      x.tau = t;
    }
    S_.se_ = 0.0;
    S_.sf_ = 0.0;
    S_.sums_valid_ = true;
    return;
  }
  if ( not S_.sums_valid_ )
  {
    normalize_( S_, t - 1 );
    weighted_sums_();
    S_.sums_valid_ = true;
  }
  // the jump of the weighted sums, sum_j w_j a_j, and of the slots' traces
  // (brought to step t first); handle() prefetched the slots
  Slot* sl = S_.slot_.data();
  double input = 0.0;
  for ( const Buffers_::Input& in : B_.next_in_ )
  {
    Slot& x = sl[ in.slot ];
    input += x.w * in.amplitude;
    decay_slot_( x, t );
    kernels::add_jump( x.e, x.f, in.amplitude );
  }
  for ( const Buffers_::Input& in : row )
  {
    Slot& x = sl[ in.slot ];
    input += x.w * in.amplitude;
    decay_slot_( x, t );
    kernels::add_jump( x.e, x.f, in.amplitude );
  }
  B_.next_in_.clear();
  row.clear();
  S_.se_ = kernels::trace_step_decay_first( S_.se_, input, V_.kd_ );
  S_.sf_ = kernels::trace_step_decay_first( S_.sf_, input, V_.kr_ );
}

inline STAGE void
seqlearn_wta_neuron::prefetch_input_slots_( const long lag ) const
{
  const Slot* sl = S_.slot_.data();
  for ( const Buffers_::Input& in : B_.next_in_ )
  {
    __builtin_prefetch( sl + in.slot, 1 );
  }
  for ( const Buffers_::Input& in :
    B_.in_rows_[ static_cast< size_t >( nest::kernel().event_delivery_manager.get_modulo( lag ) ) ] )
  {
    __builtin_prefetch( sl + in.slot, 1 );
  }
}

inline STAGE void
seqlearn_wta_neuron::record_slots_( const long t )
{
  if ( P_.recorded_slots_.empty() or t % V_.rec_interval_steps_ != 0 )
  {
    return;
  }
  for ( const long rs : P_.recorded_slots_ )
  {
    Slot& x = S_.slot_[ static_cast< size_t >( rs ) ];
    decay_slot_( x, t );
    B_.slot_samples_.push_back(
      SlotSample { static_cast< double >( t ) * V_.dt_ms_, rs, x.w, kernels::epsp( x.e, x.f ) } );
  }
}

inline STAGE bool
seqlearn_wta_neuron::soft_wta_and_spike_( const long t, const long lag )
{
  // every member holds v_k = exp(u_k - c) of step t with the same shift c
  S_.u_ = S_.u_next_;
  S_.rho_ = kernels::circuit_rho( B_.circuit_v_.data(),
    static_cast< size_t >( P_.circuit_size_ ),
    static_cast< size_t >( P_.circuit_index_ ),
    B_.circuit_v_max_ );
  const double r = P_.r_max_ * S_.rho_;

  bool spiked = false;
  if ( P_.forced_ )
  {
    spiked = std::binary_search( V_.forced_steps_.begin(), V_.forced_steps_.end(), t );
  }
  else
  {
    // one draw per step and non-forced neuron, from its own stream: the same
    // on any thread or rank
    const double draw = P_.vp_draws_ ? V_.rng_->drand() : kernels::next_uniform( S_.draws_ );
    spiked = kernels::spike_decision_libm( draw, kernels::spike_argument( r, V_.dt_ms_ ), P_.spike_law_ );
  }
  if ( spiked )
  {
    set_spiketime( nest::Time::step( t + 1 ) );
    nest::SpikeEvent se;
    nest::kernel().event_delivery_manager.send( *this, se, lag );
  }
  return spiked;
}

inline STAGE void
seqlearn_wta_neuron::learn_( const long t, const bool spiked )
{
  if ( not P_.learning_ )
  {
    return;
  }
  ++S_.n_train_steps_;
  const kernels::Rates rates =
    kernels::rates_of( P_.eta_, P_.variance_tracking_, static_cast< std::uint64_t >( S_.n_train_steps_ ) );
  if ( spiked )
  {
    learn_slots_( t, rates );
  }
  if ( P_.bias_learning_ )
  {
    kernels::bias_update( S_.bias_, S_.bias_S_, S_.bias_Q_, spiked, rates );
  }
}

void
seqlearn_wta_neuron::learn_slots_( const long t, const kernels::Rates& rates )
{
  Slot* sl = S_.slot_.data();
  // w and Y of four slots at a time, Y from the slots brought to step t
  kernels::stdp_gathered(
    S_.S_.data(),
    S_.Q_.data(),
    S_.slot_.size(),
    rates,
    [ this, sl, t ]( const size_t i, const size_t m, double* w, double* y )
    {
      for ( size_t l = 0; l < m; ++l )
      {
        Slot& x = sl[ i + l ];
        decay_slot_( x, t );
        w[ l ] = x.w;
        y[ l ] = kernels::epsp( x.e, x.f );
      }
    },
    [ sl ]( const size_t i, const size_t m, const double* w )
    {
      for ( size_t l = 0; l < m; ++l )
      {
        sl[ i + l ].w = w[ l ];
      }
    } );
  weighted_sums_();  // of step t, after learning
}

inline STAGE void
seqlearn_wta_neuron::record_traces_( const long t )
{
  B_.logger_.record_data( t );
  // the values the multimeter gets, stamped with native step time, at
  // t % interval == 0; next_trace_step_ saves the division per step except
  // after a change of the interval
  if ( not P_.record_traces_ or t < V_.next_trace_step_ )
  {
    return;
  }
  const long r = t == V_.next_trace_step_ ? 0 : t % V_.trace_interval_steps_;
  if ( r == 0 )
  {
    B_.traces_.push_back( TraceSample { static_cast< double >( t ) * V_.dt_ms_, S_.u_, S_.rho_ } );
    if ( B_.traces_.size() < B_.traces_.capacity() )
    {
      __builtin_prefetch( B_.traces_.data() + B_.traces_.size(), 1 );
    }
  }
  V_.next_trace_step_ = t - r + V_.trace_interval_steps_;
}

inline STAGE void
seqlearn_wta_neuron::predict_and_exchange_( const long t, const long lag )
{
  // u(t+1): the jump of this step's spikes enters e and f alike and cancels
  // in Y(t+1), so the decayed sums give it now
  if ( is_reset_step_( t + 1 ) )
  {
    S_.u_next_ = S_.bias_;  // the traces start at 0
  }
  else
  {
    S_.u_next_ = kernels::potential(
      S_.bias_, kernels::trace_decay( S_.se_, V_.kd_ ), kernels::trace_decay( S_.sf_, V_.kr_ ) );
  }
  const double v_max = B_.circuit_v_max_;
  const double shift = kernels::next_circuit_shift( B_.circuit_shift_, v_max );
  const double v_next = kernels::circuit_value( S_.u_next_, shift );
  if ( not( kernels::circuit_in_range( v_max ) and std::isfinite( v_next ) ) )
  {
    throw nest::KernelException( "seqlearn_wta_neuron " + std::to_string( get_node_id() ) + ": potential "
      + std::to_string( S_.u_next_ ) + " at step " + std::to_string( t + 1 )
      + " is out of the soft-max's floating-point range (it moved by more than ~700 within one step)." );
  }
  B_.circuit_shift_ = shift;
  B_.circuit_v_[ static_cast< size_t >( P_.circuit_index_ ) ] = v_next;
  B_.sent_u_[ static_cast< size_t >( lag ) ] = v_next;
}

void
seqlearn_wta_neuron::update( nest::Time const& origin, const long from, const long to )
{
  if ( S_.last_step_ == 0 and P_.circuit_size_ > 1 )
  {
    check_peers_();
  }
  for ( long lag = from; lag < to; ++lag )
  {
    const long t = origin.get_steps() + lag;
    // b.-d. read no slot: they run first, while the slots of this step's
    // inputs (prefetched here) arrive; a. then finds them in cache.  The
    // same values as a. first (a. and b.-d. share no state).
    prefetch_input_slots_( lag );
    const bool spiked = soft_wta_and_spike_( t, lag );
    take_input_( t, lag );
    record_slots_( t );
    learn_( t, spiked );
    record_traces_( t );
    S_.last_step_ = t;
    predict_and_exchange_( t, lag );
  }
  if ( P_.circuit_size_ > 1 )
  {
    nest::InstantaneousRateConnectionEvent ev;
    ev.set_coeffarray( B_.sent_u_ );
    nest::kernel().event_delivery_manager.send_secondary( *this, ev );
  }
}

#undef STAGE

/* ------------------------------------------------------------------ events */

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
  if ( receptor_type >= static_cast< size_t >( P_.circuit_size_ )
    or receptor_type == static_cast< size_t >( P_.circuit_index_ ) )
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
  // Input for the next step waits in next_in_: update() adds w * amplitude
  // to the weighted sums and the jump to the slot's traces.  The slot (one
  // half line: traces and weight) is prefetched here, long before update(),
  // so that the ~650 arriving spikes of a step wait for their scattered
  // slots together, not one after the other; update() prefetches it again
  // (perf: the slot loads of take_input_ took ~14 % of the samples with only
  // update()'s prefetch, ~4 % with only this one, < 1 % with both).  Inputs
  // further ahead wait in a ring-buffer row.
  const nest::Time& stamp = e.get_stamp();
  if ( stamp.get_tics() != B_.stamp_tics_ )
  {
    B_.stamp_tics_ = stamp.get_tics();
    B_.stamp_steps_ = native_step_of_stamp( stamp );
  }
  const long step = B_.stamp_steps_ + e.get_delay_steps();
  if ( step == S_.last_step_ + 1 )
  {
    __builtin_prefetch( S_.slot_.data() + slot, 1 );
    B_.next_in_.push_back( Buffers_::Input { slot, amplitude } );
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
    B_.heard_[ k ] = true;
  }
}

}  // namespace seqlearn
