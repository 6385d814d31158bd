#pragma once
// Data-parallel training over MPI, as PyTorch's torch.distributed and DistributedDataParallel.
//
// The same program runs K times (`mpirun -np K prog`), once per rank. Each rank holds a whole
// replica of the model and trains on its share of every batch; each backward() averages the
// gradients over the ranks, so every replica takes the same optimizer step and stays identical.
//
//     dist::Session session(argc, argv);         // MPI when mpirun started us, else a job of one
//     auto model = make_model(seed);             // the same seed on every rank
//     dist::DataParallel parallel(*model);       // rank 0's weights everywhere; gradients hooked
//     for (...) {
//         Tensor loss = loss_fn((*model)(my_share_of_the_batch));
//         optimizer.zero_grad();
//         loss.backward();                       // returns with the gradients averaged over ranks
//         optimizer.step();
//     }
//
// How the averaging overlaps backward(): the gradients are packed into buckets of about
// `bucket_mb`, filled in reverse order of the parameters (about the order in which backward()
// finishes them). When a bucket's last gradient is final (a post-accumulate-grad hook), its
// MPI_Allreduce starts on a communication thread while backward() goes on with the layers below;
// backward() returns once every bucket is back in the gradients. Buckets start in the same order on
// every rank, which MPI's collectives need.
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

#include "module.hpp"

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
// would share it). One process: the value itself.
Tensor max_over_ranks(const Tensor& value);

// This rank's generator for the draws that should differ between ranks (dropout masks), made from
// rank 0's: rank 0 keeps it, and rank r > 0 gets a stream of its own at the same position. A
// checkpoint stores rank 0's generator, so the ranks draw apart again after a resume with any K.
// One process: `rank_0` itself.
Generator rank_stream(const Generator& rank_0);

// A hash of the parameters' names, dtypes, shapes and bytes (FNV-1a, 64 bits).
std::uint64_t hash_parameters(const nn::Module& module);
// Throws unless every rank holds the same parameters, listing each rank's hash when they differ.
void check_replicas_identical(const nn::Module& module);

struct DataParallelOptions {
    double bucket_mb = 2;  // gradient MiB per allreduce (a parameter larger than this gets its own)
};

// What the averaging cost since the start (or reset_stats()), for reports.
struct CommStats {
    std::int64_t steps = 0;         // backward passes averaged
    std::int64_t bytes = 0;         // gradient bytes reduced per rank, summed over steps
    double allreduce_seconds = 0;   // wall time of the bucket allreduces, start to end, summed
    double exposed_seconds = 0;     // time backward() waited for them after its last hook
};

class DataParallel {
  public:
    // Broadcasts rank 0's parameters and buffers to the other ranks (every rank must construct it),
    // then averages every backward()'s gradients. With one rank it does nothing. A parameter that
    // some rank's backward reached gets the average on every rank; one that none reached keeps no
    // gradient, as in one process. Frozen parameters (requires_grad off) are left alone.
    // Layers that reduce over the batch learn that it spans the ranks (NystromAttention's
    // original pseudo-inverse start), so that K ranks compute what one process computes.
    // After a backward() that threw on every rank alike, the next one starts afresh; one that threw
    // on one rank only leaves the ranks out of step: end the job (abort_job).
    explicit DataParallel(nn::Module& module, DataParallelOptions options = {});
    ~DataParallel();
    DataParallel(const DataParallel&) = delete;
    DataParallel& operator=(const DataParallel&) = delete;

    std::int64_t buckets() const;
    const CommStats& stats() const;
    void reset_stats();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nyx::dist
