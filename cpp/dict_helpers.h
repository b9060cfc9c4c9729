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
#include <string>
#include <variant>
#include <vector>

#include "dictionary.h"
#include "exceptions.h"

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

}  // namespace seqlearn

#endif
