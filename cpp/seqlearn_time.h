/*
 *  seqlearn_time.h
 *
 *  The module's one conversion between times and steps (docs/nest.md, "Time
 *  conventions"): NEST update step t (interval (t, t+1] ms) computes native
 *  step t of the model; an event of native step t carries the stamp t+1.
 *  Times given to the models (reset_times, forced_spikes, intervals) are
 *  native step times t*dt in ms.
 */

#ifndef SEQLEARN_TIME_H
#define SEQLEARN_TIME_H

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "exceptions.h"
#include "nest_time.h"

namespace seqlearn
{

//! The resolution dt in ms.
inline double
resolution_ms()
{
  return nest::Time::get_resolution().get_ms();
}

//! The native step of an event with this stamp (stamp t+1 -> step t).
inline long
native_step_of_stamp( const nest::Time& stamp )
{
  return stamp.get_steps() - 1;
}

//! The NEST time (ms) of an event of native step t: the stamp (t+1)*dt.
inline double
stamp_ms_of_native_step( const long t, const double dt )
{
  return static_cast< double >( t + 1 ) * dt;
}

//! Native step of a time t*dt (ms) given to the models; throws BadProperty
//! naming `what` unless it is a non-negative multiple of the resolution.
inline long
step_of_time( const double ms, const double dt, const std::string& what )
{
  const double s = ms / dt;
  const double r = std::round( s );
  // the upper bound keeps the conversion to long defined
  if ( not std::isfinite( ms ) or ms < 0.0 or not( s < 1e15 )
    or std::abs( s - r ) > 1e-9 * std::max( 1.0, std::abs( s ) ) )
  {
    throw nest::BadProperty(
      what + " must hold non-negative multiples of the resolution (ms), got " + std::to_string( ms ) + "." );
  }
  return static_cast< long >( r );
}

//! Times (ms, native step times) to sorted, distinct steps.
inline std::vector< long >
steps_of_times( const std::vector< double >& times, const double dt, const std::string& what )
{
  std::vector< long > steps;
  steps.reserve( times.size() );
  for ( const double t : times )
  {
    steps.push_back( step_of_time( t, dt, what ) );
  }
  std::sort( steps.begin(), steps.end() );
  steps.erase( std::unique( steps.begin(), steps.end() ), steps.end() );
  return steps;
}

//! Steps of a sampling interval (ms): a positive multiple of the resolution.
inline long
interval_steps( const double interval_ms, const double dt, const std::string& what )
{
  if ( not( interval_ms > 0.0 ) )
  {
    throw nest::BadProperty( what + " must be > 0 (ms) and finite, got " + std::to_string( interval_ms ) + "." );
  }
  return step_of_time( interval_ms, dt, what );
}

}  // namespace seqlearn

#endif
