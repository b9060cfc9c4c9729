/*
 *  seqlearn_wta_neuron.h
 *
 *  Stochastic soft winner-take-all neuron of Klampfl & Maass (2013), with
 *  per-slot EPSP traces, STDP with variance tracking and optional bias
 *  learning (docs/model.md sections 2-3, docs/nest.md).
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

#include "kernels/seqlearn_kernels.h"

namespace seqlearn
{

// clang-format off
/* BeginUserDocs: neuron, stochastic, soft winner-take-all

Short description
+++++++++++++++++

Stochastic soft-WTA neuron with per-slot double-exponential EPSP traces and
STDP with adaptive (variance-tracking) learning rates

Description
+++++++++++

Every incoming connection arrives on its own receptor port, the *slot* j.
Per slot the neuron keeps two traces e_j, f_j, the weight w_j and the
variance-tracking state S_j, Q_j.  One update step t (native step t of the
model, dt = resolution = 1 ms) does, in this order:

a. traces: the amplitudes A_j of the spikes of step t-1 arrive,
   e_j += A_j - e_j dt/tau_decay, f_j += A_j - f_j dt/tau_rise (reset
   steps: e = f = 0);
b. u = b + sum_j w_j Y_j with Y_j = e_j - f_j;
c. soft-WTA: rho = exp(u) / sum_{l in circuit} exp(u_l), r = r_max rho;
d. spike with probability 1 - exp(-r dt) (or r dt), or at forced steps;
e. if learning: STDP of every slot at a spike, eta_j = eta (Q_j - S_j^2) /
   (exp(-S_j) + 1) (or eta / n), w_j += eta_j (Y_j - exp(w_j)) /
   max(exp(w_j), eta_j), then S_j, Q_j; with bias learning the same rule
   for b at every training step (Z = spiked);
f. the potential of step t+1 (known now: a spike of step t first reaches
   Y at t+2), sent to the circuit peers as exp(u - c) with a shift c shared
   by the circuit, so that the soft-WTA of step t+1 uses same-step values.

The equations are the kernels of kernels/seqlearn_kernels.h, shared with the
native engine.  Traces are kept lazily: a slot's e, f are brought forward
in closed form only when read (its own spike, a slot recording, a status
read); the weighted sums sum_j w_j e_j, sum_j w_j f_j are kept per step.
A non-forced neuron draws one uniform per step from its own stream
(kernels::draw_stream of the kernel's rng_seed and its node id), so a run
gives the same result on any number of threads and MPI ranks.

Connect the K neurons of a circuit pairwise with rate_connection_instantaneous
(receptor_type = the sender's circuit_index), every other input with
seqlearn_stp_synapse (receptor_type = slot), all with delay = resolution.
NEST update step t (interval (t, t+1] ms) computes native step t; a spike of
step t has the stamp t+1.  Times of reset_times, forced_spikes and the
recordings are native step times t*dt.

Parameters
++++++++++

Defaults and ranges of the model parameters come from seqlearn_parameters.h
(generated from the model's parameter table, src/model/params.rs).

=========================== ======= =============== ==========================================================
**Parameter**               **Unit** **Default**    **Description**
=========================== ======= =============== ==========================================================
``r_max``                   Hz      100             Maximal circuit rate (the rates of a circuit sum to it), > 0
``tau_decay``               ms      20              Decay time constant of e, > 0
``tau_rise``                ms      2               Rise time constant of f, > 0
``eta``                     -       0.05            Base learning rate, > 0
``variance_tracking``       -       true            Adaptive learning rates (else eta / n_train_steps)
``learning``                -       false           STDP (and bias learning) on; set per phase
``bias_learning``           -       false           Learn the bias at every training step
``spike_law``               -       "exponential"   "exponential": p = 1 - exp(-r dt); "linear": p = r dt
``vp_draws``                -       false           Draw from NEST's per-VP generator, not the own stream
``n_incoming``              -       0               Number of slots (new slots: w = e = f = S = 0, Q = 1)
``circuit_size``            -       1               K, the circuit's size
``circuit_index``           -       0               Own position 0..K-1 in the circuit
``reset_times``             ms      []              Native step times of trace resets
``forced``                  -       false           Spike only at forced_spikes (no random draws)
``forced_spikes``           ms      []              Native step times of forced spikes
``recorded_slots``          -       []              Slots whose weight and Y go to slot_recording
``slot_recording_interval`` ms      1               Records at steps t with t % interval == 0
``record_traces``           -       false           Record u, rho into trace_recording
``trace_recording_interval`` ms     1               Records at steps t with t % interval == 0
=========================== ======= =============== ==========================================================

State variables
+++++++++++++++

=================== ============= ===========================================================
**State variable**  **Initial**   **Description**
=================== ============= ===========================================================
``weights``         0             w_j per slot (get and set)
``epsp_e``          0             e_j per slot, as of the last computed step (get and set)
``epsp_f``          0             f_j per slot (get and set)
``S``, ``Q``        0, 1          Variance tracking per slot (get and set)
``bias``            0             b (get and set); ``bias_S`` 0, ``bias_Q`` 1
``n_train_steps``   0             Training steps so far
``u``, ``rho``      0             Potential and rate share used in the last step (read only)
``circuit_u_initial`` []          u_l(0) of the circuit's members in circuit order: their initial
                                  biases (the traces start at 0).  The one-step exchange cannot
                                  deliver them before step 0, so the creator passes them; empty
                                  means all 0.  With circuit_size > 1 the own entry must equal
                                  ``bias`` at the first run (checked).
=================== ============= ===========================================================

Recordables: ``u``, ``rho`` (the values used in the step).  ``slot_recording``
= {times, slots, weights, epsps} (weight at the start of the step and Y;
``clear_slot_recording: True`` empties it), ``trace_recording`` = {times, u,
rho} with native step times and no one-slice lag (``clear_trace_recording``).

Receives
++++++++

SpikeEvent (rport = slot), InstantaneousRateConnectionEvent (rport = the
sender's circuit_index), DataLoggingRequest

Sends
+++++

SpikeEvent, InstantaneousRateConnectionEvent

See also
++++++++

seqlearn_stp_synapse

EndUserDocs */
// clang-format on

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

  /* Driver access (cpp/driver/nest_driver.cpp), without status
   * dictionaries (they copy every vector of the neuron). */

  //! Switches the trace recording; throws BadProperty on a bad interval.
  void set_trace_recording( bool on, long interval_steps );

  //! One trace sample: native step time (ms), u and rho of that step.
  struct TraceSample
  {
    double time;
    double u;
    double rho;
  };
  const std::vector< TraceSample >&
  trace_samples() const
  {
    return B_.traces_;
  }
  void
  clear_trace_samples()
  {
    // clear() keeps the capacity: the next chunk fills it without reallocating
    B_.traces_.clear();
  }

  //! One slot sample: time (ms), slot, weight at the start of the step, Y.
  struct SlotSample
  {
    double time;
    long slot;
    double weight;
    double epsp;
  };
  const std::vector< SlotSample >&
  slot_samples() const
  {
    return B_.slot_samples_;
  }
  void
  clear_slot_samples()
  {
    B_.slot_samples_.clear();
  }

  //! The learned state: per slot w (copied out of the slots), S, Q, and
  //! the bias.
  size_t
  n_slots() const
  {
    return S_.slot_.size();
  }
  void
  copy_weights( double* w ) const
  {
    for ( const Slot& x : S_.slot_ )
    {
      *w++ = x.w;
    }
  }
  const std::vector< double >&
  S() const
  {
    return S_.S_;
  }
  const std::vector< double >&
  Q() const
  {
    return S_.Q_;
  }
  double
  bias() const
  {
    return S_.bias_;
  }

  //! One slot: the traces e, f as of step tau (lazy) and the weight w.
  //! Together in 32 bytes, two to a cache line: an arriving spike needs
  //! the weight (for the weighted sums) and the traces (for its jump), so
  //! it touches one line of the neuron's slot array, which handle()
  //! prefetches.
  struct alignas( 32 ) Slot
  {
    double e;
    double f;
    double w;
    long tau;
  };

private:
  void init_buffers_() override;
  void pre_run_hook() override;
  //! the state of step 0: u = bias, the circuit's values from circuit_u_initial
  void initial_potentials_();
  //! the kernel's rng_seed (the key of the spike draws' streams)
  static std::uint64_t rng_seed_();
  //! after step 0: every other member's value has arrived (else BadProperty)
  void check_peers_() const;
  void update( nest::Time const&, const long, const long ) override;

  friend class nest::RecordablesMap< seqlearn_wta_neuron >;
  friend class nest::UniversalDataLogger< seqlearn_wta_neuron >;

  // ---------------------------------------------------------------- the step
  //! the slots that take_input_ will touch, into cache
  void prefetch_input_slots_( long lag ) const;
  //! a. this step's input (or the reset) into the weighted sums and the log
  void take_input_( long t, long lag );
  //! the per-slot recording of step t
  void record_slots_( long t );
  //! b.-d. soft-WTA over the circuit and the spike decision; sends the spike
  bool soft_wta_and_spike_( long t, long lag );
  //! e. STDP at a spike and bias learning
  void learn_( long t, bool spiked );
  //! the trace recording and the multimeter's sample of step t
  void record_traces_( long t );
  //! f.-g. the potential of step t+1 and what the circuit gets for it
  void predict_and_exchange_( long t, long lag );

  // ---------------------------------------------------------- lazy traces
  struct State_;
  //! bring a slot to step t (no input in between)
  void decay_slot_( Slot& x, long t ) const;
  //! every slot of s brought to step t
  void normalize_( State_& s, long t ) const;
  //! se_, sf_ = sum_j w_j e_j, sum_j w_j f_j, in slot order
  void weighted_sums_();
  //! STDP of every slot at a spike of step t (traces brought to t first)
  void learn_slots_( long t, const kernels::Rates& rates );

  //! Whether step t is a reset step (reset_steps_ is sorted; the queries of
  //! a run are non-decreasing, so a cursor replaces the binary search).
  bool is_reset_step_( long t );

  void resize_input_buffer_();
  //! the decay table for the current time constants (shared when unchanged)
  void update_decay_table_();

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

  // ---------------------------------------------------------------- members
  struct Parameters_
  {
    double r_max_;                        //!< Hz
    double tau_decay_;                    //!< ms
    double tau_rise_;                     //!< ms
    double eta_;                          //!< base learning rate
    bool variance_tracking_;              //!< adaptive learning rates
    bool learning_;                       //!< STDP on/off
    bool bias_learning_;                  //!< prior learning on/off
    bool vp_draws_;                       //!< draws from NEST's per-VP generator
    kernels::SpikeLaw spike_law_;         //!< p = 1-exp(-r dt) or r dt
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

  // Member order (here and in Buffers_, and of P_, V_, S_, B_): what an
  // arriving spike touches (last_step_, the slot array, the stamp memo,
  // next_in_) sits in one stretch of 72 bytes at the end of S_ and the
  // start of B_; what every step touches precedes it.  At 40x40 the neurons' objects no
  // longer stay in cache between two steps, and handle() reached four
  // separate lines of the object.
  struct State_
  {
    //! the circuit members' potentials at step 0 (empty: all 0)
    std::vector< double > circuit_u_initial_;
    std::vector< double > S_;  //!< variance tracking: running mean of w
    std::vector< double > Q_;  //!< variance tracking: running mean of w^2
    double bias_S_;
    double bias_Q_;
    long n_train_steps_;
    double bias_;
    //! the spike draws' stream (kernels::draw_stream of rng_seed and the node
    //! id, started before the first step): the same on any thread or rank
    kernels::DrawStream draws_;
    double u_;         //!< potential used in the current step
    double rho_;       //!< rate share used in the current step
    double u_next_;    //!< own potential predicted for the next step
    double se_;        //!< sum_j w_j e_j at last_step_
    double sf_;        //!< sum_j w_j f_j at last_step_
    bool sums_valid_;  //!< se_, sf_ match the slots
    long last_step_;   //!< last native step computed (-1 before the first)
    std::vector< Slot > slot_;  //!< per slot: traces and weight

    State_();
    void resize( size_t n );
    void get( Dictionary& ) const;
    void set( const Dictionary&, const Parameters_& );
  };

  struct Buffers_
  {
    Buffers_( seqlearn_wta_neuron& );
    Buffers_( const Buffers_&, seqlearn_wta_neuron& );

    //! an arriving spike: slot and amplitude
    struct Input
    {
      size_t slot;
      double amplitude;
    };
    // The members used by every arriving spike first (see State_), then
    // those used in every step.

    //! the stamp (tics) of the last arriving spike and its step: the spikes
    //! arriving in one step share their stamp, so handle() converts it once
    long stamp_tics_;
    long stamp_steps_;
    //! the inputs of the next step (the first step of the next slice): with
    //! delay = resolution every input
    std::vector< Input > next_in_;
    //! inputs for later steps, one list per ring-buffer row
    std::vector< std::vector< Input > > in_rows_;
    //! exp( u_k - circuit_shift_ ) of all circuit members for the current step
    std::vector< double > circuit_v_;
    //! the shift c of circuit_v_, the same in every member of the circuit
    double circuit_shift_;
    //! max_l circuit_v_[l] of the current step (the next step's shift)
    double circuit_v_max_;
    //! which members' values arrived (checked once, after step 0: a circuit
    //! with a missing peer link would silently normalise over stale values)
    std::vector< bool > heard_;
    //! own predicted potentials sent at the end of a slice
    std::vector< double > sent_u_;
    //! trace recording (u, rho of the step; the multimeter's values without
    //! its per-step request/reply traffic and one-slice lag).  One vector of
    //! samples, not three: each step writes into one partly filled cache
    //! line per neuron, which the rest of the step has often evicted (hence
    //! also the prefetch of the next sample's place after each write).
    std::vector< TraceSample > traces_;

    //! per-slot recording
    std::vector< SlotSample > slot_samples_;

    nest::UniversalDataLogger< seqlearn_wta_neuron > logger_;
  };

  struct Variables_
  {
    double dt_ms_;
    double kd_;
    double kr_;
    //! (1 - kd)^m, (1 - kr)^m: one read-only table for every neuron with the
    //! same time constants (nodes are copies of the model prototype, which
    //! computes it when its parameters change), so that it stays in cache
    std::shared_ptr< const kernels::DecayTable > decay_;
    std::vector< long > reset_steps_;
    std::vector< long > forced_steps_;
    size_t reset_cursor_;   //!< first index of reset_steps_ not below the last query
    long rec_interval_steps_;
    long trace_interval_steps_;
    long next_trace_step_;  //!< no trace sample before this step (0: recompute)
    nest::RngPtr rng_;      //!< NEST's per-VP generator (vp_draws)
  };

  Parameters_ P_;
  Variables_ V_;
  State_ S_;
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

inline bool
seqlearn_wta_neuron::is_reset_step_( const long t )
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

}  // namespace seqlearn

#endif
