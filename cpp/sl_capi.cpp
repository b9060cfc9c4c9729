/*
 *  sl_capi.cpp
 *
 *  C driver API of seqlearnmodule.so, see sl_capi.h.  Lives in the module so
 *  that it shares the old libstdc++ ABI with the NEST kernel; nothing but C
 *  types crosses its boundary and no exception escapes it.
 */

#include "sl_capi.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "connection_id.h"
#include "dictionary.h"
#include "exceptions.h"
#include "kernel_manager.h"
#include "nest.h"
#include "node_collection.h"
#include "seqlearn_kernels.h"
#include "seqlearn_wta_neuron.h"

namespace
{

thread_local std::string g_last_error;

struct DriverState
{
  bool nest_initialized = false;
  std::vector< long > neurons;  //!< every seqlearn neuron created so far
  bool in_context = false;  //!< between sl_prepare and sl_cleanup
  long spike_recorder = 0;
  long multimeter = 0;
  size_t spikes_taken = 0;  //!< recorder events already handed out (inside a context)
  size_t mm_taken = 0;
  std::vector< long > spike_senders;
  std::vector< double > spike_times;
  std::vector< long > mm_senders;
  std::vector< double > mm_times;
  std::vector< double > mm_u;
  std::vector< double > mm_rho;
  std::vector< double > rec_times;
  std::vector< long > rec_slots;
  std::vector< double > rec_weights;
  std::vector< double > rec_epsps;
  //! the neurons and sample count of the last sl_fetch_trace_block
  std::vector< long > trace_ids;
  size_t trace_samples = 0;
};

DriverState g;

const char* const NEURON_MODEL = "seqlearn_wta_neuron";
const char* const SYNAPSE_MODEL = "seqlearn_stp_synapse";
const char* const PEER_MODEL = "rate_connection_instantaneous";

struct ArgError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

struct StateError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

template < typename F >
int
guarded( const char* where, F&& f )
{
  try
  {
    f();
    g_last_error.clear();
    return SL_OK;
  }
  catch ( const ArgError& e )
  {
    g_last_error = std::string( where ) + ": " + e.what();
    return SL_ERR_ARG;
  }
  catch ( const StateError& e )
  {
    g_last_error = std::string( where ) + ": " + e.what();
    return SL_ERR_STATE;
  }
  catch ( const nest::KernelException& e )
  {
    g_last_error = std::string( where ) + ": NEST " + e.exception_name() + ": " + e.what();
    return SL_ERR_NEST;
  }
  catch ( const std::exception& e )
  {
    g_last_error = std::string( where ) + ": " + e.what();
    return SL_ERR_UNKNOWN;
  }
  catch ( ... )
  {
    g_last_error = std::string( where ) + ": unknown C++ exception";
    return SL_ERR_UNKNOWN;
  }
}

void
require( bool cond, const char* msg )
{
  if ( not cond )
  {
    throw ArgError( msg );
  }
}

// Sets one status entry of a node; `make` builds the value once the pointer
// checks passed (`args_ok` covers the value's own pointers).
template < typename F >
int
set_node_entry( const char* where, long node, const char* key, bool args_ok, F&& make )
{
  return guarded( where,
    [ & ]
    {
      require( key != nullptr and args_ok, "null pointer argument" );
      Dictionary d;
      d[ key ] = make();
      nest::set_node_status( static_cast< size_t >( node ), d );
    } );
}

double
resolution_ms()
{
  return nest::Time::get_resolution().get_ms();
}

nest::NodeCollectionPTR
collection( const long* ids, size_t n )
{
  std::vector< size_t > v;
  v.reserve( n );
  for ( size_t i = 0; i < n; ++i )
  {
    require( ids[ i ] > 0, "node ids are positive" );
    v.push_back( static_cast< size_t >( ids[ i ] ) );
  }
  return nest::make_nodecollection( v );
}

nest::NodeCollectionPTR
collection( long id )
{
  return collection( &id, 1 );
}

std::vector< Dictionary >
one_syn_spec( const Dictionary& d )
{
  return std::vector< Dictionary > { d };
}

double
as_double( const any_type& v, const std::string& key )
{
  if ( const double* p = std::get_if< double >( &v ) )
  {
    return *p;
  }
  if ( const long* q = std::get_if< long >( &v ) )
  {
    return static_cast< double >( *q );
  }
  if ( const bool* b = std::get_if< bool >( &v ) )
  {
    return *b ? 1.0 : 0.0;
  }
  throw ArgError( "status entry '" + key + "' is not a number (" + get_typename( v ) + ")" );
}

std::vector< double >
as_double_vector( const any_type& v, const std::string& key )
{
  if ( const auto* p = std::get_if< std::vector< double > >( &v ) )
  {
    return *p;
  }
  if ( const auto* q = std::get_if< std::vector< long > >( &v ) )
  {
    return std::vector< double >( q->begin(), q->end() );
  }
  if ( std::holds_alternative< EmptyList >( v ) )
  {
    return {};
  }
  throw ArgError( "status entry '" + key + "' is not a list of numbers (" + get_typename( v ) + ")" );
}

std::vector< long >
as_long_vector( const any_type& v, const std::string& key )
{
  if ( const auto* p = std::get_if< std::vector< long > >( &v ) )
  {
    return *p;
  }
  if ( std::holds_alternative< EmptyList >( v ) )
  {
    return {};
  }
  throw ArgError( "status entry '" + key + "' is not a list of integers (" + get_typename( v ) + ")" );
}

const any_type&
status_entry( const Dictionary& d, const std::string& key )
{
  if ( not d.known( key ) )
  {
    throw ArgError( "no status entry '" + key + "'" );
  }
  return d.at( key );
}

template < typename T >
void
drop_front( std::vector< T >& v, size_t k )
{
  v.erase( v.begin(), v.begin() + static_cast< std::ptrdiff_t >( std::min( k, v.size() ) ) );
}

/**
 * Recorders cannot be modified inside a Prepare/Run/Cleanup context.  Outside
 * one, empty the recorder; inside, remember how many events were handed out.
 */
void
consume_recorder( long recorder, size_t total, size_t& taken )
{
  if ( g.in_context )
  {
    taken = total;
  }
  else
  {
    Dictionary clear;
    clear[ "n_events" ] = 0L;
    nest::set_node_status( static_cast< size_t >( recorder ), clear );
    taken = 0;
  }
}

/**
 * The neuron object of a node id, for driver calls that bypass the status
 * dictionaries (they would copy every vector of the neuron's status).
 */
seqlearn::seqlearn_wta_neuron&
wta_neuron( long node )
{
  if ( not g.nest_initialized )
  {
    throw StateError( "no NEST kernel (call sl_init first)" );
  }
  if ( node < 1 or static_cast< size_t >( node ) > nest::kernel().node_manager.size() )
  {
    throw ArgError( "no node with id " + std::to_string( node ) );
  }
  nest::Node* p = nest::kernel().node_manager.get_node_or_proxy( static_cast< size_t >( node ) );
  auto* n = dynamic_cast< seqlearn::seqlearn_wta_neuron* >( p );
  if ( n == nullptr )
  {
    throw ArgError( "node " + std::to_string( node ) + " is not a local " + NEURON_MODEL );
  }
  return *n;
}

void
set_status_on_all_neurons( const Dictionary& d )
{
  for ( const long id : g.neurons )
  {
    nest::set_node_status( static_cast< size_t >( id ), d );
  }
}

}  // namespace

extern "C"
{

  int
  sl_api_version( void )
  {
    return SL_API_VERSION;
  }

  const char*
  sl_last_error( void )
  {
    return g_last_error.c_str();
  }

  int
  sl_init( int threads, long seed )
  {
    return guarded( "sl_init",
      [ & ]
      {
        require( threads >= 1, "threads must be >= 1" );
        require( seed >= 1 and seed < ( 1L << 31 ), "seed must be in [1, 2^31)" );
        if ( not g.nest_initialized )
        {
          static char arg0[] = "seqlearn-nest";
          static char* argv_storage[] = { arg0, nullptr };
          int argc = 1;
          char** argv = argv_storage;
          nest::init_nest( &argc, &argv );
          g.nest_initialized = true;
        }
        else
        {
          nest::reset_kernel();
        }
        g = DriverState { true };
        Dictionary v;
        v[ "verbosity" ] = nest::VerbosityLevel::ERROR;
        try
        {
          nest::set_kernel_status( v );
        }
        catch ( ... )
        {
          // verbosity is cosmetic
        }
        Dictionary d;
        d[ "resolution" ] = 1.0;
        d[ "local_num_threads" ] = static_cast< long >( threads );
        d[ "rng_seed" ] = seed;
        nest::set_kernel_status( d );
      } );
  }

  int
  sl_install_module( const char* path )
  {
    return guarded( "sl_install_module",
      [ & ]
      {
        require( path != nullptr and *path != '\0', "module path is empty" );
        nest::install_module( path );
      } );
  }

  int
  sl_set_neuron_defaults( double r_max,
    double tau_decay,
    double tau_rise,
    double eta,
    int variance_tracking,
    int bias_learning,
    const char* spike_law )
  {
    return guarded( "sl_set_neuron_defaults",
      [ & ]
      {
        require( spike_law != nullptr, "spike_law is null" );
        Dictionary d;
        d[ "r_max" ] = r_max;
        d[ "tau_decay" ] = tau_decay;
        d[ "tau_rise" ] = tau_rise;
        d[ "eta" ] = eta;
        d[ "variance_tracking" ] = variance_tracking != 0;
        d[ "bias_learning" ] = bias_learning != 0;
        d[ "spike_law" ] = std::string( spike_law );
        nest::set_model_defaults( NEURON_MODEL, d );
      } );
  }

  int
  sl_create_neurons( size_t n,
    const long* circuit_size,
    const long* circuit_index,
    const long* n_incoming,
    const double* weights,
    size_t n_weights,
    long* first_id )
  {
    return guarded( "sl_create_neurons",
      [ & ]
      {
        require( n > 0, "n must be > 0" );
        require( circuit_size and circuit_index and n_incoming and first_id, "null pointer argument" );
        size_t total = 0;
        for ( size_t i = 0; i < n; ++i )
        {
          require( n_incoming[ i ] >= 0, "n_incoming must be >= 0" );
          total += static_cast< size_t >( n_incoming[ i ] );
        }
        require( weights == nullptr or n_weights == total, "weights must hold sum(n_incoming) values" );
        nest::NodeCollectionPTR nc = nest::create( NEURON_MODEL, n );
        const long first = static_cast< long >( ( *nc )[ 0 ] );
        size_t off = 0;
        for ( size_t i = 0; i < n; ++i )
        {
          Dictionary d;
          d[ "circuit_size" ] = circuit_size[ i ];
          d[ "circuit_index" ] = circuit_index[ i ];
          d[ "n_incoming" ] = n_incoming[ i ];
          const size_t m = static_cast< size_t >( n_incoming[ i ] );
          if ( weights )
          {
            d[ "weights" ] = std::vector< double >( weights + off, weights + off + m );
          }
          off += m;
          nest::set_node_status( static_cast< size_t >( first ) + i, d );
          g.neurons.push_back( first + static_cast< long >( i ) );
        }
        *first_id = first;
      } );
  }

  int
  sl_connect_circuit( const long* ids, size_t k )
  {
    return guarded( "sl_connect_circuit",
      [ & ]
      {
        require( ids != nullptr or k == 0, "ids is null" );
        if ( k < 2 )
        {
          return;
        }
        std::vector< long > src, tgt;
        std::vector< double > rport;
        for ( size_t a = 0; a < k; ++a )
        {
          for ( size_t b = 0; b < k; ++b )
          {
            if ( a != b )
            {
              src.push_back( ids[ a ] );
              tgt.push_back( ids[ b ] );
              rport.push_back( static_cast< double >( a ) );
            }
          }
        }
        std::vector< std::string > keys { "receptor_type" };
        nest::connect_arrays( src.data(), tgt.data(), nullptr, nullptr, keys, rport.data(), src.size(), PEER_MODEL );
      } );
  }

  int
  sl_create_inputs( size_t n_channels, const size_t* offsets, const double* times, size_t n_times, long* first_id )
  {
    return guarded( "sl_create_inputs",
      [ & ]
      {
        require( n_channels > 0, "n_channels must be > 0" );
        require( offsets and first_id, "null pointer argument" );
        require( times != nullptr or n_times == 0, "times is null" );
        require( offsets[ 0 ] == 0 and offsets[ n_channels ] == n_times, "offsets must run from 0 to n_times" );
        nest::NodeCollectionPTR nc = nest::create( "spike_generator", n_channels );
        const long first = static_cast< long >( ( *nc )[ 0 ] );
        const double dt = resolution_ms();
        for ( size_t c = 0; c < n_channels; ++c )
        {
          require( offsets[ c ] <= offsets[ c + 1 ], "offsets must be non-decreasing" );
          std::vector< double > st;
          st.reserve( offsets[ c + 1 ] - offsets[ c ] );
          for ( size_t i = offsets[ c ]; i < offsets[ c + 1 ]; ++i )
          {
            require( std::isfinite( times[ i ] ) and times[ i ] >= 0.0, "input times must be >= 0" );
            st.push_back( std::round( times[ i ] / dt ) * dt + dt );  // native step t -> stamp t+1
          }
          std::sort( st.begin(), st.end() );
          st.erase( std::unique( st.begin(), st.end() ), st.end() );
          Dictionary d;
          d[ "spike_times" ] = st;
          nest::set_node_status( static_cast< size_t >( first ) + c, d );
        }
        *first_id = first;
      } );
  }

  int
  sl_connect( size_t n,
    const long* sources,
    const long* targets,
    const long* slots,
    const double* U,
    const double* D,
    const double* F,
    const char* variant )
  {
    return guarded( "sl_connect",
      [ & ]
      {
        if ( n == 0 )
        {
          return;
        }
        require( sources and targets and slots and U and D and F and variant, "null pointer argument" );
        Dictionary defaults;
        defaults[ "stp_variant" ] = std::string( variant );
        nest::set_model_defaults( SYNAPSE_MODEL, defaults );
        std::vector< std::string > keys { "receptor_type", "U", "D", "F" };
        std::vector< double > values( 4 * n );
        for ( size_t i = 0; i < n; ++i )
        {
          require( slots[ i ] >= 0, "slots must be >= 0" );
          values[ i ] = static_cast< double >( slots[ i ] );
          values[ n + i ] = U[ i ];
          values[ 2 * n + i ] = D[ i ];
          values[ 3 * n + i ] = F[ i ];
        }
        std::vector< double > delays( n, 1.0 );
        nest::connect_arrays( sources, targets, nullptr, delays.data(), keys, values.data(), n, SYNAPSE_MODEL );
      } );
  }

  int
  sl_set_reset_times( const double* times, size_t n )
  {
    return guarded( "sl_set_reset_times",
      [ & ]
      {
        require( times != nullptr or n == 0, "times is null" );
        std::vector< double > v( times, times + n );
        Dictionary d;
        d[ "reset_times" ] = v;
        set_status_on_all_neurons( d );
        Dictionary nd;
        nd[ "reset_times" ] = v;
        nest::set_model_defaults( NEURON_MODEL, nd );
        Dictionary sd;
        sd[ "reset_times" ] = v;
        nest::set_model_defaults( SYNAPSE_MODEL, sd );
      } );
  }

  int
  sl_set_learning( int on )
  {
    return guarded( "sl_set_learning",
      [ & ]
      {
        Dictionary d;
        d[ "learning" ] = on != 0;
        set_status_on_all_neurons( d );
      } );
  }

  int
  sl_set_forced_spikes( long node, const double* times, size_t n )
  {
    return guarded( "sl_set_forced_spikes",
      [ & ]
      {
        require( times != nullptr or n == 0, "times is null" );
        Dictionary d;
        d[ "forced" ] = true;
        d[ "forced_spikes" ] = std::vector< double >( times, times + n );
        nest::set_node_status( static_cast< size_t >( node ), d );
      } );
  }

  int
  sl_set_recorded_slots( long node, const long* slots, size_t n, double interval )
  {
    return guarded( "sl_set_recorded_slots",
      [ & ]
      {
        require( slots != nullptr or n == 0, "slots is null" );
        Dictionary d;
        d[ "recorded_slots" ] = std::vector< long >( slots, slots + n );
        d[ "slot_recording_interval" ] = interval;
        nest::set_node_status( static_cast< size_t >( node ), d );
      } );
  }

  int
  sl_record_spikes( long* recorder_id )
  {
    return guarded( "sl_record_spikes",
      [ & ]
      {
        require( recorder_id != nullptr, "null pointer argument" );
        if ( g.spike_recorder != 0 )
        {
          throw StateError( "a spike recorder exists already" );
        }
        if ( g.neurons.empty() )
        {
          throw StateError( "no neurons to record from" );
        }
        nest::NodeCollectionPTR sr = nest::create( "spike_recorder", 1 );
        Dictionary conn;
        conn[ "rule" ] = std::string( "all_to_all" );
        Dictionary syn;
        syn[ "synapse_model" ] = std::string( "static_synapse" );
        nest::connect( collection( g.neurons.data(), g.neurons.size() ), sr, conn, one_syn_spec( syn ) );
        g.spike_recorder = static_cast< long >( ( *sr )[ 0 ] );
        *recorder_id = g.spike_recorder;
      } );
  }

  int
  sl_record_multimeter( const long* ids, size_t n, double interval, long* multimeter_id )
  {
    return guarded( "sl_record_multimeter",
      [ & ]
      {
        require( ids != nullptr and n > 0 and multimeter_id != nullptr, "need at least one neuron id" );
        if ( g.multimeter != 0 )
        {
          throw StateError( "a multimeter exists already" );
        }
        nest::NodeCollectionPTR mm = nest::create( "multimeter", 1 );
        Dictionary p;
        p[ "record_from" ] = std::vector< std::string > { "u", "rho" };
        p[ "interval" ] = interval;
        nest::set_node_status( ( *mm )[ 0 ], p );
        Dictionary conn;
        conn[ "rule" ] = std::string( "all_to_all" );
        Dictionary syn;
        syn[ "synapse_model" ] = std::string( "static_synapse" );
        nest::connect( mm, collection( ids, n ), conn, one_syn_spec( syn ) );
        g.multimeter = static_cast< long >( ( *mm )[ 0 ] );
        *multimeter_id = g.multimeter;
      } );
  }

  int
  sl_prepare( void )
  {
    return guarded( "sl_prepare",
      []
      {
        nest::prepare();
        g.in_context = true;
      } );
  }

  int
  sl_run( double ms )
  {
    return guarded( "sl_run",
      [ & ]
      {
        require( std::isfinite( ms ) and ms >= 0.0, "run time must be >= 0" );
        nest::run( ms );
      } );
  }

  int
  sl_cleanup( void )
  {
    return guarded( "sl_cleanup",
      []
      {
        g.in_context = false;
        nest::cleanup();
      } );
  }

  int
  sl_kernel_time( double* ms )
  {
    return guarded( "sl_kernel_time",
      [ & ]
      {
        require( ms != nullptr, "null pointer argument" );
        Dictionary d = nest::get_kernel_status();
        *ms = as_double( status_entry( d, "biological_time" ), "biological_time" );
      } );
  }

  int
  sl_fetch_spikes( size_t* n )
  {
    return guarded( "sl_fetch_spikes",
      [ & ]
      {
        require( n != nullptr, "null pointer argument" );
        if ( g.spike_recorder == 0 )
        {
          throw StateError( "no spike recorder (call sl_record_spikes first)" );
        }
        Dictionary st = nest::get_node_status( static_cast< size_t >( g.spike_recorder ) );
        Dictionary ev = std::get< Dictionary >( status_entry( st, "events" ) );
        g.spike_senders = as_long_vector( status_entry( ev, "senders" ), "senders" );
        g.spike_times = as_double_vector( status_entry( ev, "times" ), "times" );
        if ( g.spike_senders.size() != g.spike_times.size() )
        {
          throw StateError( "recorder returned senders and times of different length" );
        }
        const size_t total = g.spike_senders.size();
        drop_front( g.spike_senders, g.spikes_taken );
        drop_front( g.spike_times, g.spikes_taken );
        const double dt = resolution_ms();
        for ( double& t : g.spike_times )
        {
          t -= dt;  // stamp (t+1)*dt -> native step time t*dt
        }
        consume_recorder( g.spike_recorder, total, g.spikes_taken );
        *n = g.spike_senders.size();
      } );
  }

  int
  sl_copy_spikes( long* senders, double* times, size_t cap )
  {
    return guarded( "sl_copy_spikes",
      [ & ]
      {
        require( cap >= g.spike_senders.size(), "buffer too small" );
        require( senders and times, "null pointer argument" );
        std::copy( g.spike_senders.begin(), g.spike_senders.end(), senders );
        std::copy( g.spike_times.begin(), g.spike_times.end(), times );
      } );
  }

  int
  sl_fetch_multimeter( size_t* n )
  {
    return guarded( "sl_fetch_multimeter",
      [ & ]
      {
        require( n != nullptr, "null pointer argument" );
        if ( g.multimeter == 0 )
        {
          throw StateError( "no multimeter (call sl_record_multimeter first)" );
        }
        Dictionary st = nest::get_node_status( static_cast< size_t >( g.multimeter ) );
        Dictionary ev = std::get< Dictionary >( status_entry( st, "events" ) );
        g.mm_senders = as_long_vector( status_entry( ev, "senders" ), "senders" );
        g.mm_times = as_double_vector( status_entry( ev, "times" ), "times" );
        g.mm_u = ev.known( "u" ) ? as_double_vector( ev.at( "u" ), "u" ) : std::vector< double >();
        g.mm_rho = ev.known( "rho" ) ? as_double_vector( ev.at( "rho" ), "rho" ) : std::vector< double >();
        const size_t m = g.mm_senders.size();
        if ( g.mm_times.size() != m or g.mm_u.size() != m or g.mm_rho.size() != m )
        {
          throw StateError( "multimeter returned columns of different length" );
        }
        drop_front( g.mm_senders, g.mm_taken );
        drop_front( g.mm_times, g.mm_taken );
        drop_front( g.mm_u, g.mm_taken );
        drop_front( g.mm_rho, g.mm_taken );
        const double dt = resolution_ms();
        for ( double& t : g.mm_times )
        {
          t -= dt;
        }
        consume_recorder( g.multimeter, m, g.mm_taken );
        *n = g.mm_senders.size();
      } );
  }

  int
  sl_copy_multimeter( long* senders, double* times, double* u, double* rho, size_t cap )
  {
    return guarded( "sl_copy_multimeter",
      [ & ]
      {
        require( cap >= g.mm_senders.size(), "buffer too small" );
        require( senders and times and u and rho, "null pointer argument" );
        std::copy( g.mm_senders.begin(), g.mm_senders.end(), senders );
        std::copy( g.mm_times.begin(), g.mm_times.end(), times );
        std::copy( g.mm_u.begin(), g.mm_u.end(), u );
        std::copy( g.mm_rho.begin(), g.mm_rho.end(), rho );
      } );
  }

  int
  sl_fetch_slot_recording( long node, size_t* n )
  {
    return guarded( "sl_fetch_slot_recording",
      [ & ]
      {
        require( n != nullptr, "null pointer argument" );
        Dictionary st = nest::get_node_status( static_cast< size_t >( node ) );
        Dictionary rec = std::get< Dictionary >( status_entry( st, "slot_recording" ) );
        g.rec_times = as_double_vector( status_entry( rec, "times" ), "times" );
        g.rec_slots = as_long_vector( status_entry( rec, "slots" ), "slots" );
        g.rec_weights = as_double_vector( status_entry( rec, "weights" ), "weights" );
        g.rec_epsps = as_double_vector( status_entry( rec, "epsps" ), "epsps" );
        Dictionary clear;
        clear[ "clear_slot_recording" ] = true;
        nest::set_node_status( static_cast< size_t >( node ), clear );
        *n = g.rec_times.size();
      } );
  }

  int
  sl_copy_slot_recording( double* times, long* slots, double* weights, double* epsps, size_t cap )
  {
    return guarded( "sl_copy_slot_recording",
      [ & ]
      {
        require( cap >= g.rec_times.size(), "buffer too small" );
        require( times and slots and weights and epsps, "null pointer argument" );
        std::copy( g.rec_times.begin(), g.rec_times.end(), times );
        std::copy( g.rec_slots.begin(), g.rec_slots.end(), slots );
        std::copy( g.rec_weights.begin(), g.rec_weights.end(), weights );
        std::copy( g.rec_epsps.begin(), g.rec_epsps.end(), epsps );
      } );
  }

  int
  sl_set_trace_recording( const long* ids, size_t n, int on, double interval )
  {
    return guarded( "sl_set_trace_recording",
      [ & ]
      {
        require( ids != nullptr or n == 0, "ids is null" );
        std::vector< seqlearn::seqlearn_wta_neuron* > nodes;
        nodes.reserve( n );
        for ( size_t i = 0; i < n; ++i )
        {
          nodes.push_back( &wta_neuron( ids[ i ] ) );
        }
        // the interval check is the same for every node: if the first one
        // throws, none has changed
        for ( seqlearn::seqlearn_wta_neuron* p : nodes )
        {
          p->set_trace_recording( on != 0, interval );
        }
      } );
  }

  int
  sl_fetch_trace_block( const long* ids, size_t n, size_t* n_samples )
  {
    return guarded( "sl_fetch_trace_block",
      [ & ]
      {
        require( ids != nullptr or n == 0, "ids is null" );
        require( n_samples != nullptr, "null pointer argument" );
        g.trace_ids.clear();
        g.trace_samples = 0;
        if ( n == 0 )
        {
          *n_samples = 0;
          return;
        }
        const seqlearn::seqlearn_wta_neuron& first = wta_neuron( ids[ 0 ] );
        const size_t count = first.n_trace_samples();
        for ( size_t k = 1; k < n; ++k )
        {
          const seqlearn::seqlearn_wta_neuron& other = wta_neuron( ids[ k ] );
          bool same = other.n_trace_samples() == count;
          for ( size_t i = 0; same and i < count; ++i )
          {
            same = other.trace_sample_time( i ) == first.trace_sample_time( i );
          }
          if ( not same )
          {
            throw ArgError( "node " + std::to_string( ids[ k ] ) + " recorded other steps than node "
              + std::to_string( ids[ 0 ] ) + ": take their traces in separate blocks" );
          }
        }
        g.trace_ids.assign( ids, ids + n );
        g.trace_samples = count;
        *n_samples = count;
      } );
  }

  int
  sl_copy_trace_block( double* times, double* u, double* rho, size_t n_samples, size_t n_values )
  {
    return guarded( "sl_copy_trace_block",
      [ & ]
      {
        const size_t n = g.trace_ids.size();
        require( n_samples == g.trace_samples, "n_samples differs from sl_fetch_trace_block's" );
        require( n_values == n_samples * n, "u and rho must hold n_samples values per neuron" );
        require( ( times and u and rho ) or n_values == 0, "null pointer argument" );
        std::vector< seqlearn::seqlearn_wta_neuron* > nodes;
        nodes.reserve( n );
        for ( const long id : g.trace_ids )
        {
          nodes.push_back( &wta_neuron( id ) );
          require( nodes.back()->n_trace_samples() == n_samples, "the recordings changed since sl_fetch_trace_block" );
        }
        // sample-major: sequential writes, one read stream per neuron (by
        // neuron, every write of the block would touch another cache line)
        for ( size_t i = 0; i < n_samples; ++i )
        {
          times[ i ] = nodes.front()->trace_sample_time( i );
          for ( size_t k = 0; k < n; ++k )
          {
            u[ i * n + k ] = nodes[ k ]->trace_sample_u( i );
            rho[ i * n + k ] = nodes[ k ]->trace_sample_rho( i );
          }
        }
        for ( seqlearn::seqlearn_wta_neuron* p : nodes )
        {
          p->clear_trace_samples();
        }
        g.trace_ids.clear();
        g.trace_samples = 0;
      } );
  }

  int
  sl_get_vector( long node, const char* key, double* out, size_t cap, size_t* n )
  {
    return guarded( "sl_get_vector",
      [ & ]
      {
        require( key and n, "null pointer argument" );
        Dictionary st = nest::get_node_status( static_cast< size_t >( node ) );
        const std::vector< double > v = as_double_vector( status_entry( st, key ), key );
        *n = v.size();
        if ( out )
        {
          require( cap >= v.size(), "buffer too small" );
          std::copy( v.begin(), v.end(), out );
        }
      } );
  }

  int
  sl_kernel_selftest( size_t n, double* path_diff, double* ref_diff, int* simd )
  {
    return guarded( "sl_kernel_selftest",
      [ & ]
      {
        require( path_diff and ref_diff and simd, "null pointer argument" );
        require( n > 0, "need at least one slot" );
        namespace k = seqlearn::kernels;
        std::mt19937_64 gen( 12345 );
        std::uniform_real_distribution< double > uni( 0.0, 1.0 );
        double dpath = 0.0;
        double dref = 0.0;
        for ( const bool vt : { true, false } )
        {
          std::vector< double > w( n ), s( n ), q( n ), y( n );
          for ( size_t i = 0; i < n; ++i )
          {
            // learned weights are log-probabilities; every 37th slot is
            // beyond the polynomial's range, to take the fallback
            w[ i ] = i % 37 == 5 ? -750.0 : -8.0 + 9.0 * uni( gen );
            s[ i ] = -8.0 + 9.0 * uni( gen );
            q[ i ] = s[ i ] * s[ i ] + 2.0 * uni( gen );
            y[ i ] = 2.0 * uni( gen );
          }
          const k::Rates rates { 0.05, 0.05 / 17.0, vt };
          std::vector< double > w1 = w, s1 = s, q1 = q, w2 = w, s2 = s, q2 = q;
          k::update( w1.data(), s1.data(), q1.data(), y.data(), n, rates, true );
          k::update( w2.data(), s2.data(), q2.data(), y.data(), n, rates, false );
          for ( size_t i = 0; i < n; ++i )
          {
            dpath = std::max(
              { dpath, std::abs( w1[ i ] - w2[ i ] ), std::abs( s1[ i ] - s2[ i ] ), std::abs( q1[ i ] - q2[ i ] ) } );
            // docs/model.md section 3 with libm
            const double rate = vt ? 0.05 * ( q[ i ] - s[ i ] * s[ i ] ) / ( std::exp( -s[ i ] ) + 1.0 ) : 0.05 / 17.0;
            const double p = std::exp( w[ i ] );
            const double wn = w[ i ] + rate * ( y[ i ] - p ) / std::max( p, rate );
            const double sn = vt ? s[ i ] + rate * ( wn - s[ i ] ) : s[ i ];
            const double qn = vt ? q[ i ] + rate * ( wn * wn - q[ i ] ) : q[ i ];
            auto rel = []( double a, double b ) { return std::abs( a - b ) / std::max( 1.0, std::abs( b ) ); };
            dref = std::max( { dref, rel( w1[ i ], wn ), rel( s1[ i ], sn ), rel( q1[ i ], qn ) } );
          }
        }
        *path_diff = dpath;
        *ref_diff = dref;
        *simd = k::has_avx2_fma() ? 1 : 0;
      } );
  }

  int
  sl_get_scalar( long node, const char* key, double* out )
  {
    return guarded( "sl_get_scalar",
      [ & ]
      {
        require( key and out, "null pointer argument" );
        Dictionary st = nest::get_node_status( static_cast< size_t >( node ) );
        *out = as_double( status_entry( st, key ), key );
      } );
  }

  int
  sl_set_vector( long node, const char* key, const double* values, size_t n )
  {
    return set_node_entry( "sl_set_vector", node, key, values != nullptr or n == 0,
      [ & ] { return std::vector< double >( values, values + n ); } );
  }

  int
  sl_set_double( long node, const char* key, double value )
  {
    return set_node_entry( "sl_set_double", node, key, true, [ & ] { return value; } );
  }

  int
  sl_set_long( long node, const char* key, long value )
  {
    return set_node_entry( "sl_set_long", node, key, true, [ & ] { return value; } );
  }

  int
  sl_set_bool( long node, const char* key, int value )
  {
    return set_node_entry( "sl_set_bool", node, key, true, [ & ] { return value != 0; } );
  }

  int
  sl_set_string( long node, const char* key, const char* value )
  {
    return set_node_entry( "sl_set_string", node, key, value != nullptr, [ & ] { return std::string( value ); } );
  }

  int
  sl_get_stp_state( size_t n, const long* sources, const long* targets, double* s, double* R, double* U )
  {
    return guarded( "sl_get_stp_state",
      [ & ]
      {
        require( n == 0 or ( sources and targets and s and R and U ), "null pointer argument" );
        for ( size_t i = 0; i < n; ++i )
        {
          Dictionary q;
          q[ "source" ] = collection( sources[ i ] );
          q[ "target" ] = collection( targets[ i ] );
          q[ "synapse_model" ] = std::string( SYNAPSE_MODEL );
          const std::deque< nest::ConnectionID > conns = nest::get_connections( q );
          if ( conns.empty() )
          {
            throw ArgError(
              "no seqlearn_stp_synapse " + std::to_string( sources[ i ] ) + " -> " + std::to_string( targets[ i ] ) );
          }
          const std::vector< Dictionary > st = nest::get_connection_status( std::deque< nest::ConnectionID > { conns.front() } );
          s[ i ] = as_double( status_entry( st.at( 0 ), "s" ), "s" );
          R[ i ] = as_double( status_entry( st.at( 0 ), "R" ), "R" );
          U[ i ] = as_double( status_entry( st.at( 0 ), "U" ), "U" );
        }
      } );
  }

}  // extern "C"
