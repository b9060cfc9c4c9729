/*
 * mpi_exchange_timer.c -- PMPI wrapper that measures where NEST's per-step
 * MPI exchange time goes (scripts/mpi_scaling.sh preloads it).
 *
 * NEST 3.10 exchanges secondary events -- here the circuit normalisation
 * values of seqlearn_wta_neuron, sent through rate_connection_instantaneous
 * every step -- with MPI_Alltoallv (MPIManager::communicate_Alltoallv_) and
 * spikes with MPI_Alltoall (MPIManager::communicate_Alltoall).  The
 * wrapper sums the wall time in each (waiting for slower ranks included)
 * and, at MPI_Finalize, writes one line per rank to $SEQLEARN_MPI_TIMING
 * (appended; nothing without it):
 *
 *   rank=R alltoallv_s=... alltoallv_calls=N alltoall_s=... alltoall_calls=N
 *
 *   mpicc -shared -fPIC -O2 -o libmpi_exchange_timer.so mpi_exchange_timer.c
 *   LD_PRELOAD=$PWD/libmpi_exchange_timer.so mpirun -np 2 ...
 *
 * (Open MPI's mpirun forwards LD_PRELOAD to the ranks started on this node.)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static double alltoallv_s = 0.0, alltoall_s = 0.0;
static long alltoallv_calls = 0, alltoall_calls = 0;

int
MPI_Alltoallv( const void* sendbuf,
  const int sendcounts[],
  const int sdispls[],
  MPI_Datatype sendtype,
  void* recvbuf,
  const int recvcounts[],
  const int rdispls[],
  MPI_Datatype recvtype,
  MPI_Comm comm )
{
  const double t0 = MPI_Wtime();
  const int rc =
    PMPI_Alltoallv( sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm );
  alltoallv_s += MPI_Wtime() - t0;
  ++alltoallv_calls;
  return rc;
}

int
MPI_Alltoall( const void* sendbuf,
  int sendcount,
  MPI_Datatype sendtype,
  void* recvbuf,
  int recvcount,
  MPI_Datatype recvtype,
  MPI_Comm comm )
{
  const double t0 = MPI_Wtime();
  const int rc = PMPI_Alltoall( sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm );
  alltoall_s += MPI_Wtime() - t0;
  ++alltoall_calls;
  return rc;
}

int
MPI_Finalize( void )
{
  const char* path = getenv( "SEQLEARN_MPI_TIMING" );
  if ( path != NULL && path[ 0 ] != '\0' )
  {
    int rank = 0;
    PMPI_Comm_rank( MPI_COMM_WORLD, &rank );
    FILE* f = fopen( path, "a" );
    if ( f != NULL )
    {
      fprintf( f,
        "rank=%d alltoallv_s=%.6f alltoallv_calls=%ld alltoall_s=%.6f alltoall_calls=%ld\n",
        rank,
        alltoallv_s,
        alltoallv_calls,
        alltoall_s,
        alltoall_calls );
      fclose( f );
    }
  }
  return PMPI_Finalize();
}
