// Data-parallel training (data_parallel.hpp): gradient buckets averaged over the ranks on a
// communication thread while backward() goes on, on the collectives of dist/distributed.hpp.
#include "data_parallel.hpp"

#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>

namespace nyx::dist {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001B3ULL;
    return hash;
}

}  // namespace

std::uint64_t hash_parameters(const nn::Module& module) {
    std::uint64_t hash = 0xCBF29CE484222325ULL;
    for (const auto& [name, p] : module.named_parameters()) {
        const Tensor c = kernels::contiguous(p);
        const std::string header = detail::cat(name, " ", c.dtype(), " ", to_string(c.shape()));
        hash = fnv1a(hash, header.data(), header.size() + 1);
        hash = fnv1a(hash, c.raw_data(), static_cast<std::size_t>(c.numel()) * element_size(c.dtype()));
    }
    return hash;
}

void check_replicas_identical(const nn::Module& module) {
    const std::vector<std::uint64_t> hashes = all_gather(hash_parameters(module));
    for (const std::uint64_t h : hashes) {
        if (h == hashes.front()) continue;
        std::string listed;
        for (std::size_t r = 0; r < hashes.size(); ++r) listed += detail::cat(r ? ", " : "", "rank ", r, ": ", hashes[r]);
        throw Error(detail::cat("the ranks' parameters differ (hashes ", listed, "): the replicas have diverged, so the job "
                                "no longer trains one model; was a parameter changed on one rank only?"));
    }
}

// --- DataParallel ---------------------------------------------------------------------------------

struct DataParallel::Impl {
    struct Slot {  // one parameter in a bucket
        Tensor parameter;
        std::int64_t offset = 0;
        bool filled = false;  // its gradient was copied in during this backward
    };
    // A bucket's flat buffer holds its parameters' gradients divided by K, then one element per slot
    // that is 1/K when this rank's backward reached the parameter: after the sum, the gradients'
    // average, and whether any rank reached each parameter.
    struct Bucket {
        std::vector<Slot> slots;
        Tensor flat;               // 1-D, the parameters' dtype
        std::int64_t reached = 0;  // where the per-slot elements start
        std::int64_t waiting = 0;  // slots not yet filled in this backward
        bool ready = false;
    };

    std::vector<Bucket> buckets;
    std::unordered_map<const TensorImpl*, std::pair<std::size_t, std::size_t>> where;  // parameter -> (bucket, slot)
    std::vector<HookHandle> hooks;
    nn::Module* model;
    Group group{"the allreduce of a gradient bucket"};  // the buckets' own: backward() may run collectives of its own meanwhile (max_over_ranks)
    bool in_backward = false;
    std::uint64_t pass = 0;  // the autograd::backward_pass() this state belongs to
    std::size_t next_to_start = 0;
    CommStats stats;

    // The communication thread: runs the buckets handed to it, in order, one at a time.
    std::thread worker;
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::size_t> queue;
    std::size_t finished = 0;  // buckets done in this backward
    double allreduce_seconds = 0;
    bool stopping = false;

    Impl(nn::Module& module, const DataParallelOptions& options) : model(&module) {
        for (const auto& [name, t] : module.named_parameters()) replicate_from_rank_0(t);
        for (const auto& [name, t] : module.named_buffers()) replicate_from_rank_0(t);
        // Reverse order of registration: the last layers' gradients are final first. Frozen
        // parameters (requires_grad off) take no part.
        std::vector<Tensor> parameters = module.parameters();
        const auto cap = static_cast<std::int64_t>(options.bucket_mb * (1 << 20));
        std::int64_t bytes = 0;
        for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
            const Tensor& p = *it;
            if (!p.requires_grad()) continue;
            const std::int64_t size = p.numel() * static_cast<std::int64_t>(element_size(p.dtype()));
            const bool fits = !buckets.empty() && buckets.back().slots.front().parameter.dtype() == p.dtype() && bytes + size <= cap;
            if (!fits) buckets.emplace_back(), bytes = 0;
            Bucket& b = buckets.back();
            const std::int64_t offset = b.slots.empty() ? 0 : b.slots.back().offset + b.slots.back().parameter.numel();
            NYX_CHECK(offset + p.numel() < INT_MAX - 65536, "DataParallel: a parameter of ", p.numel(), " elements is too large for one allreduce");
            where[p.impl().get()] = {buckets.size() - 1, b.slots.size()};
            b.slots.push_back({p, offset, false});
            bytes += size;
        }
        for (Bucket& b : buckets) {
            b.reached = b.slots.back().offset + b.slots.back().parameter.numel();
            b.flat = empty({b.reached + static_cast<std::int64_t>(b.slots.size())}, b.slots.front().parameter.dtype());
        }
        for (Bucket& b : buckets)
            for (const Slot& s : b.slots)
                hooks.push_back(s.parameter.register_post_accumulate_grad_hook([this](const Tensor& p) { on_gradient(p); }));
        // Last, so that a failure leaves no module told: the modules' own hooks, then the thread.
        try {
            module.apply([](nn::Module& m) { m.set_batch_reductions({.max = max_over_ranks}); });
            worker = std::thread([this] { run_worker(); });
        } catch (...) {
            module.apply([](nn::Module& m) { m.set_batch_reductions({}); });
            throw;
        }
    }

    ~Impl() {
        hooks.clear();
        model->apply([](nn::Module& m) { m.set_batch_reductions({}); });
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        changed.notify_all();
        worker.join();
    }

    static void replicate_from_rank_0(const Tensor& t) {
        NoGradGuard no_grad;
        Tensor c = kernels::contiguous_copy(t);
        broadcast(c, 0);
        if (rank() != 0) Tensor(t).copy_(c);
    }

    void begin_backward() {
        if (in_backward) {  // a backward() that threw part-way: let the buckets it started finish, then start afresh
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return finished == next_to_start; });
            allreduce_seconds = 0;
        }
        in_backward = true;
        pass = autograd::backward_pass();
        next_to_start = 0;
        {
            std::lock_guard lock(mutex);
            finished = 0;
        }
        for (Bucket& b : buckets) {
            b.waiting = static_cast<std::int64_t>(b.slots.size()), b.ready = false;
            for (Slot& s : b.slots) s.filled = false;
        }
        autograd::queue_callback([this] { end_backward(); });
    }

    // The slot's share of the average: its gradient divided by K, and whether it had one.
    void fill(Bucket& b, std::size_t index) {
        Slot& s = b.slots[index];
        const Tensor grad = s.parameter.grad();
        const double scale = 1.0 / world_size();
        dispatch_floating(b.flat.dtype(), "DataParallel", [&]<class T>() {
            T* out = b.flat.data<T>() + s.offset;
            const std::int64_t n = s.parameter.numel();
            b.flat.data<T>()[b.reached + static_cast<std::int64_t>(index)] = grad.defined() ? static_cast<T>(scale) : T(0);
            if (!grad.defined()) {
                std::fill(out, out + n, T(0));
                return;
            }
            const T* in = grad.data<T>();  // backward() keeps leaf gradients contiguous
            for (std::int64_t i = 0; i < n; ++i) out[i] = in[i] * static_cast<T>(scale);
        });
        s.filled = true;
        if (--b.waiting == 0) b.ready = true;
    }

    void on_gradient(const Tensor& p) {
        if (!in_backward || pass != autograd::backward_pass()) begin_backward();
        const auto [bucket, slot] = where.at(p.impl().get());
        Bucket& b = buckets[bucket];
        if (!b.slots[slot].filled) fill(b, slot);
        start_ready_buckets();
    }

    // Buckets start in index order on every rank (MPI matches collectives by order): each once it
    // and all before it are ready.
    void start_ready_buckets() {
        std::size_t start = next_to_start;
        while (next_to_start < buckets.size() && buckets[next_to_start].ready) ++next_to_start;
        if (start == next_to_start) return;
        {
            std::lock_guard lock(mutex);
            for (; start < next_to_start; ++start) queue.push_back(start);
        }
        changed.notify_all();
    }

    // At the end of backward(): the parameters this rank's pass did not reach join with zeros; wait
    // for every bucket, then write the averages into the gradients of the parameters some rank
    // reached (one that no rank reached keeps no gradient, as in one process).
    void end_backward() {
        for (Bucket& b : buckets)
            for (std::size_t i = 0; i < b.slots.size(); ++i)
                if (!b.slots[i].filled) fill(b, i);
        start_ready_buckets();
        const auto waited = Clock::now();
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return finished == buckets.size(); });
            stats.allreduce_seconds += allreduce_seconds;
            allreduce_seconds = 0;
        }
        stats.exposed_seconds += seconds_since(waited);
        NoGradGuard no_grad;
        for (Bucket& b : buckets) {
            for (std::size_t i = 0; i < b.slots.size(); ++i) {
                const Slot& s = b.slots[i];
                if (b.flat.select(0, b.reached + static_cast<std::int64_t>(i)).item<double>() == 0) continue;  // no rank reached it
                const Tensor average = b.flat.narrow(0, s.offset, s.parameter.numel()).view(s.parameter.shape());
                const Tensor grad = s.parameter.grad();
                if (grad.defined()) Tensor(grad).copy_(average);
                else s.parameter.set_grad(average.clone());
            }
            stats.bytes += b.reached * static_cast<std::int64_t>(element_size(b.flat.dtype()));
        }
        ++stats.steps;
        in_backward = false;
    }

    void run_worker() {
        for (;;) {
            std::size_t index = 0;
            {
                std::unique_lock lock(mutex);
                changed.wait(lock, [&] { return stopping || !queue.empty(); });
                if (stopping) return;
                index = queue.front();
                queue.pop_front();
            }
            const auto began = Clock::now();
            group.all_reduce(buckets[index].flat);
            {
                std::lock_guard lock(mutex);
                ++finished;
                allreduce_seconds += seconds_since(began);
            }
            changed.notify_all();
        }
    }
};

DataParallel::DataParallel(nn::Module& module, DataParallelOptions options) {
    NYX_CHECK(options.bucket_mb > 0 && options.bucket_mb <= 1024, "DataParallel: bucket_mb must lie in (0, 1024], got ",
              options.bucket_mb);  // in a job of one too, so that a bad option shows before it runs on a cluster
    if (world_size() > 1) impl_ = std::make_unique<Impl>(module, options);
}
DataParallel::~DataParallel() = default;

std::int64_t DataParallel::buckets() const { return impl_ ? static_cast<std::int64_t>(impl_->buckets.size()) : 0; }

const CommStats& DataParallel::stats() const {
    static const CommStats none;
    return impl_ ? impl_->stats : none;
}

void DataParallel::reset_stats() {
    if (impl_) impl_->stats = {};
}

}  // namespace nyx::dist
