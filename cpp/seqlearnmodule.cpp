/*
 *  seqlearnmodule.cpp
 *
 *  NEST 3.10 extension module registering seqlearn_wta_neuron and
 *  seqlearn_stp_synapse.  Load with nest.Install("/abs/path/seqlearnmodule.so")
 *  or nest::install_module(path); libltdl looks up the symbol
 *  seqlearnmodule_LTX_module.
 */

#include "nest_extension_interface.h"

#include "seqlearn_stp_synapse.h"
#include "seqlearn_wta_neuron.h"

namespace seqlearn
{

class SeqlearnModule : public nest::NESTExtensionInterface
{
public:
  ~SeqlearnModule() override
  {
  }

  void
  initialize() override
  {
    nest::register_node_model< seqlearn_wta_neuron >( "seqlearn_wta_neuron" );
    nest::register_connection_model< seqlearn_stp_synapse >( "seqlearn_stp_synapse" );
  }
};

}  // namespace seqlearn

// The module object looked up by nest::install_module.
seqlearn::SeqlearnModule seqlearnmodule_LTX_module;
