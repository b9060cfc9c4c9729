/*
 *  seqlearn_stp_synapse.h
 *
 *  Short-term plasticity synapse of the Klampfl & Maass (2013) original code
 *  (docs/model.md section 4, docs/nest.md).
 */

#ifndef SEQLEARN_STP_SYNAPSE_H
#define SEQLEARN_STP_SYNAPSE_H

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common_synapse_properties.h"
#include "connection.h"

#include "dict_helpers.h"
#include "kernels/seqlearn_kernels.h"
#include "seqlearn_parameters.h"
#include "seqlearn_time.h"

namespace seqlearn
{

// clang-format off
/* BeginUserDocs: synapse, short-term plasticity

Short description
+++++++++++++++++

STP synapse of the Klampfl & Maass (2013) original simulation code

Description
+++++++++++

Delivers the amplitude A = R s (times ``weight``, keep 1) of a presynaptic
spike to the receptor port (the slot) of a seqlearn_wta_neuron, which holds
the synaptic weight.  The amplitude is taken *before* this spike's update
(the original's lagged amplitude).  At a spike of native step ts (stamp
ts+1), with isi = (ts - last - 1) dt and eps = DBL_EPSILON:

- ``original``: R' = 1 + (R - R s - 1) exp(-isi/(D+eps)),
  s' = s + s (1 - s) exp(-isi/(F+eps)), U' = s' (the original's aliasing of
  U and s: U drifts);
- ``tsodyks_markram``: s' = U + s (1 - U) exp(-isi/(F+eps)),
  R' = 1 + (R - R s' - 1) exp(-isi/(D+eps));
- ``off``: A = 1, no update.

Resets (common property ``reset_times``, native step times): the latest
reset step r with last < r <= ts is applied lazily at the next spike:
R = 1, s = U, last = r - 1.  The equations are the kernels of
kernels/seqlearn_kernels.h, shared with the native engine.  Transmits
SpikeEvent and DSSpikeEvent (spike_generators connect directly).  Delay:
one resolution step.

Parameters
++++++++++

Defaults and ranges from seqlearn_parameters.h (generated from the model's
parameter table, src/model/params.rs).

================== ======= ============ =============================================================
**Parameter**      **Unit** **Default** **Description**
================== ======= ============ =============================================================
``U``              -       0.5          Utilisation, >= 0; setting U without s also sets s = U
``D``              ms      110          Depression (recovery) time constant, >= 0
``F``              ms      5            Facilitation time constant, >= 0
``stp_variant``    -       "original"   "original", "off" or "tsodyks_markram"
``weight``         -       1            Multiplies the amplitude; keep 1
``reset_times``    ms      []           Common property (SetDefaults): native step times of resets
================== ======= ============ =============================================================

State variables: ``s`` (U), ``R`` (1), ``last_spike_step`` (-1).

Transmits
+++++++++

SpikeEvent, DSSpikeEvent

See also
++++++++

seqlearn_wta_neuron

EndUserDocs */
// clang-format on

/**
 * Common properties of all seqlearn_stp_synapse connections: the reset times
 * (ms, native step times) at which R = 1 and s = U.
 */
class STPCommonProperties : public nest::CommonSynapseProperties
{
public:
  STPCommonProperties()
    : nest::CommonSynapseProperties()
  {
  }

  void
  get_status( Dictionary& d ) const
  {
    nest::CommonSynapseProperties::get_status( d );
    d[ "reset_times" ] = reset_times_;
  }

  void
  set_status( const Dictionary& d, nest::ConnectorModel& cm )
  {
    nest::CommonSynapseProperties::set_status( d, cm );
    std::vector< double > times = reset_times_;
    if ( update_double_vector( d, "reset_times", times ) )
    {
      reset_steps_ = steps_of_times( times, resolution_ms(), "reset_times" );
      reset_times_ = times;
    }
  }

  std::vector< double > reset_times_;  //!< as given, ms
  std::vector< long > reset_steps_;    //!< sorted native steps

  //! What send() computed for the previous synapse: the native step of the
  //! event's stamp, and the STP factors with their arguments.  NEST keeps
  //! one copy of the common properties per thread and synapse model
  //! (ModelManager::connection_models_[tid]), so this memo is the thread's
  //! own, without a thread-local lookup per spike.
  struct Memo
  {
    long stamp_tics = -1;
    long tics_per_step = -1;
    long ts = 0;
    double dt = 0.0;
    double isi = std::numeric_limits< double >::quiet_NaN();
    double D = 0.0;
    double F = 0.0;
    kernels::StpFactors factors { 0.0, 0.0 };
  };
  mutable Memo memo_;
};

inline kernels::StpVariant
stp_variant_of( const std::string& name )
{
  return static_cast< kernels::StpVariant >( choice_index(
    "stp_variant", name, parameters::synapse::stp_variant_names, parameters::synapse::stp_variant_count ) );
}

template < typename targetidentifierT >
class seqlearn_stp_synapse : public nest::Connection< targetidentifierT >
{
public:
  typedef STPCommonProperties CommonPropertiesType;
  typedef nest::Connection< targetidentifierT > ConnectionBase;

  static constexpr nest::ConnectionModelProperties properties = nest::ConnectionModelProperties::HAS_DELAY
    | nest::ConnectionModelProperties::IS_PRIMARY | nest::ConnectionModelProperties::SUPPORTS_HPC
    | nest::ConnectionModelProperties::SUPPORTS_LBL;

  seqlearn_stp_synapse()
    : ConnectionBase()
    , variant_( stp_variant_of( parameters::synapse::stp_variant ) )
    , weight_( parameters::synapse::weight )
    , D_( parameters::synapse::D )
    , F_( parameters::synapse::F )
    , st_( kernels::stp_initial( parameters::synapse::U ) )
  {
  }

  seqlearn_stp_synapse( const seqlearn_stp_synapse& ) = default;
  seqlearn_stp_synapse& operator=( const seqlearn_stp_synapse& ) = default;

  using ConnectionBase::get_delay_steps;
  using ConnectionBase::get_rport;
  using ConnectionBase::get_target;

  void get_status( Dictionary& d ) const;
  void set_status( const Dictionary& d, nest::ConnectorModel& cm );

  bool send( nest::Event& e, size_t tid, const STPCommonProperties& cp );

  class ConnTestDummyNode : public nest::ConnTestDummyNodeBase
  {
  public:
    using nest::ConnTestDummyNodeBase::handles_test_event;
    size_t
    handles_test_event( nest::SpikeEvent&, size_t ) override
    {
      return nest::invalid_port;
    }
    size_t
    handles_test_event( nest::DSSpikeEvent&, size_t ) override
    {
      return nest::invalid_port;
    }
  };

  void
  check_connection( nest::Node& s, nest::Node& t, size_t receptor_type, const CommonPropertiesType& )
  {
    ConnTestDummyNode dummy_target;
    ConnectionBase::check_connection_( dummy_target, s, t, receptor_type );
  }

  void
  set_weight( double w )
  {
    weight_ = w;
  }

private:
  //! The native step of the event's stamp (memoised: the synapses of one
  //! source are sent one after the other with the same event).
  long spike_step_( const nest::Event& e, STPCommonProperties::Memo& m ) const;
  //! Section 6: the latest reset step r with last < r <= ts, applied now.
  void lazy_reset_( long ts, const STPCommonProperties& cp );
  //! The factors exp(-isi/(D+eps)), exp(-isi/(F+eps)), memoised: with the
  //! per-source draw the synapses of one source also share D, F and the
  //! inter-spike interval (same arguments, same bits).
  const kernels::StpFactors& factors_( double isi, STPCommonProperties::Memo& m ) const;

  // variant_ first: it fits into the tail padding of the 20-byte base
  // (88 -> 80 bytes per connection; the connections are streamed at every
  // spike, so their size is cache traffic)
  kernels::StpVariant variant_;
  double weight_;
  double D_;
  double F_;
  kernels::StpState st_;  //!< s, R, U and the native step of the last spike (or reset step - 1)
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties seqlearn_stp_synapse< targetidentifierT >::properties;

template < typename targetidentifierT >
inline long
seqlearn_stp_synapse< targetidentifierT >::spike_step_( const nest::Event& e, STPCommonProperties::Memo& m ) const
{
  const nest::Time& stamp = e.get_stamp();
  const long tics_per_step = nest::Time::get_resolution().get_tics();
  if ( stamp.get_tics() != m.stamp_tics or tics_per_step != m.tics_per_step )
  {
    m.stamp_tics = stamp.get_tics();
    m.tics_per_step = tics_per_step;
    m.ts = native_step_of_stamp( stamp );
    m.dt = resolution_ms();
  }
  return m.ts;
}

template < typename targetidentifierT >
inline void
seqlearn_stp_synapse< targetidentifierT >::lazy_reset_( const long ts, const STPCommonProperties& cp )
{
  const auto& rs = cp.reset_steps_;
  auto it = std::upper_bound( rs.begin(), rs.end(), ts );
  if ( it != rs.begin() and *( it - 1 ) > st_.last )
  {
    kernels::stp_reset( st_, *( it - 1 ) );
  }
}

template < typename targetidentifierT >
inline const kernels::StpFactors&
seqlearn_stp_synapse< targetidentifierT >::factors_( const double isi, STPCommonProperties::Memo& m ) const
{
  if ( not( isi == m.isi and D_ == m.D and F_ == m.F ) )
  {
    m.isi = isi;
    m.D = D_;
    m.F = F_;
    m.factors = kernels::stp_factors( isi, D_, F_ );
  }
  return m.factors;
}

template < typename targetidentifierT >
inline bool
seqlearn_stp_synapse< targetidentifierT >::send( nest::Event& e, size_t tid, const STPCommonProperties& cp )
{
  STPCommonProperties::Memo& m = cp.memo_;
  const long ts = spike_step_( e, m );
  lazy_reset_( ts, cp );

  // the amplitude from the state before this spike's update
  e.set_receiver( *get_target( tid ) );
  e.set_weight( weight_ * kernels::stp_amplitude( st_, variant_ ) );
  e.set_delay_steps( get_delay_steps() );
  e.set_rport( get_rport() );
  e();

  if ( variant_ != kernels::StpVariant::Off )
  {
    kernels::stp_apply( st_, variant_, factors_( kernels::stp_isi( st_, ts, m.dt ), m ) );
  }
  st_.last = ts;
  return true;
}

template < typename targetidentifierT >
void
seqlearn_stp_synapse< targetidentifierT >::get_status( Dictionary& d ) const
{
  ConnectionBase::get_status( d );
  d[ nest::names::weight ] = weight_;
  d[ "U" ] = st_.u;
  d[ "D" ] = D_;
  d[ "F" ] = F_;
  d[ "s" ] = st_.s;
  d[ "R" ] = st_.r;
  d[ "last_spike_step" ] = st_.last;
  d[ "stp_variant" ] = std::string( parameters::synapse::stp_variant_names[ static_cast< size_t >( variant_ ) ] );
  d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
}

template < typename targetidentifierT >
void
seqlearn_stp_synapse< targetidentifierT >::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  ConnectionBase::set_status( d, cm );
  double w = weight_, D = D_, F = F_;
  kernels::StpState st = st_;
  kernels::StpVariant v = variant_;
  update_double( d, nest::names::weight, w );
  const bool U_given = update_double( d, "U", st.u );
  update_double( d, "D", D );
  update_double( d, "F", F );
  const bool s_given = update_double( d, "s", st.s );
  update_double( d, "R", st.r );
  d.update_integer_value( "last_spike_step", st.last );
  std::string vs;
  if ( d.update_value( "stp_variant", vs ) )
  {
    v = stp_variant_of( vs );
  }
  if ( U_given and not s_given )
  {
    st.s = st.u;  // the initial utilisation is U
  }
  check_range( "U", st.u, parameters::synapse::U_range, "" );
  check_range( "s", st.s, parameters::synapse::U_range, "" );
  check_range( "D", D, parameters::synapse::D_range, "ms" );
  check_range( "F", F, parameters::synapse::F_range, "ms" );
  if ( not std::isfinite( st.r ) )
  {
    throw nest::BadProperty( "R must be finite." );
  }
  weight_ = w;
  D_ = D;
  F_ = F;
  st_ = st;
  variant_ = v;
}

}  // namespace seqlearn

#endif
