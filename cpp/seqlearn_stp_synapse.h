/*
 *  seqlearn_stp_synapse.h
 *
 *  Short-term plasticity synapse of the Klampfl & Maass (2013) original code
 *  (docs/model.md section 4): lagged amplitude, drifting U (variant
 *  "original"), the textbook Tsodyks-Markram variant and "off".  The
 *  connection delivers the amplitude A = R*s (times the connection weight,
 *  normally 1) to the receptor port (= slot) of a seqlearn_wta_neuron.
 *
 *  Native spike step of an event: stamp_steps - 1 (a neuron spiking in native
 *  step t sends stamp t+1; input spike_generators get spike time (t+1)*dt).
 */

#ifndef SEQLEARN_STP_SYNAPSE_H
#define SEQLEARN_STP_SYNAPSE_H

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common_synapse_properties.h"
#include "connection.h"
#include "dict_helpers.h"

namespace seqlearn
{

/**
 * Common properties of all seqlearn_stp_synapse connections: the reset times
 * (ms, native step times) at which R = 1 and (textbook variant) s = U.
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
      const double dt = nest::Time::get_resolution().get_ms();
      std::vector< long > steps;
      for ( const double t : times )
      {
        const double s = t / dt;
        const double r = std::round( s );
        if ( not std::isfinite( t ) or t < 0.0 or std::abs( s - r ) > 1e-9 * std::max( 1.0, std::abs( s ) ) )
        {
          throw nest::BadProperty( "reset_times must hold non-negative multiples of the resolution (ms)." );
        }
        steps.push_back( static_cast< long >( r ) );
      }
      std::sort( steps.begin(), steps.end() );
      steps.erase( std::unique( steps.begin(), steps.end() ), steps.end() );
      reset_times_ = times;
      reset_steps_ = steps;
    }
  }

  std::vector< double > reset_times_;  //!< as given, ms
  std::vector< long > reset_steps_;    //!< sorted native steps

  //! What send() computed for the previous synapse: the native step of the
  //! event's stamp, and the two exponentials with their arguments. NEST
  //! keeps one copy of the common properties per thread and synapse model
  //! (ModelManager::connection_models_[tid]), so this memo is the thread's
  //! own, without a thread-local lookup per spike.
  struct ExpMemo
  {
    long stamp_tics = -1;
    long tics_per_step = -1;
    long ts = 0;
    double dt = 0.0;
    double isi = std::numeric_limits< double >::quiet_NaN();
    double D = 0.0;
    double F = 0.0;
    double e_d = 0.0;
    double e_f = 0.0;
  };
  mutable ExpMemo memo_;
};

enum class STPVariant
{
  ORIGINAL,
  OFF,
  TSODYKS_MARKRAM
};

inline STPVariant
stp_variant_from_string( const std::string& s )
{
  if ( s == "original" )
  {
    return STPVariant::ORIGINAL;
  }
  if ( s == "off" )
  {
    return STPVariant::OFF;
  }
  if ( s == "tsodyks_markram" )
  {
    return STPVariant::TSODYKS_MARKRAM;
  }
  throw nest::BadProperty( "stp_variant must be 'original', 'off' or 'tsodyks_markram', got '" + s + "'." );
}

inline std::string
stp_variant_to_string( STPVariant v )
{
  switch ( v )
  {
  case STPVariant::OFF:
    return "off";
  case STPVariant::TSODYKS_MARKRAM:
    return "tsodyks_markram";
  default:
    return "original";
  }
}

/* BeginUserDocs: synapse, short-term plasticity

Short description
+++++++++++++++++

STP synapse of the Klampfl & Maass (2013) original simulation code.

Parameters: weight (multiplies the amplitude, keep 1), U, D (ms), F (ms),
stp_variant; state s, R.  Common property: reset_times (ms).

Transmits
+++++++++

SpikeEvent, DSSpikeEvent

EndUserDocs */

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
    , variant_( STPVariant::ORIGINAL )
    , weight_( 1.0 )
    , U_( 0.5 )
    , D_( 110.0 )
    , F_( 5.0 )
    , s_( 0.5 )
    , R_( 1.0 )
    , last_step_( -1 )
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
  // variant_ first: it fits into the tail padding of the 20-byte base
  // (88 -> 80 bytes per connection; the connections are streamed at every
  // spike, so their size is cache traffic)
  STPVariant variant_;
  double weight_;
  double U_;
  double D_;
  double F_;
  double s_;
  double R_;
  long last_step_;  //!< native step of the last spike (or reset step - 1)
};

template < typename targetidentifierT >
constexpr nest::ConnectionModelProperties seqlearn_stp_synapse< targetidentifierT >::properties;

template < typename targetidentifierT >
inline bool
seqlearn_stp_synapse< targetidentifierT >::send( nest::Event& e, size_t tid, const STPCommonProperties& cp )
{
  // The synapses of one source are sent one after the other with the same
  // event: convert its stamp to a native step once (memo keyed on the stamp
  // and the resolution).
  STPCommonProperties::ExpMemo& m = cp.memo_;
  const nest::Time& stamp = e.get_stamp();
  const long tics_per_step = nest::Time::get_resolution().get_tics();
  if ( stamp.get_tics() != m.stamp_tics or tics_per_step != m.tics_per_step )
  {
    m.stamp_tics = stamp.get_tics();
    m.tics_per_step = tics_per_step;
    m.ts = stamp.get_steps() - 1;
    m.dt = nest::Time::get_resolution().get_ms();
  }
  const long ts = m.ts;

  // lazy reset: the latest reset step r with last < r <= ts
  const auto& rs = cp.reset_steps_;
  auto it = std::upper_bound( rs.begin(), rs.end(), ts );
  if ( it != rs.begin() )
  {
    const long r = *( it - 1 );
    if ( r > last_step_ )
    {
      R_ = 1.0;
      if ( variant_ == STPVariant::TSODYKS_MARKRAM )
      {
        s_ = U_;
      }
      last_step_ = r - 1;
    }
  }

  const double isi = static_cast< double >( ts - last_step_ - 1 ) * m.dt;
  const double A = variant_ == STPVariant::OFF ? 1.0 : R_ * s_;

  e.set_receiver( *get_target( tid ) );
  e.set_weight( weight_ * A );
  e.set_delay_steps( get_delay_steps() );
  e.set_rport( get_rport() );
  e();

  const double eps = DBL_EPSILON;
  if ( variant_ == STPVariant::OFF )
  {
    last_step_ = ts;
    return true;
  }
  // With the per-source draw the synapses of one source also share D, F
  // and the inter-spike interval: reuse the exponentials (same arguments,
  // same bits).
  if ( not( isi == m.isi and D_ == m.D and F_ == m.F ) )
  {
    m.isi = isi;
    m.D = D_;
    m.F = F_;
    m.e_d = std::exp( -isi / ( D_ + eps ) );
    m.e_f = std::exp( -isi / ( F_ + eps ) );
  }
  const double exp_d = m.e_d;
  const double exp_f = m.e_f;
  if ( variant_ == STPVariant::ORIGINAL )
  {
    const double R_new = 1.0 + ( R_ - R_ * s_ - 1.0 ) * exp_d;
    const double s_new = s_ + s_ * ( 1.0 - s_ ) * exp_f;
    R_ = R_new;
    s_ = s_new;
    U_ = s_new;  // the original's aliasing of U and s
  }
  else if ( variant_ == STPVariant::TSODYKS_MARKRAM )
  {
    const double s_new = U_ + s_ * ( 1.0 - U_ ) * exp_f;
    R_ = 1.0 + ( R_ - R_ * s_new - 1.0 ) * exp_d;
    s_ = s_new;
  }
  last_step_ = ts;
  return true;
}

template < typename targetidentifierT >
void
seqlearn_stp_synapse< targetidentifierT >::get_status( Dictionary& d ) const
{
  ConnectionBase::get_status( d );
  d[ nest::names::weight ] = weight_;
  d[ "U" ] = U_;
  d[ "D" ] = D_;
  d[ "F" ] = F_;
  d[ "s" ] = s_;
  d[ "R" ] = R_;
  d[ "last_spike_step" ] = last_step_;
  d[ "stp_variant" ] = stp_variant_to_string( variant_ );
  d[ nest::names::size_of ] = static_cast< long >( sizeof( *this ) );
}

template < typename targetidentifierT >
void
seqlearn_stp_synapse< targetidentifierT >::set_status( const Dictionary& d, nest::ConnectorModel& cm )
{
  ConnectionBase::set_status( d, cm );
  double w = weight_, U = U_, D = D_, F = F_, s = s_, R = R_;
  long last = last_step_;
  STPVariant v = variant_;
  update_double( d, nest::names::weight, w );
  const bool U_given = update_double( d, "U", U );
  update_double( d, "D", D );
  update_double( d, "F", F );
  const bool s_given = update_double( d, "s", s );
  update_double( d, "R", R );
  d.update_integer_value( "last_spike_step", last );
  std::string vs;
  if ( d.update_value( "stp_variant", vs ) )
  {
    v = stp_variant_from_string( vs );
  }
  if ( U_given and not s_given )
  {
    s = U;  // the initial utilisation is U
  }
  if ( not( U >= 0.0 ) or not( s >= 0.0 ) )
  {
    throw nest::BadProperty( "U and s must be >= 0." );
  }
  if ( not( D >= 0.0 ) or not( F >= 0.0 ) )
  {
    throw nest::BadProperty( "D and F must be >= 0 (ms)." );
  }
  if ( not std::isfinite( R ) )
  {
    throw nest::BadProperty( "R must be finite." );
  }
  weight_ = w;
  U_ = U;
  D_ = D;
  F_ = F;
  s_ = s;
  R_ = R;
  last_step_ = last;
  variant_ = v;
}

}  // namespace seqlearn

#endif
