// bridge.cc -- see bridge.h.  New libstdc++ ABI; talks to seqlearnmodule.so
// only through the C functions declared in sl_capi.h.
#include "seqlearn-nest/cpp/bridge.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqlearn-nest/cpp/sl_capi.h"

namespace seqlearn_bridge
{
namespace
{

struct Api
{
  bool loaded = false;
  std::string module_path;
  decltype( &::sl_api_version ) api_version = nullptr;
  decltype( &::sl_last_error ) last_error = nullptr;
  decltype( &::sl_init ) init = nullptr;
  decltype( &::sl_install_module ) install_module = nullptr;
  decltype( &::sl_set_neuron_defaults ) set_neuron_defaults = nullptr;
  decltype( &::sl_create_neurons ) create_neurons = nullptr;
  decltype( &::sl_connect_circuit ) connect_circuit = nullptr;
  decltype( &::sl_create_inputs ) create_inputs = nullptr;
  decltype( &::sl_connect ) connect = nullptr;
  decltype( &::sl_set_reset_times ) set_reset_times = nullptr;
  decltype( &::sl_set_learning ) set_learning = nullptr;
  decltype( &::sl_set_forced_spikes ) set_forced_spikes = nullptr;
  decltype( &::sl_set_recorded_slots ) set_recorded_slots = nullptr;
  decltype( &::sl_record_spikes ) record_spikes = nullptr;
  decltype( &::sl_record_multimeter ) record_multimeter = nullptr;
  decltype( &::sl_prepare ) prepare = nullptr;
  decltype( &::sl_run ) run = nullptr;
  decltype( &::sl_cleanup ) cleanup = nullptr;
  decltype( &::sl_kernel_time ) kernel_time = nullptr;
  decltype( &::sl_fetch_spikes ) fetch_spikes = nullptr;
  decltype( &::sl_copy_spikes ) copy_spikes = nullptr;
  decltype( &::sl_fetch_multimeter ) fetch_multimeter = nullptr;
  decltype( &::sl_copy_multimeter ) copy_multimeter = nullptr;
  decltype( &::sl_fetch_slot_recording ) fetch_slot_recording = nullptr;
  decltype( &::sl_copy_slot_recording ) copy_slot_recording = nullptr;
  decltype( &::sl_set_trace_recording ) set_trace_recording = nullptr;
  decltype( &::sl_fetch_trace_block ) fetch_trace_block = nullptr;
  decltype( &::sl_copy_trace_block ) copy_trace_block = nullptr;
  decltype( &::sl_get_vector ) get_vector = nullptr;
  decltype( &::sl_get_scalar ) get_scalar = nullptr;
  decltype( &::sl_kernel_selftest ) kernel_selftest = nullptr;
  decltype( &::sl_set_vector ) set_vector = nullptr;
  decltype( &::sl_set_double ) set_double = nullptr;
  decltype( &::sl_set_long ) set_long = nullptr;
  decltype( &::sl_set_bool ) set_bool = nullptr;
  decltype( &::sl_set_string ) set_string = nullptr;
  decltype( &::sl_get_stp_state ) get_stp_state = nullptr;
};

Api g_api;
std::mutex g_load_mutex;

std::string
dl_error()
{
  const char* e = dlerror();
  return e ? std::string( e ) : std::string( "unknown dlopen error" );
}

template < typename F >
void
resolve( void* handle, const char* name, F& out )
{
  dlerror();
  void* sym = dlsym( handle, name );
  if ( sym == nullptr )
  {
    throw std::runtime_error( std::string( "symbol " ) + name + " not found in the seqlearn module: " + dl_error() );
  }
  out = reinterpret_cast< F >( sym );
}

const Api&
api()
{
  if ( not g_api.loaded )
  {
    throw std::runtime_error( "the NEST kernel and the seqlearn module are not loaded (call load first)" );
  }
  return g_api;
}

void
check( int rc )
{
  if ( rc != SL_OK )
  {
    std::string msg = g_api.last_error ? std::string( g_api.last_error() ) : std::string();
    if ( msg.empty() )
    {
      msg = "error code " + std::to_string( rc );
    }
    throw std::runtime_error( msg );
  }
}

template < typename A, typename B >
void
same_len( const A& a, const B& b, const char* what )
{
  if ( a.size() != b.size() )
  {
    throw std::runtime_error( std::string( what ) + ": slices differ in length" );
  }
}

const long*
lp( rust::Slice< const std::int64_t > s )
{
  static_assert( sizeof( long ) == sizeof( std::int64_t ), "long must be 64 bit" );
  return reinterpret_cast< const long* >( s.data() );
}

long*
lp( rust::Slice< std::int64_t > s )
{
  return reinterpret_cast< long* >( s.data() );
}

}  // namespace

void
load( rust::Str libpython, rust::Str kernel, rust::Str module )
{
  std::lock_guard< std::mutex > lock( g_load_mutex );
  const std::string module_path( module );
  if ( g_api.loaded )
  {
    if ( g_api.module_path != module_path )
    {
      throw std::runtime_error( "a different seqlearn module is loaded already: " + g_api.module_path );
    }
    return;
  }

  // libgomp reads this when the kernel is loaded; the active default makes
  // idle threads spin and ruins multi-threaded runs on small machines.
  setenv( "OMP_WAIT_POLICY", "passive", 0 );

  const std::string py( libpython );
  void* hpy = dlopen( py.c_str(), RTLD_NOW | RTLD_GLOBAL );
  if ( hpy == nullptr )
  {
    throw std::runtime_error( "cannot load libpython '" + py + "': " + dl_error() );
  }
  using IsInit = int ( * )();
  using InitEx = void ( * )( int );
  IsInit is_init = nullptr;
  InitEx init_ex = nullptr;
  dlerror();
  is_init = reinterpret_cast< IsInit >( dlsym( hpy, "Py_IsInitialized" ) );
  init_ex = reinterpret_cast< InitEx >( dlsym( hpy, "Py_InitializeEx" ) );
  if ( is_init == nullptr or init_ex == nullptr )
  {
    throw std::runtime_error( "'" + py + "' does not look like libpython (Py_InitializeEx missing)" );
  }
  if ( not is_init() )
  {
    init_ex( 0 );
  }

  const std::string kp( kernel );
  if ( dlopen( kp.c_str(), RTLD_NOW | RTLD_GLOBAL ) == nullptr )
  {
    throw std::runtime_error( "cannot load the NEST kernel '" + kp + "': " + dl_error() );
  }

  void* hm = dlopen( module_path.c_str(), RTLD_NOW | RTLD_GLOBAL );
  if ( hm == nullptr )
  {
    throw std::runtime_error( "cannot load the seqlearn module '" + module_path + "': " + dl_error() );
  }

  Api a;
  resolve( hm, "sl_api_version", a.api_version );
  resolve( hm, "sl_last_error", a.last_error );
  resolve( hm, "sl_init", a.init );
  resolve( hm, "sl_install_module", a.install_module );
  resolve( hm, "sl_set_neuron_defaults", a.set_neuron_defaults );
  resolve( hm, "sl_create_neurons", a.create_neurons );
  resolve( hm, "sl_connect_circuit", a.connect_circuit );
  resolve( hm, "sl_create_inputs", a.create_inputs );
  resolve( hm, "sl_connect", a.connect );
  resolve( hm, "sl_set_reset_times", a.set_reset_times );
  resolve( hm, "sl_set_learning", a.set_learning );
  resolve( hm, "sl_set_forced_spikes", a.set_forced_spikes );
  resolve( hm, "sl_set_recorded_slots", a.set_recorded_slots );
  resolve( hm, "sl_record_spikes", a.record_spikes );
  resolve( hm, "sl_record_multimeter", a.record_multimeter );
  resolve( hm, "sl_prepare", a.prepare );
  resolve( hm, "sl_run", a.run );
  resolve( hm, "sl_cleanup", a.cleanup );
  resolve( hm, "sl_kernel_time", a.kernel_time );
  resolve( hm, "sl_fetch_spikes", a.fetch_spikes );
  resolve( hm, "sl_copy_spikes", a.copy_spikes );
  resolve( hm, "sl_fetch_multimeter", a.fetch_multimeter );
  resolve( hm, "sl_copy_multimeter", a.copy_multimeter );
  resolve( hm, "sl_fetch_slot_recording", a.fetch_slot_recording );
  resolve( hm, "sl_copy_slot_recording", a.copy_slot_recording );
  resolve( hm, "sl_set_trace_recording", a.set_trace_recording );
  resolve( hm, "sl_fetch_trace_block", a.fetch_trace_block );
  resolve( hm, "sl_copy_trace_block", a.copy_trace_block );
  resolve( hm, "sl_get_vector", a.get_vector );
  resolve( hm, "sl_get_scalar", a.get_scalar );
  resolve( hm, "sl_kernel_selftest", a.kernel_selftest );
  resolve( hm, "sl_set_vector", a.set_vector );
  resolve( hm, "sl_set_double", a.set_double );
  resolve( hm, "sl_set_long", a.set_long );
  resolve( hm, "sl_set_bool", a.set_bool );
  resolve( hm, "sl_set_string", a.set_string );
  resolve( hm, "sl_get_stp_state", a.get_stp_state );
  if ( a.api_version() != SL_API_VERSION )
  {
    throw std::runtime_error( "seqlearn module '" + module_path + "' has C API version "
      + std::to_string( a.api_version() ) + ", expected " + std::to_string( SL_API_VERSION ) + " (rebuild it)" );
  }
  a.module_path = module_path;
  a.loaded = true;
  g_api = a;
}

bool
is_loaded()
{
  return g_api.loaded;
}

rust::String
loaded_module_path()
{
  return rust::String( g_api.module_path );
}

void
api_init( std::int32_t threads, std::int64_t seed )
{
  check( api().init( threads, seed ) );
}

void
install_module( rust::Str path )
{
  const std::string p( path );
  check( api().install_module( p.c_str() ) );
}

void
set_neuron_defaults( double r_max,
  double tau_decay,
  double tau_rise,
  double eta,
  bool variance_tracking,
  bool bias_learning,
  rust::Str spike_law )
{
  const std::string law( spike_law );
  check( api().set_neuron_defaults(
    r_max, tau_decay, tau_rise, eta, variance_tracking ? 1 : 0, bias_learning ? 1 : 0, law.c_str() ) );
}

std::int64_t
create_neurons( rust::Slice< const std::int64_t > circuit_size,
  rust::Slice< const std::int64_t > circuit_index,
  rust::Slice< const std::int64_t > n_incoming,
  rust::Slice< const double > weights )
{
  same_len( circuit_size, circuit_index, "create_neurons" );
  same_len( circuit_size, n_incoming, "create_neurons" );
  long first = 0;
  check( api().create_neurons( circuit_size.size(),
    lp( circuit_size ),
    lp( circuit_index ),
    lp( n_incoming ),
    weights.empty() ? nullptr : weights.data(),
    weights.size(),
    &first ) );
  return first;
}

void
connect_circuit( rust::Slice< const std::int64_t > ids )
{
  check( api().connect_circuit( lp( ids ), ids.size() ) );
}

std::int64_t
create_inputs( rust::Slice< const std::size_t > offsets, rust::Slice< const double > times )
{
  if ( offsets.size() < 2 )
  {
    throw std::runtime_error( "create_inputs: need at least one channel" );
  }
  long first = 0;
  check( api().create_inputs( offsets.size() - 1, offsets.data(), times.data(), times.size(), &first ) );
  return first;
}

void
connect( rust::Slice< const std::int64_t > sources,
  rust::Slice< const std::int64_t > targets,
  rust::Slice< const std::int64_t > slots,
  rust::Slice< const double > u,
  rust::Slice< const double > d,
  rust::Slice< const double > f,
  rust::Str variant )
{
  same_len( sources, targets, "connect" );
  same_len( sources, slots, "connect" );
  same_len( sources, u, "connect" );
  same_len( sources, d, "connect" );
  same_len( sources, f, "connect" );
  const std::string v( variant );
  check( api().connect(
    sources.size(), lp( sources ), lp( targets ), lp( slots ), u.data(), d.data(), f.data(), v.c_str() ) );
}

void
set_reset_times( rust::Slice< const double > times )
{
  check( api().set_reset_times( times.data(), times.size() ) );
}

void
set_learning( bool on )
{
  check( api().set_learning( on ? 1 : 0 ) );
}

void
set_forced_spikes( std::int64_t node, rust::Slice< const double > times )
{
  check( api().set_forced_spikes( node, times.data(), times.size() ) );
}

void
set_recorded_slots( std::int64_t node, rust::Slice< const std::int64_t > slots, double interval )
{
  check( api().set_recorded_slots( node, lp( slots ), slots.size(), interval ) );
}

std::int64_t
record_spikes()
{
  long id = 0;
  check( api().record_spikes( &id ) );
  return id;
}

std::int64_t
record_multimeter( rust::Slice< const std::int64_t > ids, double interval )
{
  long id = 0;
  check( api().record_multimeter( lp( ids ), ids.size(), interval, &id ) );
  return id;
}

void
prepare()
{
  check( api().prepare() );
}

void
run( double ms )
{
  check( api().run( ms ) );
}

void
cleanup()
{
  check( api().cleanup() );
}

double
kernel_time()
{
  double t = 0.0;
  check( api().kernel_time( &t ) );
  return t;
}

std::size_t
fetch_spikes()
{
  std::size_t n = 0;
  check( api().fetch_spikes( &n ) );
  return n;
}

void
copy_spikes( rust::Slice< std::int64_t > senders, rust::Slice< double > times )
{
  same_len( senders, times, "copy_spikes" );
  check( api().copy_spikes( lp( senders ), times.data(), senders.size() ) );
}

std::size_t
fetch_multimeter()
{
  std::size_t n = 0;
  check( api().fetch_multimeter( &n ) );
  return n;
}

void
copy_multimeter( rust::Slice< std::int64_t > senders,
  rust::Slice< double > times,
  rust::Slice< double > u,
  rust::Slice< double > rho )
{
  same_len( senders, times, "copy_multimeter" );
  same_len( senders, u, "copy_multimeter" );
  same_len( senders, rho, "copy_multimeter" );
  check( api().copy_multimeter( lp( senders ), times.data(), u.data(), rho.data(), senders.size() ) );
}

std::size_t
fetch_slot_recording( std::int64_t node )
{
  std::size_t n = 0;
  check( api().fetch_slot_recording( node, &n ) );
  return n;
}

void
copy_slot_recording( rust::Slice< double > times,
  rust::Slice< std::int64_t > slots,
  rust::Slice< double > weights,
  rust::Slice< double > epsps )
{
  same_len( times, slots, "copy_slot_recording" );
  same_len( times, weights, "copy_slot_recording" );
  same_len( times, epsps, "copy_slot_recording" );
  check( api().copy_slot_recording( times.data(), lp( slots ), weights.data(), epsps.data(), times.size() ) );
}

void
set_trace_recording( rust::Slice< const std::int64_t > ids, bool on, double interval )
{
  check( api().set_trace_recording( lp( ids ), ids.size(), on ? 1 : 0, interval ) );
}

std::size_t
fetch_trace_block( rust::Slice< const std::int64_t > ids )
{
  std::size_t n = 0;
  check( api().fetch_trace_block( lp( ids ), ids.size(), &n ) );
  return n;
}

void
copy_trace_block( rust::Slice< double > times, rust::Slice< double > u, rust::Slice< double > rho )
{
  same_len( u, rho, "copy_trace_block" );
  check( api().copy_trace_block( times.data(), u.data(), rho.data(), times.size(), u.size() ) );
}

std::size_t
get_vector_len( std::int64_t node, rust::Str key )
{
  const std::string k( key );
  std::size_t n = 0;
  check( api().get_vector( node, k.c_str(), nullptr, 0, &n ) );
  return n;
}

void
get_vector( std::int64_t node, rust::Str key, rust::Slice< double > out )
{
  const std::string k( key );
  std::size_t n = 0;
  std::vector< double > dummy( 1 );
  double* dst = out.empty() ? dummy.data() : out.data();
  check( api().get_vector( node, k.c_str(), dst, out.size(), &n ) );
  if ( n != out.size() )
  {
    throw std::runtime_error( "get_vector: '" + k + "' has " + std::to_string( n ) + " entries, buffer "
      + std::to_string( out.size() ) );
  }
}

double
get_scalar( std::int64_t node, rust::Str key )
{
  const std::string k( key );
  double v = 0.0;
  check( api().get_scalar( node, k.c_str(), &v ) );
  return v;
}

void
set_vector( std::int64_t node, rust::Str key, rust::Slice< const double > values )
{
  const std::string k( key );
  check( api().set_vector( node, k.c_str(), values.data(), values.size() ) );
}

void
set_double( std::int64_t node, rust::Str key, double value )
{
  const std::string k( key );
  check( api().set_double( node, k.c_str(), value ) );
}

void
set_long( std::int64_t node, rust::Str key, std::int64_t value )
{
  const std::string k( key );
  check( api().set_long( node, k.c_str(), value ) );
}

void
set_bool( std::int64_t node, rust::Str key, bool value )
{
  const std::string k( key );
  check( api().set_bool( node, k.c_str(), value ? 1 : 0 ) );
}

void
set_string( std::int64_t node, rust::Str key, rust::Str value )
{
  const std::string k( key );
  const std::string v( value );
  check( api().set_string( node, k.c_str(), v.c_str() ) );
}

void
get_stp_state( rust::Slice< const std::int64_t > sources,
  rust::Slice< const std::int64_t > targets,
  rust::Slice< double > s,
  rust::Slice< double > r,
  rust::Slice< double > u )
{
  same_len( sources, targets, "get_stp_state" );
  same_len( sources, s, "get_stp_state" );
  same_len( sources, r, "get_stp_state" );
  same_len( sources, u, "get_stp_state" );
  check( api().get_stp_state( sources.size(), lp( sources ), lp( targets ), s.data(), r.data(), u.data() ) );
}

void
kernel_selftest( std::size_t n, rust::Slice< double > out )
{
  if ( out.size() != 3 )
  {
    throw std::invalid_argument( "kernel_selftest: need 3 output values" );
  }
  int simd = 0;
  check( api().kernel_selftest( n, &out[ 0 ], &out[ 1 ], &simd ) );
  out[ 2 ] = simd;
}

}  // namespace seqlearn_bridge
