/*
 *  nest_driver.cpp
 *
 *  The Driver of seqlearn_driver.h on NEST 3.10: builds a network of
 *  seqlearn_wta_neuron, seqlearn_stp_synapse, spike_generators and a
 *  spike_recorder, steps it and reads it back.  Lives in the module (old
 *  libstdc++ ABI, next to NEST); every NEST exception is caught here and
 *  returned as a Status with its message.  All state is the object's.
 *
 *  Under MPI (a kernel built with HAVE_MPI, several ranks) every rank
 *  builds the whole network, NEST keeps each neuron on the rank of its VP,
 *  and the read-out gathers what the owners hold (gather_bits): every rank
 *  returns the values of all neurons, bit for bit as one process would.
 */

#include "driver/seqlearn_driver.h"

// NEST's build configuration (HAVE_MPI)
#include "config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <exception>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "connection_id.h"
#include "dictionary.h"
#include "exceptions.h"
#include "kernel_manager.h"
#include "nest.h"
#include "node_collection.h"

#include "seqlearn_parameters.h"
#include "seqlearn_time.h"
#include "seqlearn_wta_neuron.h"

#ifdef HAVE_MPI
#include <mpi.h>
#endif

namespace seqlearn
{
namespace driver
{
namespace
{

const char* const NEURON_MODEL = "seqlearn_wta_neuron";
const char* const SYNAPSE_MODEL = "seqlearn_stp_synapse";
const char* const PEER_MODEL = "rate_connection_instantaneous";

//! An invalid argument (Status::Argument).
struct ArgError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

//! A call out of order (Status::State).
struct StateError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

void
require( const bool cond, const std::string& msg )
{
  if ( not cond )
  {
    throw ArgError( msg );
  }
}

nest::NodeCollectionPTR
collection_of( const std::vector< size_t >& ids )
{
  return nest::make_nodecollection( ids );
}

std::vector< Dictionary >
one_syn_spec( const std::string& model )
{
  Dictionary syn;
  syn[ "synapse_model" ] = model;
  return std::vector< Dictionary > { syn };
}

const any_type&
entry_of( const Dictionary& d, const std::string& key )
{
  if ( not d.known( key ) )
  {
    throw ArgError( "no status entry '" + key + "'" );
  }
  return d.at( key );
}

//! A list entry of a status dictionary (an empty list is an EmptyList).
template < typename T >
std::vector< T >
list_of( const any_type& v, const std::string& key )
{
  if ( const auto* p = std::get_if< std::vector< T > >( &v ) )
  {
    return *p;
  }
  if ( std::holds_alternative< EmptyList >( v ) )
  {
    return {};
  }
  throw StateError( "status entry '" + key + "' is a " + get_typename( v ) + ", not a list" );
}

//! A status entry as the ValueView the sink gets (valid during the call).
void
deliver_value( const any_type& v, const std::string& key, ValueSink& sink )
{
  ValueView out { ValueKind::Number, 0.0, nullptr, 0, nullptr, 0, false };
  std::vector< double > numbers;
  if ( const double* p = std::get_if< double >( &v ) )
  {
    out.number = *p;
  }
  else if ( const long* q = std::get_if< long >( &v ) )
  {
    out.number = static_cast< double >( *q );
  }
  else if ( const bool* b = std::get_if< bool >( &v ) )
  {
    out.kind = ValueKind::Flag;
    out.flag = *b;
  }
  else if ( const std::string* s = std::get_if< std::string >( &v ) )
  {
    out.kind = ValueKind::Text;
    out.text = s->data();
    out.text_len = s->size();
  }
  else if ( const auto* vd = std::get_if< std::vector< double > >( &v ) )
  {
    numbers = *vd;
    out.kind = ValueKind::Numbers;
  }
  else if ( const auto* vl = std::get_if< std::vector< long > >( &v ) )
  {
    numbers.assign( vl->begin(), vl->end() );
    out.kind = ValueKind::Numbers;
  }
  else if ( std::holds_alternative< EmptyList >( v ) )
  {
    out.kind = ValueKind::Numbers;
  }
  else
  {
    throw ArgError( "status entry '" + key + "' is a " + get_typename( v ) + ", not a number, list or text" );
  }
  out.numbers = numbers.data();
  out.n_numbers = numbers.size();
  sink.value( out );
}

//! A ValueView as a dictionary entry.
void
put_value( Dictionary& d, const std::string& key, const ValueView& v )
{
  switch ( v.kind )
  {
  case ValueKind::Number:
    d[ key ] = v.number;
    break;
  case ValueKind::Numbers:
    require( v.numbers != nullptr or v.n_numbers == 0, "null list" );
    d[ key ] = std::vector< double >( v.numbers, v.numbers + v.n_numbers );
    break;
  case ValueKind::Text:
    require( v.text != nullptr or v.text_len == 0, "null text" );
    d[ key ] = std::string( v.text, v.text_len );
    break;
  case ValueKind::Flag:
    d[ key ] = v.flag;
    break;
  }
}

size_t
num_ranks()
{
  return nest::kernel().mpi_manager.get_num_processes();
}

size_t
this_rank()
{
  return nest::kernel().mpi_manager.get_rank();
}

/* Gathers values that each rank holds for its own neurons: every rank
 * passes n words with its values in place and zeros elsewhere, and gets the
 * bitwise OR over all ranks -- every owner's values, bit-exact (doubles
 * included, -0.0 and NaN too).  A collective: every rank calls it with the
 * same n.  Nothing to do in one process. */
void
gather_bits( void* words, size_t n )
{
#ifdef HAVE_MPI
  if ( num_ranks() > 1 )
  {
    static_assert( sizeof( double ) == sizeof( std::uint64_t ) );
    auto* p = static_cast< std::uint64_t* >( words );
    const MPI_Comm comm = nest::kernel().mpi_manager.get_communicator();
    // MPI counts are ints: large arrays go in chunks
    const size_t chunk = static_cast< size_t >( INT_MAX / 2 );
    for ( size_t at = 0; at < n; at += chunk )
    {
      const int count = static_cast< int >( std::min( chunk, n - at ) );
      MPI_Allreduce( MPI_IN_PLACE, p + at, count, MPI_UINT64_T, MPI_BOR, comm );
    }
  }
#else
  ( void ) words;
  ( void ) n;
#endif
}

template < typename T >
void
gather_bits( std::vector< T >& v )
{
  static_assert( sizeof( T ) == sizeof( std::uint64_t ) );
  gather_bits( v.data(), v.size() );
}

/* Each rank's recorder holds the spikes of its own neurons: concatenate
 * them, rank by rank, on every rank (the caller sorts). */
void
gather_spikes( std::vector< std::uint32_t >& neuron, std::vector< std::uint64_t >& step )
{
  std::vector< std::uint64_t > counts( num_ranks(), 0 );
  counts[ this_rank() ] = neuron.size();
  gather_bits( counts );
  size_t total = 0, at = 0;
  for ( size_t r = 0; r < counts.size(); ++r )
  {
    at = r == this_rank() ? total : at;
    total += counts[ r ];
  }
  std::vector< std::uint64_t > n_all( total, 0 ), s_all( total, 0 );
  std::copy( neuron.begin(), neuron.end(), n_all.begin() + at );
  std::copy( step.begin(), step.end(), s_all.begin() + at );
  gather_bits( n_all );
  gather_bits( s_all );
  neuron.assign( n_all.begin(), n_all.end() );
  step = std::move( s_all );
}

/* A block of trace samples, sample-major (u[i * n + k]).  In one process
 * every element is written, so the buffers stay uninitialised (zeroing them
 * cost as much as the drain itself); gathered over ranks they start at 0. */
struct TraceBlock
{
  TraceBlock( size_t count_, size_t n, bool zeroed )
    : count( count_ )
    , steps( zeroed ? new std::uint64_t[ count_ ]() : new std::uint64_t[ count_ ] )
    , u( zeroed ? new double[ count_ * n ]() : new double[ count_ * n ] )
    , rho( zeroed ? new double[ count_ * n ]() : new double[ count_ * n ] )
  {
  }
  size_t count;
  std::unique_ptr< std::uint64_t[] > steps;
  std::unique_ptr< double[] > u;
  std::unique_ptr< double[] > rho;
};

/* The network as built: node ids and what is recorded. */
struct Built
{
  bool built = false;
  size_t first_neuron = 0;  //!< node id of neuron 0
  size_t n_neurons = 0;
  size_t first_input = 0;  //!< node id of input channel 0
  size_t n_inputs = 0;
  size_t spike_recorder = 0;
  size_t n_weights = 0;
  //! neuron k's slots are weights [weight_offset[k], weight_offset[k+1])
  std::vector< size_t > weight_offset;
  //! whether neuron k's circuit learns (set_learning leaves the others off)
  std::vector< bool > trained;
  std::vector< std::uint32_t > recorded_neurons;
  //! (target, slot) -> index into the recorded synapses
  std::map< std::pair< std::uint32_t, std::uint32_t >, std::uint32_t > recorded_slot_index;
  std::vector< std::uint32_t > recorded_targets;  //!< ascending
};

class NestDriver final : public Driver
{
public:
  explicit NestDriver( std::string module_path )
    : module_path_( std::move( module_path ) )
  {
  }

  void
  destroy() override
  {
    delete this;
  }

  const char*
  error() const override
  {
    return error_.c_str();
  }

  Status
  reset( std::uint32_t threads, std::uint32_t seed ) override
  {
    return guarded( "reset", [ & ] { reset_( threads, seed ); } );
  }
  Status
  build( const NetworkView& net ) override
  {
    return guarded( "build", [ & ] { build_( net ); } );
  }
  Status
  set_learning( bool on ) override
  {
    return guarded( "set_learning", [ & ] { set_learning_( on ); } );
  }
  Status
  set_trace_recording( bool on, std::uint64_t interval ) override
  {
    return guarded( "set_trace_recording", [ & ] { set_trace_recording_( on, interval ); } );
  }
  Status
  prepare() override
  {
    return guarded( "prepare", [ & ] { prepare_(); } );
  }
  Status
  run( std::uint64_t steps ) override
  {
    return guarded( "run", [ & ] { run_( steps ); } );
  }
  Status
  cleanup() override
  {
    return guarded( "cleanup", [ & ] { cleanup_(); } );
  }
  Status
  kernel_steps( std::uint64_t* steps ) override
  {
    return guarded( "kernel_steps", [ & ] { *steps = kernel_steps_(); } );
  }
  Status
  take_spikes( SpikeSink& sink ) override
  {
    return guarded( "take_spikes", [ & ] { take_spikes_( sink ); } );
  }
  Status
  take_traces( TraceSink& sink ) override
  {
    return guarded( "take_traces", [ & ] { take_traces_( sink ); } );
  }
  Status
  take_synapse_traces( SynapseTraceSink& sink ) override
  {
    return guarded( "take_synapse_traces", [ & ] { take_synapse_traces_( sink ); } );
  }
  Status
  final_state( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons ) override
  {
    return guarded( "final_state", [ & ] { final_state_( w, s, q, n_synapses, bias, n_neurons ); } );
  }
  Status
  parallel( Parallel* out ) override
  {
    return guarded( "parallel", [ & ] { *out = parallel_(); } );
  }
  Status
  shutdown( int code ) override
  {
    return guarded( "shutdown", [ & ] { shutdown_( code ); } );
  }
  Status
  get_status( const StatusTarget& target, const char* key, ValueSink& sink ) override
  {
    return guarded( "get_status", [ & ] { get_status_( target, key, sink ); } );
  }
  Status
  set_status( const StatusTarget& target, const char* key, const ValueView& value ) override
  {
    return guarded( "set_status", [ & ] { set_status_( target, key, value ); } );
  }

private:
  template < typename F >
  Status guarded( const char* where, F&& f );

  void reset_( std::uint32_t threads, std::uint32_t seed );
  void build_( const NetworkView& net );
  void check_network_( const NetworkView& net ) const;
  void create_neurons_( const NetworkView& net );
  void connect_circuits_( const NetworkView& net );
  void create_inputs_( const NetworkView& net );
  void connect_synapses_( const NetworkView& net, const SynapsesView& syn );
  void set_resets_and_forced_( const NetworkView& net );
  void set_recording_( const NetworkView& net );
  void set_learning_( bool on );
  void set_trace_recording_( bool on, std::uint64_t interval );
  void prepare_();
  void run_( std::uint64_t steps );
  void cleanup_();
  std::uint64_t kernel_steps_() const;
  void take_spikes_( SpikeSink& sink );
  void take_traces_( TraceSink& sink );
  void fill_trace_block_( const std::vector< seqlearn_wta_neuron* >& nodes, TraceBlock& block ) const;
  void take_synapse_traces_( SynapseTraceSink& sink );
  void final_state_( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons );
  Parallel parallel_() const;
  void shutdown_( int code );
  void get_status_( const StatusTarget& target, const std::string& key, ValueSink& sink );
  void set_status_( const StatusTarget& target, const std::string& key, const ValueView& value );

  const Built& built_network() const;
  size_t node_of_source( std::uint32_t source ) const;
  size_t node_of_neuron( std::uint32_t neuron ) const;
  seqlearn_wta_neuron& neuron_object( std::uint32_t neuron ) const;
  seqlearn_wta_neuron* local_neuron( std::uint32_t neuron ) const;
  nest::ConnectionID connection_of( std::uint32_t source, std::uint32_t neuron ) const;
  void set_on_all_neurons( const Dictionary& d ) const;

  std::string module_path_;
  std::string error_;
  bool nest_initialized_ = false;
  bool shut_down_ = false;  //!< after shutdown_nest: NEST is gone
  //! argv for init_nest, which may keep the pointer: the object's own
  char arg0_[ 16 ] = "seqlearn-nest";
  char* argv_[ 2 ] = { arg0_, nullptr };
  Built net_;
  bool in_context_ = false;
  size_t spikes_taken_ = 0;  //!< recorder events handed out inside a context
};

template < typename F >
Status
NestDriver::guarded( const char* where, F&& f )
{
  try
  {
    f();
    error_.clear();
    return Status::Ok;
  }
  catch ( const ArgError& e )
  {
    error_ = std::string( where ) + ": " + e.what();
    return Status::Argument;
  }
  catch ( const StateError& e )
  {
    error_ = std::string( where ) + ": " + e.what();
    return Status::State;
  }
  catch ( const nest::KernelException& e )
  {
    error_ = std::string( where ) + ": NEST " + e.exception_name() + ": " + e.what();
    return Status::Nest;
  }
  catch ( const std::exception& e )
  {
    error_ = std::string( where ) + ": " + e.what();
    return Status::Unknown;
  }
  catch ( ... )
  {
    error_ = std::string( where ) + ": unknown C++ exception";
    return Status::Unknown;
  }
}

/* ------------------------------------------------------------- the kernel */

void
NestDriver::reset_( std::uint32_t threads, std::uint32_t seed )
{
  require( threads >= 1, "threads must be >= 1" );
  require( seed >= 1 and seed < ( 1u << 31 ), "seed must be in [1, 2^31)" );
  if ( shut_down_ )
  {
    throw StateError( "NEST has been shut down (MPI finalised) in this process" );
  }
  if ( not nest_initialized_ )
  {
    int argc = 1;
    char** argv = argv_;
    nest::init_nest( &argc, &argv );
    nest_initialized_ = true;
  }
  else
  {
    nest::reset_kernel();
  }
  net_ = Built();
  in_context_ = false;
  spikes_taken_ = 0;
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
  d[ "rng_seed" ] = static_cast< long >( seed );
  nest::set_kernel_status( d );
  nest::install_module( module_path_ );
}

Parallel
NestDriver::parallel_() const
{
  if ( not nest_initialized_ or shut_down_ )
  {
    throw StateError( "no NEST kernel (call reset first)" );
  }
#ifdef HAVE_MPI
  const bool have_mpi = true;
#else
  const bool have_mpi = false;
#endif
  return Parallel { static_cast< std::uint32_t >( num_ranks() ),
    static_cast< std::uint32_t >( this_rank() ),
    static_cast< std::uint32_t >( nest::kernel().vp_manager.get_num_threads() ),
    static_cast< std::uint32_t >( nest::kernel().vp_manager.get_num_virtual_processes() ),
    have_mpi };
}

void
NestDriver::shutdown_( int code )
{
  if ( nest_initialized_ and not shut_down_ )
  {
    shut_down_ = true;
    in_context_ = false;
    net_ = Built();
    nest::shutdown_nest( code );
  }
}

void
NestDriver::prepare_()
{
  built_network();
  nest::prepare();
  in_context_ = true;
}

void
NestDriver::run_( std::uint64_t steps )
{
  if ( not in_context_ )
  {
    throw StateError( "run needs prepare first" );
  }
  nest::run( static_cast< double >( steps ) * resolution_ms() );
}

void
NestDriver::cleanup_()
{
  if ( in_context_ )
  {
    in_context_ = false;
    nest::cleanup();
  }
}

std::uint64_t
NestDriver::kernel_steps_() const
{
  const Dictionary d = nest::get_kernel_status();
  const double ms = std::get< double >( entry_of( d, "biological_time" ) );
  return static_cast< std::uint64_t >( std::llround( ms / resolution_ms() ) );
}

/* ------------------------------------------------------------ the network */

const Built&
NestDriver::built_network() const
{
  if ( not net_.built )
  {
    throw StateError( "no network (call reset and build first)" );
  }
  return net_;
}

size_t
NestDriver::node_of_neuron( std::uint32_t neuron ) const
{
  require( neuron < net_.n_neurons, "no neuron " + std::to_string( neuron ) );
  return net_.first_neuron + neuron;
}

size_t
NestDriver::node_of_source( std::uint32_t source ) const
{
  if ( source < net_.n_inputs )
  {
    return net_.first_input + source;
  }
  return node_of_neuron( static_cast< std::uint32_t >( source - net_.n_inputs ) );
}

seqlearn_wta_neuron&
NestDriver::neuron_object( std::uint32_t neuron ) const
{
  const size_t id = node_of_neuron( neuron );
  nest::Node* p = nest::kernel().node_manager.get_node_or_proxy( id );
  auto* n = dynamic_cast< seqlearn_wta_neuron* >( p );
  if ( n == nullptr )
  {
    throw ArgError( "neuron " + std::to_string( neuron ) + " (node " + std::to_string( id ) + ") is not a local "
      + NEURON_MODEL );
  }
  return *n;
}

seqlearn_wta_neuron*
NestDriver::local_neuron( std::uint32_t neuron ) const
{
  const size_t id = node_of_neuron( neuron );
  if ( not nest::kernel().node_manager.is_local_node_id( id ) )
  {
    return nullptr;
  }
  return &neuron_object( neuron );
}

void
NestDriver::set_on_all_neurons( const Dictionary& d ) const
{
  for ( size_t k = 0; k < net_.n_neurons; ++k )
  {
    nest::set_node_status( net_.first_neuron + k, d );
  }
}

void
NestDriver::build_( const NetworkView& net )
{
  if ( net_.built )
  {
    throw StateError( "a network exists already (reset first)" );
  }
  check_network_( net );
  // The order of creation fixes node ids and of connection NEST's delivery
  // order, hence the order in which inputs are summed: keep it.
  create_neurons_( net );
  connect_circuits_( net );
  create_inputs_( net );
  connect_synapses_( net, net.input_synapses );
  connect_synapses_( net, net.recurrent_synapses );
  set_resets_and_forced_( net );
  set_recording_( net );
  net_.built = true;
}

void
NestDriver::check_network_( const NetworkView& net ) const
{
  require( net.n_neurons > 0 and net.neurons != nullptr, "no neurons" );
  size_t total = 0;
  for ( size_t k = 0; k < net.n_neurons; ++k )
  {
    const NeuronView& n = net.neurons[ k ];
    require( n.circuit_index < n.circuit_size, "neuron " + std::to_string( k ) + ": circuit_index >= circuit_size" );
    // circuits are consecutive: index i follows index i-1 of the same circuit
    const bool starts = n.circuit_index == 0;
    const bool follows = k > 0 and net.neurons[ k - 1 ].circuit_size == n.circuit_size
      and net.neurons[ k - 1 ].circuit_index + 1 == n.circuit_index;
    require( starts or follows, "neuron " + std::to_string( k ) + ": circuits must be consecutive" );
    total += n.n_incoming;
  }
  require( net.neurons[ net.n_neurons - 1 ].circuit_index + 1 == net.neurons[ net.n_neurons - 1 ].circuit_size,
    "the last circuit is incomplete" );
  require( net.n_weights == total and ( net.weights != nullptr or total == 0 ),
    "weights must hold one value per slot (" + std::to_string( total ) + ")" );
  require( net.input_offsets != nullptr and net.input_offsets[ 0 ] == 0, "input offsets must start at 0" );
  for ( size_t c = 0; c < net.n_inputs; ++c )
  {
    require( net.input_offsets[ c ] <= net.input_offsets[ c + 1 ], "input offsets must be non-decreasing" );
  }
  require( not net.forced or net.forced_offsets != nullptr, "forced spikes without offsets" );
  require( net.synapse_interval >= 1 or net.n_recorded_synapses == 0, "synapse_interval must be >= 1" );
}

void
NestDriver::create_neurons_( const NetworkView& net )
{
  const NeuronParams& p = net.params;
  Dictionary defaults;
  defaults[ "r_max" ] = p.r_max;
  defaults[ "tau_decay" ] = p.tau_decay;
  defaults[ "tau_rise" ] = p.tau_rise;
  defaults[ "eta" ] = p.eta;
  defaults[ "variance_tracking" ] = p.variance_tracking;
  defaults[ "bias_learning" ] = p.bias_learning;
  defaults[ "spike_law" ] =
    std::string( parameters::neuron::spike_law_names[ static_cast< size_t >( p.spike_law ) ] );
  nest::set_model_defaults( NEURON_MODEL, defaults );

  nest::NodeCollectionPTR nc = nest::create( NEURON_MODEL, net.n_neurons );
  net_.first_neuron = ( *nc )[ 0 ];
  net_.n_neurons = net.n_neurons;
  size_t off = 0;
  net_.weight_offset.assign( 1, 0 );
  net_.trained.clear();
  for ( size_t k = 0; k < net.n_neurons; ++k )
  {
    const NeuronView& n = net.neurons[ k ];
    net_.weight_offset.push_back( off + n.n_incoming );
    net_.trained.push_back( n.trained );
    Dictionary d;
    d[ "circuit_size" ] = static_cast< long >( n.circuit_size );
    d[ "circuit_index" ] = static_cast< long >( n.circuit_index );
    d[ "n_incoming" ] = static_cast< long >( n.n_incoming );
    d[ "weights" ] = std::vector< double >( net.weights + off, net.weights + off + n.n_incoming );
    d[ "bias" ] = n.bias;
    if ( n.circuit_size > 1 )
    {
      // the members' initial potentials (their biases) for the soft-max of step 0
      const size_t first = k - n.circuit_index;  // circuits are consecutive
      std::vector< double > u0( n.circuit_size );
      for ( size_t l = 0; l < n.circuit_size; ++l )
      {
        u0[ l ] = net.neurons[ first + l ].bias;
      }
      d[ "circuit_u_initial" ] = u0;
    }
    off += n.n_incoming;
    nest::set_node_status( net_.first_neuron + k, d );
  }
  net_.n_weights = off;
}

void
NestDriver::connect_circuits_( const NetworkView& net )
{
  // every ordered pair of a circuit, receptor_type = the sender's index
  std::vector< long > src, tgt;
  std::vector< double > rport;
  for ( size_t first = 0; first < net.n_neurons; first += net.neurons[ first ].circuit_size )
  {
    const size_t k = net.neurons[ first ].circuit_size;
    for ( size_t a = 0; a < k; ++a )
    {
      for ( size_t b = 0; b < k; ++b )
      {
        if ( a != b )
        {
          src.push_back( static_cast< long >( net_.first_neuron + first + a ) );
          tgt.push_back( static_cast< long >( net_.first_neuron + first + b ) );
          rport.push_back( static_cast< double >( a ) );
        }
      }
    }
    if ( not src.empty() )
    {
      // one circuit per call, as before (the connection order)
      std::vector< std::string > keys { "receptor_type" };
      nest::connect_arrays( src.data(), tgt.data(), nullptr, nullptr, keys, rport.data(), src.size(), PEER_MODEL );
      src.clear();
      tgt.clear();
      rport.clear();
    }
  }
}

void
NestDriver::create_inputs_( const NetworkView& net )
{
  // one spike_generator per channel: one train for all targets
  net_.n_inputs = net.n_inputs;
  if ( net.n_inputs == 0 )
  {
    return;
  }
  nest::NodeCollectionPTR nc = nest::create( "spike_generator", net.n_inputs );
  net_.first_input = ( *nc )[ 0 ];
  const double dt = resolution_ms();
  for ( size_t c = 0; c < net.n_inputs; ++c )
  {
    std::vector< double > times;
    for ( size_t i = net.input_offsets[ c ]; i < net.input_offsets[ c + 1 ]; ++i )
    {
      times.push_back( stamp_ms_of_native_step( static_cast< long >( net.input_steps[ i ] ), dt ) );
    }
    std::sort( times.begin(), times.end() );
    times.erase( std::unique( times.begin(), times.end() ), times.end() );
    Dictionary d;
    d[ "spike_times" ] = times;
    nest::set_node_status( net_.first_input + c, d );
  }
}

void
NestDriver::connect_synapses_( const NetworkView& net, const SynapsesView& syn )
{
  if ( syn.n == 0 )
  {
    return;
  }
  require( syn.source and syn.target and syn.slot and syn.u and syn.d and syn.f, "null synapse array" );
  Dictionary defaults;
  defaults[ "stp_variant" ] =
    std::string( parameters::synapse::stp_variant_names[ static_cast< size_t >( syn.variant ) ] );
  nest::set_model_defaults( SYNAPSE_MODEL, defaults );
  std::vector< long > sources( syn.n ), targets( syn.n );
  std::vector< double > values( 4 * syn.n );
  for ( size_t i = 0; i < syn.n; ++i )
  {
    require( syn.source[ i ] < net.n_inputs + net.n_neurons, "synapse " + std::to_string( i ) + ": no such source" );
    sources[ i ] = static_cast< long >( node_of_source( syn.source[ i ] ) );
    targets[ i ] = static_cast< long >( node_of_neuron( syn.target[ i ] ) );
    values[ i ] = static_cast< double >( syn.slot[ i ] );
    values[ syn.n + i ] = syn.u[ i ];
    values[ 2 * syn.n + i ] = syn.d[ i ];
    values[ 3 * syn.n + i ] = syn.f[ i ];
  }
  std::vector< std::string > keys { "receptor_type", "U", "D", "F" };
  std::vector< double > delays( syn.n, resolution_ms() );
  nest::connect_arrays(
    sources.data(), targets.data(), nullptr, delays.data(), keys, values.data(), syn.n, SYNAPSE_MODEL );
}

void
NestDriver::set_resets_and_forced_( const NetworkView& net )
{
  const double dt = resolution_ms();
  std::vector< double > resets;
  for ( size_t i = 0; i < net.n_resets; ++i )
  {
    resets.push_back( static_cast< double >( net.reset_steps[ i ] ) * dt );
  }
  Dictionary d;
  d[ "reset_times" ] = resets;
  set_on_all_neurons( d );
  nest::set_model_defaults( NEURON_MODEL, d );
  nest::set_model_defaults( SYNAPSE_MODEL, d );
  if ( not net.forced )
  {
    return;
  }
  for ( size_t k = 0; k < net.n_neurons; ++k )
  {
    std::vector< double > times;
    for ( size_t i = net.forced_offsets[ k ]; i < net.forced_offsets[ k + 1 ]; ++i )
    {
      times.push_back( static_cast< double >( net.forced_steps[ i ] ) * dt );
    }
    Dictionary f;
    f[ "forced" ] = true;
    f[ "forced_spikes" ] = times;
    nest::set_node_status( net_.first_neuron + k, f );
  }
}

void
NestDriver::set_recording_( const NetworkView& net )
{
  // a spike_recorder on every neuron
  nest::NodeCollectionPTR sr = nest::create( "spike_recorder", 1 );
  std::vector< size_t > ids( net.n_neurons );
  for ( size_t k = 0; k < net.n_neurons; ++k )
  {
    ids[ k ] = net_.first_neuron + k;
  }
  Dictionary conn;
  conn[ "rule" ] = std::string( "all_to_all" );
  nest::connect( collection_of( ids ), sr, conn, one_syn_spec( "static_synapse" ) );
  net_.spike_recorder = ( *sr )[ 0 ];

  for ( size_t i = 0; i < net.n_recorded_neurons; ++i )
  {
    node_of_neuron( net.recorded_neurons[ i ] );
    net_.recorded_neurons.push_back( net.recorded_neurons[ i ] );
  }
  // the recorded slots of each target, in the order given
  std::map< std::uint32_t, std::vector< long > > slots_of;
  for ( size_t i = 0; i < net.n_recorded_synapses; ++i )
  {
    const RecordedSlot& r = net.recorded_synapses[ i ];
    slots_of[ r.target ].push_back( static_cast< long >( r.slot ) );
    net_.recorded_slot_index[ { r.target, r.slot } ] = static_cast< std::uint32_t >( i );
  }
  for ( const auto& [ target, slots ] : slots_of )
  {
    Dictionary d;
    d[ "recorded_slots" ] = slots;
    d[ "slot_recording_interval" ] = static_cast< double >( net.synapse_interval ) * resolution_ms();
    nest::set_node_status( node_of_neuron( target ), d );
    net_.recorded_targets.push_back( target );
  }
}

void
NestDriver::set_learning_( bool on )
{
  built_network();
  Dictionary d;
  d[ "learning" ] = on;
  Dictionary off;
  off[ "learning" ] = false;
  for ( size_t k = 0; k < net_.n_neurons; ++k )
  {
    nest::set_node_status( net_.first_neuron + k, net_.trained[ k ] ? d : off );
  }
}

void
NestDriver::set_trace_recording_( bool on, std::uint64_t interval )
{
  built_network();
  require( interval >= 1 and interval < ( 1ull << 50 ), "trace_recording_interval must be >= 1 step" );
  std::vector< seqlearn_wta_neuron* > nodes;
  for ( const std::uint32_t k : net_.recorded_neurons )
  {
    // every id checked before any change; other ranks switch their own
    if ( seqlearn_wta_neuron* n = local_neuron( k ) )
    {
      nodes.push_back( n );
    }
  }
  for ( seqlearn_wta_neuron* n : nodes )
  {
    n->set_trace_recording( on, static_cast< long >( interval ) );
  }
}

/* -------------------------------------------------------------- read-out */

void
NestDriver::take_spikes_( SpikeSink& sink )
{
  built_network();
  const Dictionary st = nest::get_node_status( net_.spike_recorder );
  const Dictionary ev = std::get< Dictionary >( entry_of( st, "events" ) );
  const std::vector< long > senders = list_of< long >( entry_of( ev, "senders" ), "senders" );
  const std::vector< double > times = list_of< double >( entry_of( ev, "times" ), "times" );
  if ( senders.size() != times.size() )
  {
    throw StateError( "the recorder returned senders and times of different length" );
  }
  const double dt = resolution_ms();
  std::vector< std::uint32_t > neuron;
  std::vector< std::uint64_t > step;
  for ( size_t i = spikes_taken_; i < senders.size(); ++i )
  {
    const long k = senders[ i ] - static_cast< long >( net_.first_neuron );
    if ( k < 0 or static_cast< size_t >( k ) >= net_.n_neurons )
    {
      throw StateError( "a spike from node " + std::to_string( senders[ i ] ) + ", not a network neuron" );
    }
    neuron.push_back( static_cast< std::uint32_t >( k ) );
    step.push_back( static_cast< std::uint64_t >( std::llround( times[ i ] / dt ) - 1 ) );  // stamp t+1 -> t
  }
  // NEST refuses to modify a recorder inside a context: remember how many
  // events were handed out instead
  if ( in_context_ )
  {
    spikes_taken_ = senders.size();
  }
  else
  {
    Dictionary clear;
    clear[ "n_events" ] = 0L;
    nest::set_node_status( net_.spike_recorder, clear );
    spikes_taken_ = 0;
  }
  if ( num_ranks() > 1 )
  {
    gather_spikes( neuron, step );
  }
  sink.spikes( neuron.data(), step.data(), neuron.size() );
}


void
NestDriver::take_traces_( TraceSink& sink )
{
  built_network();
  const size_t n = net_.recorded_neurons.size();
  // the local recorded neurons (nullptr for those of other ranks) and how
  // many samples each holds, known to every rank after the gather
  std::vector< seqlearn_wta_neuron* > nodes;
  std::vector< std::uint64_t > counts( n, 0 );
  for ( size_t k = 0; k < n; ++k )
  {
    nodes.push_back( local_neuron( net_.recorded_neurons[ k ] ) );
    counts[ k ] = nodes[ k ] ? nodes[ k ]->trace_samples().size() : 0;
  }
  gather_bits( counts );
  const size_t count = n == 0 ? 0 : counts[ 0 ];
  const seqlearn_wta_neuron* first_local = nullptr;
  for ( size_t k = 0; k < n; ++k )
  {
    const seqlearn_wta_neuron* p = nodes[ k ];
    const bool same_steps = not p or not first_local
      or std::equal( first_local->trace_samples().begin(),
        first_local->trace_samples().end(),
        p->trace_samples().begin(),
        []( const auto& x, const auto& y ) { return x.time == y.time; } );
    if ( counts[ k ] != count or not same_steps )
    {
      throw ArgError( "neuron " + std::to_string( net_.recorded_neurons[ k ] ) + " recorded other steps than neuron "
        + std::to_string( net_.recorded_neurons[ 0 ] ) );
    }
    first_local = first_local ? first_local : p;
  }
  TraceBlock block( count, n, num_ranks() > 1 );
  fill_trace_block_( nodes, block );
  if ( num_ranks() > 1 )
  {
    gather_bits( block.steps.get(), count );
    gather_bits( block.u.get(), count * n );
    gather_bits( block.rho.get(), count * n );
  }
  for ( seqlearn_wta_neuron* p : nodes )
  {
    if ( p )
    {
      p->clear_trace_samples();
    }
  }
  sink.traces( block.steps.get(), count, block.u.get(), block.rho.get(), count * n );
}

void
NestDriver::fill_trace_block_( const std::vector< seqlearn_wta_neuron* >& nodes, TraceBlock& block ) const
{
  const size_t n = nodes.size();
  const double dt = resolution_ms();
  // the steps come from the owner of the first recorded neuron
  if ( n > 0 and nodes[ 0 ] )
  {
    for ( size_t i = 0; i < block.count; ++i )
    {
      block.steps[ i ] = static_cast< std::uint64_t >( std::llround( nodes[ 0 ]->trace_samples()[ i ].time / dt ) );
    }
  }
  // sample-major: sequential writes, one read stream per neuron (by neuron,
  // every write of the block would touch another cache line)
  for ( size_t i = 0; i < block.count; ++i )
  {
    for ( size_t k = 0; k < n; ++k )
    {
      if ( nodes[ k ] )
      {
        const seqlearn_wta_neuron::TraceSample& s = nodes[ k ]->trace_samples()[ i ];
        block.u[ i * n + k ] = s.u;
        block.rho[ i * n + k ] = s.rho;
      }
    }
  }
}

void
NestDriver::take_synapse_traces_( SynapseTraceSink& sink )
{
  built_network();
  const double dt = resolution_ms();
  const size_t n_targets = net_.recorded_targets.size();
  // every target's samples, target by target: the owners fill their part
  std::vector< std::uint64_t > offset( n_targets + 1, 0 );
  for ( size_t i = 0; i < n_targets; ++i )
  {
    const seqlearn_wta_neuron* n = local_neuron( net_.recorded_targets[ i ] );
    offset[ i + 1 ] = n ? n->slot_samples().size() : 0;
  }
  gather_bits( offset );
  std::partial_sum( offset.begin(), offset.end(), offset.begin() );
  const size_t total = offset[ n_targets ];
  std::vector< std::uint64_t > step( total, 0 ), index( total, 0 );
  std::vector< double > weight( total, 0.0 ), epsp( total, 0.0 );
  for ( size_t i = 0; i < n_targets; ++i )
  {
    const std::uint32_t target = net_.recorded_targets[ i ];
    seqlearn_wta_neuron* n = local_neuron( target );
    if ( not n )
    {
      continue;
    }
    size_t at = offset[ i ];
    for ( const seqlearn_wta_neuron::SlotSample& s : n->slot_samples() )
    {
      const auto it = net_.recorded_slot_index.find( { target, static_cast< std::uint32_t >( s.slot ) } );
      if ( it == net_.recorded_slot_index.end() )
      {
        throw StateError( "neuron " + std::to_string( target ) + " recorded slot " + std::to_string( s.slot )
          + ", which is not a recorded synapse" );
      }
      step[ at ] = static_cast< std::uint64_t >( std::llround( s.time / dt ) );
      index[ at ] = it->second;
      weight[ at ] = s.weight;
      epsp[ at ] = s.epsp;
      ++at;
    }
    n->clear_slot_samples();
  }
  gather_bits( step );
  gather_bits( index );
  gather_bits( weight );
  gather_bits( epsp );
  const std::vector< std::uint32_t > index32( index.begin(), index.end() );
  sink.samples( step.data(), index32.data(), weight.data(), epsp.data(), total );
}

void
NestDriver::final_state_( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons )
{
  built_network();
  require( n_synapses == net_.n_weights and n_neurons == net_.n_neurons, "final_state: wrong buffer sizes" );
  require( ( w and s and q ) or n_synapses == 0, "final_state: null buffer" );
  require( bias != nullptr, "final_state: null buffer" );
  // the owners fill their neurons' parts, the rest stays 0 for the gather
  std::fill( w, w + n_synapses, 0.0 );
  std::fill( s, s + n_synapses, 0.0 );
  std::fill( q, q + n_synapses, 0.0 );
  std::fill( bias, bias + n_neurons, 0.0 );
  for ( std::uint32_t k = 0; k < net_.n_neurons; ++k )
  {
    const seqlearn_wta_neuron* n = local_neuron( k );
    if ( not n )
    {
      continue;
    }
    const size_t off = net_.weight_offset[ k ];
    require( n->n_slots() == net_.weight_offset[ k + 1 ] - off,
      "final_state: neuron " + std::to_string( k ) + " has another number of slots than built" );
    n->copy_weights( w + off );
    std::copy( n->S().begin(), n->S().end(), s + off );
    std::copy( n->Q().begin(), n->Q().end(), q + off );
    bias[ k ] = n->bias();
  }
  gather_bits( w, n_synapses );
  gather_bits( s, n_synapses );
  gather_bits( q, n_synapses );
  gather_bits( bias, n_neurons );
}

/* -------------------------------------------------------- generic status */

nest::ConnectionID
NestDriver::connection_of( std::uint32_t source, std::uint32_t neuron ) const
{
  Dictionary q;
  q[ "source" ] = collection_of( { node_of_source( source ) } );
  q[ "target" ] = collection_of( { node_of_neuron( neuron ) } );
  q[ "synapse_model" ] = std::string( SYNAPSE_MODEL );
  const std::deque< nest::ConnectionID > conns = nest::get_connections( q );
  if ( conns.empty() )
  {
    throw ArgError( "no synapse " + std::to_string( source ) + " -> neuron " + std::to_string( neuron ) );
  }
  return conns.front();
}

void
NestDriver::get_status_( const StatusTarget& target, const std::string& key, ValueSink& sink )
{
  Dictionary d;
  switch ( target.target )
  {
  case Target::NeuronDefaults:
    d = nest::get_model_defaults( NEURON_MODEL );
    break;
  case Target::SynapseDefaults:
    d = nest::get_model_defaults( SYNAPSE_MODEL );
    break;
  case Target::Neuron:
    built_network();
    if ( not local_neuron( target.neuron ) )
    {
      throw ArgError( "neuron " + std::to_string( target.neuron ) + " lives on another MPI rank (rank "
        + std::to_string( this_rank() ) + " of " + std::to_string( num_ranks() ) + "); its status is read there" );
    }
    d = nest::get_node_status( node_of_neuron( target.neuron ) );
    break;
  case Target::Synapse:
    built_network();
    d = nest::get_connection_status( { connection_of( target.source, target.neuron ) } ).at( 0 );
    break;
  }
  deliver_value( entry_of( d, key ), key, sink );
}

void
NestDriver::set_status_( const StatusTarget& target, const std::string& key, const ValueView& value )
{
  Dictionary d;
  put_value( d, key, value );
  switch ( target.target )
  {
  case Target::NeuronDefaults:
    nest::set_model_defaults( NEURON_MODEL, d );
    break;
  case Target::SynapseDefaults:
    nest::set_model_defaults( SYNAPSE_MODEL, d );
    break;
  case Target::Neuron:
    built_network();
    nest::set_node_status( node_of_neuron( target.neuron ), d );
    break;
  case Target::Synapse:
    built_network();
    nest::set_connection_status( { connection_of( target.source, target.neuron ) }, d );
    break;
  }
}

}  // namespace
}  // namespace driver
}  // namespace seqlearn

extern "C"
{
  seqlearn::driver::Driver*
  seqlearn_driver_create( int abi_version, const char* module_path, const char** error )
  {
    static const char* const wrong_version = "the seqlearn module was built for another driver ABI (rebuild it)";
    if ( abi_version != seqlearn::driver::ABI_VERSION or module_path == nullptr )
    {
      if ( error != nullptr )
      {
        *error = abi_version != seqlearn::driver::ABI_VERSION ? wrong_version : "no module path";
      }
      return nullptr;
    }
    try
    {
      return new seqlearn::driver::NestDriver( module_path );
    }
    catch ( ... )
    {
      if ( error != nullptr )
      {
        *error = "out of memory";
      }
      return nullptr;
    }
  }
}
