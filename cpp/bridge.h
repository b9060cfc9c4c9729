// bridge.h -- C++ side of the NEST driver's cxx bridge (src/engine/nest/driver.rs).
//
// Compiled by cxx-build with the default (new) libstdc++ ABI and linked into
// the Rust binary.  It links neither NEST nor libpython: load_kernel dlopens
// libpython (RTLD_GLOBAL) and initialises it, dlopens the NEST kernel
// (nestkernel_api.so, RTLD_GLOBAL) and the seqlearn module, and asks the
// module's one factory (cpp/driver/seqlearn_driver.h) for its Driver.  A
// Kernel unpacks the cxx types (whose accessors call into the Rust runtime)
// into the driver's plain views and turns a failed Status into an exception
// (an Err in Rust).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rust/cxx.h"
#include "seqlearn-nest/cpp/driver/seqlearn_driver.h"

namespace seqlearn
{
namespace bridge
{

using driver::Target;
using driver::ValueKind;

// shared structs and the opaque Rust sink, defined by cxx in the generated header
struct NetworkSpec;
struct StatusTarget;
struct StatusValue;
struct Output;
struct Parallel;

//! The loaded module's driver, driven from Rust.
class Kernel
{
public:
  Kernel( std::string module_path, driver::Driver* d );
  ~Kernel();
  Kernel( const Kernel& ) = delete;
  Kernel& operator=( const Kernel& ) = delete;

  rust::String module_path() const;
  void reset( std::uint32_t threads, std::uint32_t seed );
  void build( const NetworkSpec& spec );
  void set_learning( bool on );
  void set_trace_recording( bool on, std::uint64_t interval );
  void prepare();
  void run( std::uint64_t steps );
  void cleanup();
  std::uint64_t kernel_steps();
  void take_spikes( Output& out );
  void take_traces( Output& out );
  void take_synapse_traces( Output& out );
  void final_state( rust::Slice< double > w, rust::Slice< double > s, rust::Slice< double > q, rust::Slice< double > bias );
  Parallel parallel();
  void shutdown( std::int32_t code );
  StatusValue get_status( const StatusTarget& target, rust::Str key );
  void set_status( const StatusTarget& target, rust::Str key, const StatusValue& value );

private:
  void check( driver::Status status ) const;

  std::string module_path_;
  driver::Driver* driver_;
};

//! Loads libpython, the NEST kernel and the module (once per process; a
//! second call with another module path is an error) and makes the Kernel.
std::unique_ptr< Kernel > load_kernel( rust::Str libpython, rust::Str kernel, rust::Str module );

}  // namespace bridge
}  // namespace seqlearn
