#pragma once
// Collectives over MPI for jobs of several processes, as PyTorch's torch.distributed: the session,
// the ranks, the collectives, the job's timeout and abort, a differentiable maximum over the ranks,
// and each rank's own random stream. Data-parallel training on top of them is nn/data_parallel.hpp.
//
// The same program runs K times (`mpirun -np K prog`), once per rank:
//
//     dist::Session session(argc, argv);   // MPI when mpirun started us, else a job of one
//     Tensor t = ...;                      // contiguous f32, f64 or i64
//     dist::all_reduce(t);                 // summed over the ranks, in place
//
// A rank that dies or hangs never hangs the others: every collective here gives up after
// timeout() seconds (default 300) and ends the whole job with a message (MPI_Abort), and so does
// the barrier before MPI_Finalize. mpirun itself ends the job when a rank exits abnormally.
//
// Without MPI (nyx built with NYX_MPI off, or a process not started by mpirun) the job has one
// rank and everything here returns at once.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nyx/core/random.hpp>
#include <nyx/core/tensor.hpp>


namespace nyx::dist {

// Whether this nyx was built with MPI (the CMake option NYX_MPI).
bool built_with_mpi();

// Starts MPI when this process was launched by mpirun (Open MPI's or PMIx's environment says so),
// else stands for a job of one; finalises MPI when it goes. One per process, in main().
class Session {
  public:
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
};

int rank();        // 0 .. world_size() - 1
int world_size();  // 1 without a Session under mpirun

// How long a collective may wait for the other ranks before the job is ended (seconds, > 0).
void set_timeout(double seconds);
double timeout();

// Collectives: every rank calls the same ones in the same order. Tensors are contiguous f32, f64
// or i64 and are changed in place.
enum class ReduceOp { sum, max, min };
void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::sum);
void broadcast(Tensor& tensor, int root = 0);
void broadcast(std::string& bytes, int root = 0);  // resized on the receiving ranks
std::vector<std::uint64_t> all_gather(std::uint64_t value);
void barrier();

// Ends every rank of the job with `code` (MPI_Abort); in a job of one, std::exit(code). Print the
// reason first: MPI prints only that the job was aborted.
[[noreturn]] void abort_job(int code);

// The largest value of a one-element tensor over the ranks, differentiable: in backward the
// gradients of all ranks are summed and go to the rank holding the maximum, as they would in one
// process holding the whole batch (on a tie across ranks, the lowest takes it all; one process
// would share it). One process: a copy of the value, recorded, whose gradient is the incoming one.
Tensor max_over_ranks(const Tensor& value);

// This rank's generator for the draws that should differ between ranks (dropout masks), made from
// rank 0's: rank 0 keeps it, and rank r > 0 gets a stream of its own at the same position. A
// checkpoint stores rank 0's generator, so the ranks draw apart again after a resume with any K.
// One process: `rank_0` itself.
Generator rank_stream(const Generator& rank_0);

// A communicator of its own over every rank (MPI_Comm_dup of the world's). Its collectives never
// match those on the world's, so one thread may run them while another runs the world's: DataParallel
// reduces its gradient buckets on one while backward() runs max_over_ranks on the world's. Every rank
// makes its groups in the same order. In a job of one it does nothing.
class Group {
  public:
    // `collective`: what a timeout's message calls this group's allreduce ("the allreduce of a
    // gradient bucket", say).
    explicit Group(std::string collective = "an allreduce on a group");
    ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;
    void all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::sum);  // as dist::all_reduce

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nyx::dist
