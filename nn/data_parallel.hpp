#pragma once
// Data-parallel training over MPI, as PyTorch's DistributedDataParallel, on the collectives of
// dist/distributed.hpp.
//
// Each rank holds a whole replica of the model and trains on its share of every batch; each
// backward() averages the gradients over the ranks, so every replica takes the same optimizer step
// and stays identical.
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
// allreduce starts on a communication thread while backward() goes on with the layers below;
// backward() returns once every bucket is back in the gradients. Buckets start in the same order on
// every rank, which MPI's collectives need.
//
// A module whose forward couples the rows of a batch learns, through Module::set_batch_reductions,
// that the batch spans the ranks (nn/module.hpp), so that K ranks compute what one process does.
#include <cstdint>
#include <memory>

#include <nyx/dist/distributed.hpp>

#include "module.hpp"

namespace nyx::dist {

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
    // Every module of the model is told, through Module::set_batch_reductions, that the batch spans
    // the ranks while it lives (NystromAttention's original pseudo-inverse start takes its maximum
    // over all of it), so that K ranks compute what one process computes.
    // After a backward() that threw on every rank alike, the next one starts afresh; one that threw
    // on one rank only leaves the ranks out of step: end the job (abort_job).
    // `module` must outlive the DataParallel, whose destructor tells its modules that the batch is
    // theirs alone again.
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
