/*
 *  nest_driver.cpp
 *
 *  The Driver of seqlearn_driver.h on NEST 3.10: builds a network of
 *  seqlearn_wta_neuron, seqlearn_stp_synapse, spike_generators and a
 *  spike_recorder, steps it and reads it back.  Lives in the module (old
 *  libstdc++ ABI, next to NEST); every NEST exception is caught here and
 *  returned as a Status with its message.  All state is the object's.
 */

#include "driver/seqlearn_driver.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <memory>
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
  void take_synapse_traces_( SynapseTraceSink& sink );
  void final_state_( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons );
  void get_status_( const StatusTarget& target, const std::string& key, ValueSink& sink );
  void set_status_( const StatusTarget& target, const std::string& key, const ValueView& value );

  const Built& built_network() const;
  size_t node_of_source( std::uint32_t source ) const;
  size_t node_of_neuron( std::uint32_t neuron ) const;
  seqlearn_wta_neuron& neuron_object( std::uint32_t neuron ) const;
  nest::ConnectionID connection_of( std::uint32_t source, std::uint32_t neuron ) const;
  void set_on_all_neurons( const Dictionary& d ) const;

  std::string module_path_;
  std::string error_;
  bool nest_initialized_ = false;
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
  for ( size_t k = 0; k < net.n_neurons; ++k )
  {
    const NeuronView& n = net.neurons[ k ];
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
  set_on_all_neurons( d );
}

void
NestDriver::set_trace_recording_( bool on, std::uint64_t interval )
{
  built_network();
  require( interval >= 1 and interval < ( 1ull << 50 ), "trace_recording_interval must be >= 1 step" );
  std::vector< seqlearn_wta_neuron* > nodes;
  for ( const std::uint32_t k : net_.recorded_neurons )
  {
    nodes.push_back( &neuron_object( k ) );  // every id checked before any change
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
  sink.spikes( neuron.data(), step.data(), neuron.size() );
}

void
NestDriver::take_traces_( TraceSink& sink )
{
  built_network();
  const size_t n = net_.recorded_neurons.size();
  std::vector< seqlearn_wta_neuron* > nodes;
  for ( const std::uint32_t k : net_.recorded_neurons )
  {
    nodes.push_back( &neuron_object( k ) );
  }
  const size_t count = n == 0 ? 0 : nodes[ 0 ]->trace_samples().size();
  for ( size_t k = 1; k < n; ++k )
  {
    const auto& a = nodes[ 0 ]->trace_samples();
    const auto& b = nodes[ k ]->trace_samples();
    const bool same = b.size() == count
      and std::equal( a.begin(), a.end(), b.begin(), []( const auto& x, const auto& y ) { return x.time == y.time; } );
    if ( not same )
    {
      throw ArgError( "neuron " + std::to_string( net_.recorded_neurons[ k ] ) + " recorded other steps than neuron "
        + std::to_string( net_.recorded_neurons[ 0 ] ) );
    }
  }
  const double dt = resolution_ms();
  // uninitialised buffers (every element is written below): zeroing them
  // first cost as much as the drain itself
  std::unique_ptr< std::uint64_t[] > steps( new std::uint64_t[ count ] );
  std::unique_ptr< double[] > u( new double[ count * n ] );
  std::unique_ptr< double[] > rho( new double[ count * n ] );
  // sample-major: sequential writes, one read stream per neuron (by neuron,
  // every write of the block would touch another cache line)
  for ( size_t i = 0; i < count; ++i )
  {
    steps[ i ] = static_cast< std::uint64_t >( std::llround( nodes[ 0 ]->trace_samples()[ i ].time / dt ) );
    for ( size_t k = 0; k < n; ++k )
    {
      const seqlearn_wta_neuron::TraceSample& s = nodes[ k ]->trace_samples()[ i ];
      u[ i * n + k ] = s.u;
      rho[ i * n + k ] = s.rho;
    }
  }
  for ( seqlearn_wta_neuron* p : nodes )
  {
    p->clear_trace_samples();
  }
  sink.traces( steps.get(), count, u.get(), rho.get(), count * n );
}

void
NestDriver::take_synapse_traces_( SynapseTraceSink& sink )
{
  built_network();
  const double dt = resolution_ms();
  std::vector< std::uint64_t > step;
  std::vector< std::uint32_t > index;
  std::vector< double > weight, epsp;
  for ( const std::uint32_t target : net_.recorded_targets )
  {
    seqlearn_wta_neuron& n = neuron_object( target );
    step.clear();
    index.clear();
    weight.clear();
    epsp.clear();
    for ( const seqlearn_wta_neuron::SlotSample& s : n.slot_samples() )
    {
      const auto it = net_.recorded_slot_index.find( { target, static_cast< std::uint32_t >( s.slot ) } );
      if ( it == net_.recorded_slot_index.end() )
      {
        throw StateError( "neuron " + std::to_string( target ) + " recorded slot " + std::to_string( s.slot )
          + ", which is not a recorded synapse" );
      }
      step.push_back( static_cast< std::uint64_t >( std::llround( s.time / dt ) ) );
      index.push_back( it->second );
      weight.push_back( s.weight );
      epsp.push_back( s.epsp );
    }
    n.clear_slot_samples();
    sink.samples( step.data(), index.data(), weight.data(), epsp.data(), step.size() );
  }
}

void
NestDriver::final_state_( double* w, double* s, double* q, std::size_t n_synapses, double* bias, std::size_t n_neurons )
{
  built_network();
  require( n_synapses == net_.n_weights and n_neurons == net_.n_neurons, "final_state: wrong buffer sizes" );
  require( ( w and s and q ) or n_synapses == 0, "final_state: null buffer" );
  require( bias != nullptr, "final_state: null buffer" );
  size_t off = 0;
  for ( std::uint32_t k = 0; k < net_.n_neurons; ++k )
  {
    const seqlearn_wta_neuron& n = neuron_object( k );
    const size_t m = n.weights().size();
    require( off + m <= n_synapses, "final_state: more slots than synapses" );
    std::copy( n.weights().begin(), n.weights().end(), w + off );
    std::copy( n.S().begin(), n.S().end(), s + off );
    std::copy( n.Q().begin(), n.Q().end(), q + off );
    bias[ k ] = n.bias();
    off += m;
  }
  require( off == n_synapses, "final_state: fewer slots than synapses" );
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
