/*
 *  dict_helpers.h
 *
 *  Lenient readers for NEST 3.10 dictionaries: PyNEST passes Python ints as
 *  long, lists of ints as std::vector<long> and empty lists as EmptyList; the
 *  models accept all of these where a double / vector<double> / vector<long>
 *  is meant.
 */

#ifndef SEQLEARN_DICT_HELPERS_H
#define SEQLEARN_DICT_HELPERS_H

#include <cmath>
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "dictionary.h"
#include "exceptions.h"
#include "seqlearn_parameters.h"

namespace seqlearn
{

inline bool
update_double( const Dictionary& d, const std::string& key, double& out )
{
  if ( not d.known( key ) )
  {
    return false;
  }
  d.mark_as_accessed( key );
  const any_type& v = d.at( key );
  if ( const double* p = std::get_if< double >( &v ) )
  {
    out = *p;
  }
  else if ( const long* q = std::get_if< long >( &v ) )
  {
    out = static_cast< double >( *q );
  }
  else
  {
    throw nest::TypeMismatch( "'" + key + "' must be a number, got " + get_typename( v ) + "." );
  }
  return true;
}

inline bool
update_double_vector( const Dictionary& d, const std::string& key, std::vector< double >& out )
{
  if ( not d.known( key ) )
  {
    return false;
  }
  d.mark_as_accessed( key );
  const any_type& v = d.at( key );
  if ( const auto* p = std::get_if< std::vector< double > >( &v ) )
  {
    out = *p;
  }
  else if ( const auto* q = std::get_if< std::vector< long > >( &v ) )
  {
    out.assign( q->begin(), q->end() );
  }
  else if ( std::holds_alternative< EmptyList >( v ) )
  {
    out.clear();
  }
  else
  {
    throw nest::TypeMismatch( "'" + key + "' must be a list of numbers, got " + get_typename( v ) + "." );
  }
  return true;
}

inline bool
update_long_vector( const Dictionary& d, const std::string& key, std::vector< long >& out )
{
  if ( not d.known( key ) )
  {
    return false;
  }
  d.mark_as_accessed( key );
  const any_type& v = d.at( key );
  if ( const auto* p = std::get_if< std::vector< long > >( &v ) )
  {
    out = *p;
  }
  else if ( const auto* q = std::get_if< std::vector< double > >( &v ) )
  {
    out.clear();
    for ( const double x : *q )
    {
      if ( std::round( x ) != x )
      {
        throw nest::TypeMismatch( "'" + key + "' must be a list of integers." );
      }
      out.push_back( static_cast< long >( x ) );
    }
  }
  else if ( std::holds_alternative< EmptyList >( v ) )
  {
    out.clear();
  }
  else
  {
    throw nest::TypeMismatch( "'" + key + "' must be a list of integers, got " + get_typename( v ) + "." );
  }
  return true;
}

//! The index of name among the count names of a choice parameter; throws
//! BadProperty naming the key and the allowed names.
inline std::size_t
choice_index( const std::string& key, const std::string& name, const char* const* names, const std::size_t count )
{
  std::string allowed;
  for ( std::size_t i = 0; i < count; ++i )
  {
    if ( name == names[ i ] )
    {
      return i;
    }
    allowed += std::string( i == 0 ? "'" : ", '" ) + names[ i ] + "'";
  }
  throw nest::BadProperty( key + " must be one of " + allowed + ", got '" + name + "'." );
}

//! Throws BadProperty naming the key, the allowed range and the value unless
//! v lies in r (seqlearn_parameters.h).
inline void
check_range( const std::string& key, const double v, const parameters::Range& r, const std::string& unit )
{
  const bool ok = std::isfinite( v ) and ( r.lo_open ? v > r.lo : v >= r.lo );
  if ( not ok )
  {
    throw nest::BadProperty( key + " must be " + r.text + ( unit.empty() ? "" : " (" + unit + ")" ) + ", got "
      + std::to_string( v ) + "." );
  }
}

}  // namespace seqlearn

#endif
