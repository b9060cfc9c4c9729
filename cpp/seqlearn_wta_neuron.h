/*
 *  seqlearn_wta_neuron.h
 *
 *  Stochastic soft winner-take-all neuron of Klampfl & Maass (2013), with
 *  per-slot EPSP traces, STDP with variance tracking and optional bias
 *  learning.  See docs/nest.md and docs/model.md sections 2-3.
 *
 *  Time convention: the NEST update step t (interval (t, t+1] ms) computes
 *  native step t of the model.  Spikes of native step t carry the stamp t+1.
 */

#ifndef SEQLEARN_WTA_NEURON_H
#define SEQLEARN_WTA_NEURON_H

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "archiving_node.h"
#include "connection.h"
#include "event.h"
#include "nest_types.h"
#include "random_generators.h"
#include "recordables_map.h"
#include "secondary_event.h"
#include "universal_data_logger.h"

namespace seqlearn
{

/* BeginUserDocs: neuron, stochastic, soft winner-take-all

Short description
+++++++++++++++++

Stochastic soft-WTA neuron with per-slot double-exponential EPSP traces and
STDP with adaptive (variance-tracking) learning rates.

Description
+++++++++++

Every incoming connection arrives on its own receptor port ("slot").  The
neuron keeps two traces e_j, f_j per slot, the weight w_j and the variance
tracking state S_j, Q_j.  The potential is u = b + sum_j w_j (e_j - f_j).
The neurons of one circuit (circuit_size K, own index circuit_index) exchange
their potentials through rate_connection_instantaneous connections
(receptor_type = sender's circuit_index); each neuron predicts its potential
for the next step at the end of the current one, which the two-step spike
latency of the model makes exact, so the soft-max normalisation has no lag.
The value sent is exp(u - c), with a shift c (the circuit's largest
potential of the previous step) that every member computes alike, so that
the soft-max costs one exp per neuron rather than K.

Parameters and state: see docs/nest.md.

Receives
++++++++

SpikeEvent (rport = slot), InstantaneousRateConnectionEvent (rport = circuit
index of the sender), DataLoggingRequest

Sends
+++++

SpikeEvent, InstantaneousRateConnectionEvent

EndUserDocs */

class seqlearn_wta_neuron : public nest::ArchivingNode
{
public:
  seqlearn_wta_neuron();
  seqlearn_wta_neuron( const seqlearn_wta_neuron& );

  using nest::Node::handle;
  using nest::Node::handles_test_event;
  using nest::Node::sends_secondary_event;

  size_t send_test_event( nest::Node&, size_t, nest::synindex, bool ) override;

  void handle( nest::SpikeEvent& ) override;
  void handle( nest::InstantaneousRateConnectionEvent& ) override;
  void handle( nest::DataLoggingRequest& ) override;

  size_t handles_test_event( nest::SpikeEvent&, size_t ) override;
  size_t handles_test_event( nest::InstantaneousRateConnectionEvent&, size_t ) override;
  size_t handles_test_event( nest::DataLoggingRequest&, size_t ) override;

  void
  sends_secondary_event( nest::InstantaneousRateConnectionEvent& ) override
  {
  }

  void get_status( Dictionary& ) const override;
  void set_status( const Dictionary& ) override;

  //! Driver access (sl_capi.cpp), without building a status dictionary:
  //! switch the trace recording; throws BadProperty on a bad interval.
  void set_trace_recording( bool on, double interval_ms );
  //! The trace samples held (since the last clear_trace_samples): their
  //! number and the time (ms), u and rho of sample i.
  size_t
  n_trace_samples() const
  {
    return B_.traces_.size();
  }
  double
  trace_sample_time( const size_t i ) const
  {
    return B_.traces_[ i ].time;
  }
  double
  trace_sample_u( const size_t i ) const
  {
    return B_.traces_[ i ].u;
  }
  double
  trace_sample_rho( const size_t i ) const
  {
    return B_.traces_[ i ].rho;
  }
  void
  clear_trace_samples()
  {
    // clear() keeps the capacity: the next chunk fills it without reallocating
    B_.traces_.clear();
  }

private:
  void init_buffers_() override;
  void pre_run_hook() override;
  void update( nest::Time const&, const long, const long ) override;

  friend class nest::RecordablesMap< seqlearn_wta_neuron >;
  friend class nest::UniversalDataLogger< seqlearn_wta_neuron >;

  enum class SpikeLaw
  {
    EXPONENTIAL,
    LINEAR
  };

  //! LAZY: traces decay in closed form, touched only on input / learning /
  //! read-out (O(inputs) per step).  EXACT: every slot updated every step
  //! with e += a - e*kd (O(n_incoming) per step, bit-exact Euler form).
  enum class TraceMode
  {
    LAZY,
    EXACT
  };

  struct Parameters_
  {
    double r_max_;                        //!< Hz
    double tau_decay_;                    //!< ms
    double tau_rise_;                     //!< ms
    double eta_;                          //!< base learning rate
    bool variance_tracking_;              //!< adaptive learning rates
    bool learning_;                       //!< STDP on/off
    bool bias_learning_;                  //!< prior learning on/off
    SpikeLaw spike_law_;                  //!< p = 1-exp(-r dt) or r dt
    TraceMode trace_mode_;                //!< lazy (default) or exact traces
    long n_incoming_;                     //!< number of slots
    long circuit_size_;                   //!< K
    long circuit_index_;                  //!< own position in the circuit
    std::vector< double > reset_times_;   //!< ms, native step times
    bool forced_;                         //!< spike only at forced_spikes
    std::vector< double > forced_spikes_; //!< ms, native step times
    std::vector< long > recorded_slots_;  //!< slots recorded to slot_recording
    double slot_recording_interval_;      //!< ms
    bool record_traces_;                  //!< record u, rho to trace_recording
    double trace_recording_interval_;     //!< ms

    Parameters_();
    void get( Dictionary& ) const;
    void set( const Dictionary& );
  };

public:
  //! The traces of one slot.
  struct Slot
  {
    double e;  //!< decay trace (as of step tau)
    double f;  //!< rise trace (as of step tau)
    long tau;  //!< lazy mode: step at which e, f are valid
  };

private:
  //! lazy mode: an input not yet added to its slot's traces
  struct PendingInput
  {
    long step;
    size_t slot;
    double amplitude;
  };

  struct State_
  {
    std::vector< Slot > slot_;  //!< per slot: traces
    std::vector< double > w_;  //!< per slot: weight
    //! lazy mode: inputs not yet added to slot_, in step order.  An arriving
    //! spike only needs its slot's weight (for the trace sums); the traces
    //! take the logged inputs when they are next read, so the scattered
    //! slots are touched at the neuron's own spikes, one neuron at a time.
    std::vector< PendingInput > pending_;
    //! lazy mode: the first pending_summed_ entries of pending_ are in se_, sf_
    size_t pending_summed_;
    std::vector< double > S_;  //!< variance tracking: running mean of w
    std::vector< double > Q_;  //!< variance tracking: running mean of w^2
    double bias_;
    double bias_S_;
    double bias_Q_;
    long n_train_steps_;
    double u_;       //!< potential used in the current step
    double rho_;     //!< rate fraction used in the current step
    double u_next_;  //!< own potential predicted for the next step
    long last_step_;  //!< last native step computed (-1 before the first)
    double se_;       //!< lazy mode: sum_j w_j e_j at last_step_
    double sf_;       //!< lazy mode: sum_j w_j f_j at last_step_
    bool sums_valid_; //!< se_, sf_ match w_, e_, f_

    State_();
    void resize( size_t n );
    void get( Dictionary& ) const;
    void set( const Dictionary&, const Parameters_& );
  };

  struct Buffers_
  {
    Buffers_( seqlearn_wta_neuron& );
    Buffers_( const Buffers_&, seqlearn_wta_neuron& );

    //! incoming (slot, amplitude) pairs, one list per ring-buffer row
    struct Input
    {
      size_t slot;
      double amplitude;
    };
    // The members used in every step come first, so that they share the
    // object's first cache lines.

    std::vector< std::vector< Input > > in_rows_;
    //! exp( u_k - circuit_shift_ ) of all circuit members for the current step
    std::vector< double > circuit_v_;
    //! the shift c of circuit_v_, the same in every member of the circuit
    double circuit_shift_;
    //! own predicted potentials sent at the end of a slice
    std::vector< double > sent_u_;
    //! the stamp (tics) of the last arriving spike and its step: the spikes
    //! arriving in one step share their stamp, so handle() converts it once
    long stamp_tics_;
    long stamp_steps_;

    //! trace recording (u, rho of the step; the multimeter's values without
    //! its per-step request/reply traffic and one-slice lag).  One vector of
    //! samples, not three: each step writes into one partly filled cache
    //! line per neuron, which the rest of the step has often evicted (hence
    //! also the prefetch of the next sample's place after each write).
    struct TraceSample
    {
      double time;  //!< ms, native step time
      double u;
      double rho;
    };
    std::vector< TraceSample > traces_;

    //! exact mode: dense per-slot amplitudes of the current step
    std::vector< double > dense_in_;

    //! per-slot recording
    std::vector< double > rec_times_;
    std::vector< long > rec_slots_;
    std::vector< double > rec_weights_;
    std::vector< double > rec_epsps_;

    nest::UniversalDataLogger< seqlearn_wta_neuron > logger_;
  };

  struct Variables_
  {
    double dt_ms_;
    double dt_s_;
    double kd_;
    double kr_;
    //! (1 - kd)^k, (1 - kr)^k interleaved for k < POW_TABLE_SIZE; shared by
    //! all neurons with the same time constants, so that it stays in cache
    std::shared_ptr< const std::vector< double > > pow_table_;
    const double* pow_;  //!< pow_table_->data()
    std::vector< long > reset_steps_;
    std::vector< long > forced_steps_;
    size_t reset_cursor_;  //!< first index of reset_steps_ not below the last query
    size_t pending_limit_;  //!< length at which the pending inputs are applied
    long rec_interval_steps_;
    long trace_interval_steps_;
    long next_trace_step_;  //!< no trace sample before this step (0: recompute)
    nest::RngPtr rng_;
  };

  //! Whether step t is a reset step (reset_steps_ is sorted; the queries of
  //! a run are non-decreasing, so a cursor replaces the binary search).
  bool
  is_reset_step_( const long t )
  {
    const std::vector< long >& rs = V_.reset_steps_;
    size_t c = V_.reset_cursor_;
    if ( c > 0 and rs[ c - 1 ] >= t )
    {
      c = static_cast< size_t >( std::lower_bound( rs.begin(), rs.end(), t ) - rs.begin() );
    }
    while ( c < rs.size() and rs[ c ] < t )
    {
      ++c;
    }
    V_.reset_cursor_ = c;
    return c < rs.size() and rs[ c ] == t;
  }

  double
  get_u_() const
  {
    return S_.u_;
  }
  double
  get_rho_() const
  {
    return S_.rho_;
  }

  void resize_input_buffer_();
  //! the trace samples as three columns
  void copy_traces_( std::vector< double >& times, std::vector< double >& u, std::vector< double >& rho ) const;
  //! lazy mode: bring a slot to step t (no input in between); pow = V_.pow_
  void decay_slot_( Slot& x, long t, const double* pow ) const;
  //! lazy mode: add the pending inputs of steps <= t to their slots
  void apply_pending_( State_& s, long t ) const;
  //! lazy mode: log an input of step t (applying the log when it is long)
  void log_input_( size_t slot, long t, double amplitude );
  //! the STDP update of all slots at a spike of step t (lazy: traces
  //! brought to t first); se_, sf_ are re-summed with the new weights
  void learn_slots_( long t, bool lazy );
  //! bring every slot to step t and set tau = t (both modes)
  void normalize_( State_& s, long t ) const;

  Parameters_ P_;
  State_ S_;
  Variables_ V_;
  Buffers_ B_;

  //! highest slot an incoming spike connection uses (n_incoming may not drop below it)
  long max_connected_slot_;

  static nest::RecordablesMap< seqlearn_wta_neuron > recordablesMap_;
};

inline size_t
seqlearn_wta_neuron::send_test_event( nest::Node& target, size_t receptor_type, nest::synindex, bool )
{
  nest::SpikeEvent e;
  e.set_sender( *this );
  return target.handles_test_event( e, receptor_type );
}

inline size_t
seqlearn_wta_neuron::handles_test_event( nest::DataLoggingRequest& dlr, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return B_.logger_.connect_logging_device( dlr, recordablesMap_ );
}

inline void
seqlearn_wta_neuron::handle( nest::DataLoggingRequest& e )
{
  B_.logger_.handle( e );
}

}  // namespace seqlearn

#endif
