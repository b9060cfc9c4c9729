// bridge.cc -- see bridge.h.  New libstdc++ ABI; talks to seqlearnmodule.so
// only through the Driver interface of cpp/driver/seqlearn_driver.h.
#include "seqlearn-nest/cpp/bridge.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqlearn-nest/src/engine/nest/driver.rs.h"

namespace seqlearn
{
namespace bridge
{
namespace
{

std::string
dl_error()
{
  const char* e = dlerror();
  return e ? std::string( e ) : std::string( "unknown dlopen error" );
}

//! dlopen(libpython) and Py_InitializeEx(0): the NEST kernel's static
//! initialiser calls into CPython.
void
load_python( const std::string& py )
{
  void* h = dlopen( py.c_str(), RTLD_NOW | RTLD_GLOBAL );
  if ( h == nullptr )
  {
    throw std::runtime_error( "cannot load libpython '" + py + "': " + dl_error() );
  }
  using IsInit = int ( * )();
  using InitEx = void ( * )( int );
  dlerror();
  auto is_init = reinterpret_cast< IsInit >( dlsym( h, "Py_IsInitialized" ) );
  auto init_ex = reinterpret_cast< InitEx >( dlsym( h, "Py_InitializeEx" ) );
  if ( is_init == nullptr or init_ex == nullptr )
  {
    throw std::runtime_error( "'" + py + "' does not look like libpython (Py_InitializeEx missing)" );
  }
  if ( not is_init() )
  {
    init_ex( 0 );
  }
}

driver::SynapsesView
synapses_view( const Synapses& s )
{
  const std::size_t n = s.source.size();
  if ( s.target.size() != n or s.slot.size() != n or s.u.size() != n or s.d.size() != n or s.f.size() != n )
  {
    throw std::invalid_argument( "synapse arrays differ in length" );
  }
  return driver::SynapsesView {
    s.source.data(), s.target.data(), s.slot.data(), s.u.data(), s.d.data(), s.f.data(), n, s.variant
  };
}

driver::StatusTarget
target_of( const StatusTarget& t )
{
  return driver::StatusTarget { t.target, t.neuron, t.source };
}

}  // namespace

std::unique_ptr< Kernel >
load_kernel( rust::Str libpython, rust::Str kernel, rust::Str module )
{
  // libgomp reads this when the kernel is loaded; the active default makes
  // idle threads spin and ruins multi-threaded runs on small machines.
  setenv( "OMP_WAIT_POLICY", "passive", 0 );
  load_python( std::string( libpython ) );
  const std::string kp( kernel );
  if ( dlopen( kp.c_str(), RTLD_NOW | RTLD_GLOBAL ) == nullptr )
  {
    throw std::runtime_error( "cannot load the NEST kernel '" + kp + "': " + dl_error() );
  }
  const std::string mp( module );
  void* hm = dlopen( mp.c_str(), RTLD_NOW | RTLD_GLOBAL );
  if ( hm == nullptr )
  {
    throw std::runtime_error( "cannot load the seqlearn module '" + mp + "': " + dl_error() );
  }
  using Factory = driver::Driver* ( * ) ( int, const char*, const char** );
  dlerror();
  auto create = reinterpret_cast< Factory >( dlsym( hm, "seqlearn_driver_create" ) );
  if ( create == nullptr )
  {
    throw std::runtime_error( "'" + mp + "' has no seqlearn_driver_create (an old module? rebuild it): " + dl_error() );
  }
  const char* why = nullptr;
  driver::Driver* d = create( driver::ABI_VERSION, mp.c_str(), &why );
  if ( d == nullptr )
  {
    throw std::runtime_error( "'" + mp + "': " + ( why ? why : "no driver" ) );
  }
  return std::make_unique< Kernel >( mp, d );
}

Kernel::Kernel( std::string module_path, driver::Driver* d )
  : module_path_( std::move( module_path ) )
  , driver_( d )
{
}

Kernel::~Kernel()
{
  driver_->destroy();
}

void
Kernel::check( const driver::Status status ) const
{
  if ( status != driver::Status::Ok )
  {
    const std::string msg( driver_->error() );
    throw std::runtime_error( msg.empty() ? "driver error " + std::to_string( static_cast< int >( status ) ) : msg );
  }
}

rust::String
Kernel::module_path() const
{
  return rust::String( module_path_ );
}

void
Kernel::reset( std::uint32_t threads, std::uint32_t seed )
{
  check( driver_->reset( threads, seed ) );
}

void
Kernel::build( const NetworkSpec& spec )
{
  std::vector< driver::NeuronView > neurons;
  neurons.reserve( spec.neurons.size() );
  for ( const NeuronSpec& n : spec.neurons )
  {
    neurons.push_back( driver::NeuronView { n.circuit_size, n.circuit_index, n.n_incoming, n.bias, n.trained } );
  }
  std::vector< driver::RecordedSlot > slots;
  for ( const RecordedSlot& r : spec.recorded_synapses )
  {
    slots.push_back( driver::RecordedSlot { r.target, r.slot } );
  }
  const NeuronParams& p = spec.params;
  if ( spec.input_offsets.empty()
    or ( spec.forced and spec.forced_offsets.size() != spec.neurons.size() + 1 ) )
  {
    throw std::invalid_argument( "network spec: input_offsets (n_inputs + 1) or forced_offsets (n_neurons + 1)" );
  }
  const driver::NetworkView view {
    driver::NeuronParams { p.r_max, p.tau_decay, p.tau_rise, p.eta, p.variance_tracking, p.bias_learning, p.spike_law },
    neurons.data(),
    neurons.size(),
    spec.weights.data(),
    spec.weights.size(),
    spec.input_offsets.size() - 1,
    spec.input_offsets.data(),
    spec.input_steps.data(),
    synapses_view( spec.input_synapses ),
    synapses_view( spec.recurrent_synapses ),
    spec.reset_steps.data(),
    spec.reset_steps.size(),
    spec.forced,
    spec.forced_offsets.data(),
    spec.forced_steps.data(),
    spec.recorded_neurons.data(),
    spec.recorded_neurons.size(),
    slots.data(),
    slots.size(),
    spec.synapse_interval,
  };
  check( driver_->build( view ) );
}

void
Kernel::set_learning( bool on )
{
  check( driver_->set_learning( on ) );
}

void
Kernel::set_trace_recording( bool on, std::uint64_t interval )
{
  check( driver_->set_trace_recording( on, interval ) );
}

void
Kernel::prepare()
{
  check( driver_->prepare() );
}

void
Kernel::run( std::uint64_t steps )
{
  check( driver_->run( steps ) );
}

void
Kernel::cleanup()
{
  check( driver_->cleanup() );
}

std::uint64_t
Kernel::kernel_steps()
{
  std::uint64_t steps = 0;
  check( driver_->kernel_steps( &steps ) );
  return steps;
}

void
Kernel::take_spikes( Output& out )
{
  struct Sink final : driver::SpikeSink
  {
    Output& out;
    explicit Sink( Output& o )
      : out( o )
    {
    }
    void
    spikes( const std::uint32_t* neuron, const std::uint64_t* step, std::size_t n ) override
    {
      out.append_spikes( rust::Slice< const std::uint32_t >( neuron, n ), rust::Slice< const std::uint64_t >( step, n ) );
    }
  } sink( out );
  check( driver_->take_spikes( sink ) );
}

void
Kernel::take_traces( Output& out )
{
  struct Sink final : driver::TraceSink
  {
    Output& out;
    explicit Sink( Output& o )
      : out( o )
    {
    }
    void
    traces( const std::uint64_t* steps, std::size_t n_samples, const double* u, const double* rho, std::size_t n_values )
      override
    {
      out.append_traces( rust::Slice< const std::uint64_t >( steps, n_samples ),
        rust::Slice< const double >( u, n_values ),
        rust::Slice< const double >( rho, n_values ) );
    }
  } sink( out );
  check( driver_->take_traces( sink ) );
}

void
Kernel::take_synapse_traces( Output& out )
{
  struct Sink final : driver::SynapseTraceSink
  {
    Output& out;
    explicit Sink( Output& o )
      : out( o )
    {
    }
    void
    samples( const std::uint64_t* step,
      const std::uint32_t* synapse,
      const double* weight,
      const double* epsp,
      std::size_t n ) override
    {
      out.append_synapse_samples( rust::Slice< const std::uint64_t >( step, n ),
        rust::Slice< const std::uint32_t >( synapse, n ),
        rust::Slice< const double >( weight, n ),
        rust::Slice< const double >( epsp, n ) );
    }
  } sink( out );
  check( driver_->take_synapse_traces( sink ) );
}

void
Kernel::final_state( rust::Slice< double > w, rust::Slice< double > s, rust::Slice< double > q, rust::Slice< double > bias )
{
  if ( s.size() != w.size() or q.size() != w.size() )
  {
    throw std::invalid_argument( "final_state: w, S and Q differ in length" );
  }
  check( driver_->final_state( w.data(), s.data(), q.data(), w.size(), bias.data(), bias.size() ) );
}

Parallel
Kernel::parallel()
{
  driver::Parallel p {};
  check( driver_->parallel( &p ) );
  return Parallel { p.ranks, p.rank, p.threads, p.vps, p.have_mpi };
}

void
Kernel::shutdown( std::int32_t code )
{
  check( driver_->shutdown( code ) );
}

StatusValue
Kernel::get_status( const StatusTarget& target, rust::Str key )
{
  struct Sink final : driver::ValueSink
  {
    StatusValue v { ValueKind::Number, 0.0, rust::Vec< double >(), rust::String(), false };
    void
    value( const driver::ValueView& x ) override
    {
      v.kind = x.kind;
      v.number = x.number;
      v.flag = x.flag;
      for ( std::size_t i = 0; i < x.n_numbers; ++i )
      {
        v.numbers.push_back( x.numbers[ i ] );
      }
      v.text = rust::String( x.text == nullptr ? "" : std::string( x.text, x.text_len ) );
    }
  } sink;
  const std::string k( key );
  check( driver_->get_status( target_of( target ), k.c_str(), sink ) );
  return std::move( sink.v );
}

void
Kernel::set_status( const StatusTarget& target, rust::Str key, const StatusValue& value )
{
  const std::string k( key );
  const std::string text( value.text );
  const driver::ValueView v {
    value.kind, value.number, value.numbers.data(), value.numbers.size(), text.data(), text.size(), value.flag
  };
  check( driver_->set_status( target_of( target ), k.c_str(), v ) );
}

}  // namespace bridge
}  // namespace seqlearn
