/*
 *  seqlearn_parameters.h
 *
 *  GENERATED from the model's parameter table (src/model/params.rs) -- do not
 *  edit.  `SEQLEARN_BLESS=1 cargo test --lib params` rewrites it; the test
 *  fails when it is stale.
 *
 *  Defaults and allowed values of the parameters of seqlearn_wta_neuron
 *  (neuron) and seqlearn_stp_synapse (synapse), with the experiment file's
 *  key of the same parameter.  The index of a choice in its *_names list is
 *  the value of the enum of cpp/kernels/seqlearn_kernels.h.
 *
 *  model    status key         unit default        config key               allowed
 *           meaning
 *  neuron   r_max              Hz   100            model.r_max_hz           > 0
 *           Maximal firing rate of a circuit: the rates of its neurons sum to it.
 *  neuron   tau_decay          ms   20             model.tau_decay_ms       > 0
 *           Decay time constant of the EPSP trace `e` and of the readout trace.
 *  neuron   tau_rise           ms   2              model.tau_rise_ms        > 0
 *           Rise time constant of the EPSP trace `f`.
 *  neuron   eta                -    0.05           model.eta                > 0
 *           Base learning rate of STDP (and of the bias).
 *  neuron   variance_tracking  -    true           model.variance_tracking  any
 *           Adaptive learning rates `eta (Q - S^2) / (exp(-S) + 1)`; off: `eta / n`.
 *  neuron   bias_learning      -    false          model.bias_learning      any
 *           Learn the biases (priors) at every training step; off in the paper.
 *  neuron   spike_law          -    "exponential"  model.spike_law          exponential | linear
 *           Spike probability per step: `exponential` (`1 - exp(-r dt)`) or `linear` (`r dt`, the 2022 NEST version).
 *  synapse  stp_variant        -    "original"     model.stp                original | off | tsodyks_markram
 *           Short-term plasticity: `original` (lagged amplitude, drifting U, dynamic inputs), `off` or `tsodyks_markram` (textbook, static inputs).
 *  neuron   learning           -    false          -                        any
 *           STDP (and bias learning) on; the drivers set it per phase
 *  neuron   vp_draws           -    false          -                        any
 *           spike draws from NEST's per-VP generator (depends on the VP count) instead of the neuron's own stream (rng_seed, node id); for comparisons with models that use it
 *  synapse  U                  -    0.5            -                        >= 0
 *           utilisation U (the mean of the recurrent sources' draw); setting U alone also sets s = U
 *  synapse  D                  ms   110            -                        >= 0
 *           depression (recovery) time constant (the mean of the draw)
 *  synapse  F                  ms   5              -                        >= 0
 *           facilitation time constant (the mean of the draw)
 *  synapse  weight             -    1              -                        any
 *           multiplies the amplitude A = R s; keep 1 (the weights live at the neuron)
 */

#ifndef SEQLEARN_PARAMETERS_H
#define SEQLEARN_PARAMETERS_H

#include <cstddef>
#include <limits>

namespace seqlearn
{
namespace parameters
{

//! The allowed values of a number: finite and above lo (lo_open) or from lo.
struct Range
{
  double lo;
  bool lo_open;
  const char* text;
};

//! seqlearn_wta_neuron
namespace neuron
{
//! Maximal firing rate of a circuit: the rates of its neurons sum to it. (Hz)
constexpr double r_max = 100.0;
constexpr Range r_max_range = { 0.0, true, "> 0" };
//! Decay time constant of the EPSP trace `e` and of the readout trace. (ms)
constexpr double tau_decay = 20.0;
constexpr Range tau_decay_range = { 0.0, true, "> 0" };
//! Rise time constant of the EPSP trace `f`. (ms)
constexpr double tau_rise = 2.0;
constexpr Range tau_rise_range = { 0.0, true, "> 0" };
//! Base learning rate of STDP (and of the bias).
constexpr double eta = 0.05;
constexpr Range eta_range = { 0.0, true, "> 0" };
//! Adaptive learning rates `eta (Q - S^2) / (exp(-S) + 1)`; off: `eta / n`.
constexpr bool variance_tracking = true;
//! Learn the biases (priors) at every training step; off in the paper.
constexpr bool bias_learning = false;
//! Spike probability per step: `exponential` (`1 - exp(-r dt)`) or `linear` (`r dt`, the 2022 NEST version).
constexpr const char* spike_law = "exponential";
constexpr const char* spike_law_names[] = { "exponential", "linear" };
constexpr std::size_t spike_law_count = 2;
//! STDP (and bias learning) on; the drivers set it per phase
constexpr bool learning = false;
//! spike draws from NEST's per-VP generator (depends on the VP count) instead of the neuron's own stream (rng_seed, node id); for comparisons with models that use it
constexpr bool vp_draws = false;
}  // namespace neuron

//! seqlearn_stp_synapse
namespace synapse
{
//! Short-term plasticity: `original` (lagged amplitude, drifting U, dynamic inputs), `off` or `tsodyks_markram` (textbook, static inputs).
constexpr const char* stp_variant = "original";
constexpr const char* stp_variant_names[] = { "original", "off", "tsodyks_markram" };
constexpr std::size_t stp_variant_count = 3;
//! utilisation U (the mean of the recurrent sources' draw); setting U alone also sets s = U
constexpr double U = 0.5;
constexpr Range U_range = { 0.0, false, ">= 0" };
//! depression (recovery) time constant (the mean of the draw) (ms)
constexpr double D = 110.0;
constexpr Range D_range = { 0.0, false, ">= 0" };
//! facilitation time constant (the mean of the draw) (ms)
constexpr double F = 5.0;
constexpr Range F_range = { 0.0, false, ">= 0" };
//! multiplies the amplitude A = R s; keep 1 (the weights live at the neuron)
constexpr double weight = 1.0;
constexpr Range weight_range = { -std::numeric_limits< double >::infinity(), true, "any" };
}  // namespace synapse

}  // namespace parameters
}  // namespace seqlearn

#endif
