/*
 *  sl_capi.h
 *
 *  C driver API of seqlearnmodule.so.  Compiled into the module with the old
 *  libstdc++ ABI (like the NEST wheel); callers see only C types.  Every
 *  function catches all exceptions and returns 0 on success or a negative
 *  error code; sl_last_error() returns the message of the last failure of the
 *  calling thread.
 *
 *  Times are native step times in ms (step t <-> t * dt, dt = 1 ms): input
 *  spike times given to sl_create_inputs and spike / multimeter / recording
 *  times returned by the fetch functions.  NEST itself stamps them (t + 1) * dt; the
 *  conversion happens here.
 *
 *  Two-call pattern for variable-length output: sl_fetch_* stores the data in
 *  a cache and returns its length; sl_copy_* copies it into caller buffers of
 *  at least that length.  sl_get_vector with out == NULL only reports the
 *  length.
 */

#ifndef SEQLEARN_SL_CAPI_H
#define SEQLEARN_SL_CAPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define SL_API_VERSION 4

/* error codes */
#define SL_OK 0
#define SL_ERR_NEST -1     /* NEST raised an exception */
#define SL_ERR_ARG -2      /* invalid argument (sizes, null pointers, ...) */
#define SL_ERR_STATE -3    /* call out of order (no kernel, no recorder, ...) */
#define SL_ERR_UNKNOWN -4  /* unexpected C++ exception */

int sl_api_version( void );
const char* sl_last_error( void );

/* Kernel: init_nest on first call, ResetKernel on later calls; resolution
 * 1 ms, local_num_threads, rng_seed.  Forgets all ids and recorders. */
int sl_init( int threads, long seed );
/* nest::install_module(path); path should be absolute. */
int sl_install_module( const char* path );

/* Model defaults of seqlearn_wta_neuron for neurons created afterwards. */
int sl_set_neuron_defaults( double r_max,
  double tau_decay,
  double tau_rise,
  double eta,
  int variance_tracking,
  int bias_learning,
  const char* spike_law );

/* Create n neurons.  weights holds sum(n_incoming) initial weights, neuron by
 * neuron (may be NULL: all zero).  *first_id receives the node id of the
 * first neuron; ids are consecutive. */
int sl_create_neurons( size_t n,
  const long* circuit_size,
  const long* circuit_index,
  const long* n_incoming,
  const double* weights,
  size_t n_weights,
  long* first_id );

/* Connect the k neurons of one circuit (ids in circuit_index order) all to
 * all with rate_connection_instantaneous, receptor_type = sender's index. */
int sl_connect_circuit( const long* ids, size_t k );

/* One spike_generator per channel.  Channel c has the native step times
 * times[offsets[c] .. offsets[c+1]) (ms); offsets has n_channels + 1
 * entries.  *first_id receives the id of the first generator. */
int sl_create_inputs( size_t n_channels, const size_t* offsets, const double* times, size_t n_times, long* first_id );

/* n seqlearn_stp_synapse connections (delay 1 ms) with receptor_type = slot
 * and per-connection U, D, F; variant "original" | "off" | "tsodyks_markram"
 * for all of them. */
int sl_connect( size_t n,
  const long* sources,
  const long* targets,
  const long* slots,
  const double* U,
  const double* D,
  const double* F,
  const char* variant );

/* Reset times (native step times, ms) for all neurons and synapses. */
int sl_set_reset_times( const double* times, size_t n );
/* learning flag of every seqlearn neuron created so far */
int sl_set_learning( int on );
/* forced = 1 and forced_spikes = times (native step times, ms) */
int sl_set_forced_spikes( long node, const double* times, size_t n );
/* recorded_slots and slot_recording_interval (ms) of one neuron */
int sl_set_recorded_slots( long node, const long* slots, size_t n, double interval );

/* spike_recorder connected to every seqlearn neuron created so far */
int sl_record_spikes( long* recorder_id );
/* multimeter recording u and rho of the given neurons every interval ms */
int sl_record_multimeter( const long* ids, size_t n, double interval, long* multimeter_id );

int sl_prepare( void );
int sl_run( double ms );
int sl_cleanup( void );
/* biological time of the kernel in ms */
int sl_kernel_time( double* ms );

/* Take the spikes recorded since the last take.  Outside a Prepare/Cleanup
 * context the recorder is emptied; inside one (NEST refuses to modify
 * recorders there) the events stay in NEST and only the new ones are handed
 * out, so read after sl_cleanup in long runs to bound memory. */
int sl_fetch_spikes( size_t* n );
int sl_copy_spikes( long* senders, double* times, size_t cap );
/* Take the multimeter samples since the last take (same rules as spikes). */
int sl_fetch_multimeter( size_t* n );
int sl_copy_multimeter( long* senders, double* times, double* u, double* rho, size_t cap );
/* Take the slot recording of one neuron (emptied). */
int sl_fetch_slot_recording( long node, size_t* n );
int sl_copy_slot_recording( double* times, long* slots, double* weights, double* epsps, size_t cap );

/* Trace recording of seqlearn neurons: u and rho of every native step t with
 * t % (interval / dt) == 0, kept in the neuron (no multimeter).  Switch it on
 * or off for n neurons; interval (ms) must be a positive multiple of the
 * resolution.  All ids and the interval are checked first: a failing call
 * changes nothing. */
int sl_set_trace_recording( const long* ids, size_t n, int on, double interval );
/* Take the trace recordings of n neurons that sampled the same steps as one
 * sample-major block (the neurons are emptied).  sl_fetch_trace_block checks
 * the ids and that all sample times agree (else an error naming the node)
 * and gives the number of samples; sl_copy_trace_block then writes
 * times[i] and u[i * n + k], rho[i * n + k] for the neuron ids[k]
 * (n_values = n_samples * n, the length of u and rho).  Allowed
 * between sl_run calls inside a Prepare/Cleanup context: the samples of a
 * run are complete when it returns (no one-slice lag as with the
 * multimeter). */
int sl_fetch_trace_block( const long* ids, size_t n, size_t* n_samples );
int sl_copy_trace_block( double* times, double* u, double* rho, size_t n_samples, size_t n_values );

/* Self-test of the neuron's learning kernel (cpp/seqlearn_kernels.h) on n
 * pseudo-random slots per setting, some outside the polynomial's range:
 * *path_diff = largest |difference| between the vectorised (AVX2 + FMA, if
 * the CPU has them) and the scalar path (0 when they give the same bits);
 * *ref_diff = largest relative difference from the formulas of
 * docs/model.md section 3 evaluated with libm's exp.  *simd = 1 if the
 * vectorised path ran.  Needs no kernel. */
int sl_kernel_selftest( size_t n, double* path_diff, double* ref_diff, int* simd );

/* Neuron status access.  Vectors: weights, epsp_e, epsp_f, S, Q, reset_times,
 * forced_spikes.  Scalars (returned as double): any number or bool. */
int sl_get_vector( long node, const char* key, double* out, size_t cap, size_t* n );
int sl_get_scalar( long node, const char* key, double* out );
int sl_set_vector( long node, const char* key, const double* values, size_t n );
int sl_set_double( long node, const char* key, double value );
int sl_set_long( long node, const char* key, long value );
int sl_set_bool( long node, const char* key, int value );
int sl_set_string( long node, const char* key, const char* value );

/* STP state (s, R, U) of the connections sources[i] -> targets[i]. */
int sl_get_stp_state( size_t n, const long* sources, const long* targets, double* s, double* R, double* U );

#ifdef __cplusplus
}
#endif

#endif
