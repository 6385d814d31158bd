// Data-parallel training over MPI (distributed.hpp). The MPI calls are compiled only with
// NYX_MPI; without it the job has one rank and the collectives return at once.
#include "distributed.hpp"

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "attention.hpp"

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>

#if NYX_HAVE_MPI
#include <mpi.h>
#endif

namespace nyx::dist {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct State {
    bool started_mpi = false;  // this Session called MPI_Init
    int rank = 0, size = 1;
    std::atomic<double> timeout{300};  // read by DataParallel's thread too
    // MPI is initialised with MPI_THREAD_SERIALIZED: the calling thread (main or DataParallel's)
    // holds this lock around every call, and waits between calls without it.
    std::mutex mpi;
};
State& state() {
    static State s;
    return s;
}

// Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; PMIx-based launchers set PMIX_RANK; MPICH's PMI_SIZE.
bool launched_by_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_SIZE"); }

[[maybe_unused]] int launcher_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* value = std::getenv(name)) return std::atoi(value);
    return 1;
}

void check_collective_tensor(const Tensor& t, const char* what) {
    NYX_CHECK(t.defined() && t.is_contiguous() && (t.dtype() == f32 || t.dtype() == f64 || t.dtype() == i64), "dist::", what,
              ": the tensor must be contiguous f32, f64 or i64, got ", t.defined() ? to_string(t.shape()) : "an undefined tensor",
              t.defined() ? detail::cat(" ", t.dtype(), t.is_contiguous() ? "" : " (not contiguous)") : "");
    NYX_CHECK(t.numel() <= INT_MAX, "dist::", what, ": at most ", INT_MAX, " elements in one call, got ", t.numel());
}

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001B3ULL;
    return hash;
}

#if NYX_HAVE_MPI

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error(detail::cat("dist: ", call, " failed: ", std::string(text, static_cast<std::size_t>(length))));
}

MPI_Datatype mpi_type(DType dtype) {
    return dtype == f32 ? MPI_FLOAT : dtype == f64 ? MPI_DOUBLE : MPI_INT64_T;
}

// Ends the job from whichever thread gets here first (both the main thread and DataParallel's may
// time out); MPI_Abort is called under the lock, as every MPI call here is.
[[noreturn]] void abort_once(int code) {
    static std::atomic<bool> aborting{false};
    if (!aborting.exchange(true)) {
        std::fflush(stdout), std::fflush(stderr);
        std::lock_guard lock(state().mpi);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // the other thread is ending the job
}

// Starts a non-blocking collective under the lock, then tests it until it completes: with only a
// yield between tests for its first millisecond (a bucket on shared memory takes about that long),
// then every 50 µs, so that a rank waiting for a slow one does not keep a core busy. Past the
// timeout the job ends with a message instead of waiting forever.
template <class Start>
void run_collective(const char* what, Start start) {
    MPI_Request request = MPI_REQUEST_NULL;
    {
        std::lock_guard lock(state().mpi);
        check(start(&request), what);
    }
    const auto began = Clock::now();
    for (;;) {
        int done = 0;
        {
            std::lock_guard lock(state().mpi);
            check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        }
        if (done) return;
        const double waited = seconds_since(began);
        if (waited > state().timeout) {
            std::fprintf(stderr,
                         "\nnyx (rank %d of %d): %s has waited %.0f s for the other ranks; one of them has died or hangs. "
                         "Ending the job.\n",
                         state().rank, state().size, what, state().timeout.load());
            abort_once(1);
        }
        if (waited < 1e-3) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::sum ? MPI_SUM : op == ReduceOp::max ? MPI_MAX : MPI_MIN; }

#endif

}  // namespace

bool built_with_mpi() { return NYX_HAVE_MPI != 0; }

Session::Session(int& argc, char**& argv) {
    if (!launched_by_mpirun()) return;
#if NYX_HAVE_MPI
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
        int provided = 0;
        check(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
        state().started_mpi = true;
        NYX_CHECK(provided >= MPI_THREAD_SERIALIZED, "dist: this MPI library offers thread level ", provided,
                  "; nyx needs MPI_THREAD_SERIALIZED (its gradients are reduced on a thread of their own)");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &state().rank);
    MPI_Comm_size(MPI_COMM_WORLD, &state().size);
#else
    (void)argc, (void)argv;
    NYX_CHECK(launcher_size() <= 1, "this nyx was built without MPI (the CMake option NYX_MPI is OFF), so the ", launcher_size(),
              " processes mpirun started would each train alone. Install libopenmpi-dev and rebuild, or run one process");
#endif
}

Session::~Session() {
#if NYX_HAVE_MPI
    if (!state().started_mpi) return;
    try {
        barrier();  // a rank that finishes waits (with the timeout) for the others before MPI_Finalize
    } catch (...) {
    }
    MPI_Finalize();
    state().started_mpi = false;
    state().rank = 0, state().size = 1;
#endif
}

int rank() { return state().rank; }
int world_size() { return state().size; }

void set_timeout(double seconds) {
    NYX_CHECK(seconds > 0 && seconds < 1e9, "dist::set_timeout: the timeout must be a positive number of seconds, got ", seconds);
    state().timeout = seconds;
}
double timeout() { return state().timeout; }

void all_reduce(Tensor& tensor, ReduceOp op) {
    check_collective_tensor(tensor, "all_reduce");
    if (world_size() == 1) return;
#if NYX_HAVE_MPI
    tensor.impl()->storage->bump_version();
    run_collective("an allreduce", [&](MPI_Request* r) {
        return MPI_Iallreduce(MPI_IN_PLACE, tensor.raw_data(), static_cast<int>(tensor.numel()), mpi_type(tensor.dtype()), mpi_op(op),
                              MPI_COMM_WORLD, r);
    });
#else
    (void)op;
#endif
}

void broadcast(Tensor& tensor, int root) {
    check_collective_tensor(tensor, "broadcast");
    NYX_CHECK(root >= 0 && root < world_size(), "dist::broadcast: root ", root, " is not a rank of this job of ", world_size());
    if (world_size() == 1) return;
#if NYX_HAVE_MPI
    tensor.impl()->storage->bump_version();
    run_collective("a broadcast", [&](MPI_Request* r) {
        return MPI_Ibcast(tensor.raw_data(), static_cast<int>(tensor.numel()), mpi_type(tensor.dtype()), root, MPI_COMM_WORLD, r);
    });
#endif
}

void broadcast(std::string& bytes, int root) {
    Tensor size = full({1}, static_cast<double>(bytes.size()), i64);
    broadcast(size, root);  // checks the root
    if (world_size() == 1) return;
    bytes.resize(static_cast<std::size_t>(size.item<std::int64_t>()));
#if NYX_HAVE_MPI
    for (std::size_t done = 0; done < bytes.size();) {  // in pieces that an int counts
        const int piece = static_cast<int>(std::min<std::size_t>(bytes.size() - done, std::size_t{1} << 30));
        run_collective("a broadcast", [&](MPI_Request* r) { return MPI_Ibcast(bytes.data() + done, piece, MPI_BYTE, root, MPI_COMM_WORLD, r); });
        done += static_cast<std::size_t>(piece);
    }
#endif
}

std::vector<std::uint64_t> all_gather(std::uint64_t value) {
    std::vector<std::uint64_t> values(static_cast<std::size_t>(world_size()), value);
    if (world_size() == 1) return values;
#if NYX_HAVE_MPI
    run_collective("an allgather", [&](MPI_Request* r) {
        return MPI_Iallgather(&value, 1, MPI_UINT64_T, values.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD, r);
    });
#endif
    return values;
}

void barrier() {
    if (world_size() == 1) return;
#if NYX_HAVE_MPI
    run_collective("a barrier", [&](MPI_Request* r) { return MPI_Ibarrier(MPI_COMM_WORLD, r); });
#endif
}

void abort_job(int code) {
    std::fflush(stdout), std::fflush(stderr);
#if NYX_HAVE_MPI
    if (world_size() > 1) abort_once(code);
#endif
    std::exit(code);
}

Tensor max_over_ranks(const Tensor& value) {
    NYX_CHECK(value.defined() && value.numel() == 1 && is_floating(value.dtype()), "dist::max_over_ranks: expected one f32 or f64 "
              "value, got ", value.defined() ? detail::cat(to_string(value.shape()), " ", value.dtype()) : std::string("an undefined tensor"));
    if (world_size() == 1) return value;
    bool holder = true;
    Tensor top = full(value.shape(), value.item<double>(), value.dtype());
#if NYX_HAVE_MPI
    struct {
        double value;
        int rank;
    } mine{value.item<double>(), rank()}, largest{};
    run_collective("an allreduce (max_over_ranks)", [&](MPI_Request* r) {
        return MPI_Iallreduce(&mine, &largest, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD, r);  // ties: the lowest rank
    });
    holder = largest.rank == rank();
    top.fill_(largest.value);
#endif
    autograd::record("max_over_ranks", {value}, {top}, [holder](const autograd::Gradients& g) {
        Tensor total = kernels::contiguous_copy(g[0]);
        all_reduce(total);
        return autograd::Gradients{holder ? total : zeros_like(total)};
    });
    return top;
}

Generator rank_stream(const Generator& rank_0) {
    if (rank() == 0) return rank_0;
    constexpr std::uint64_t first_rank_stream = 0x5eec;  // far from the few streams callers number from 0
    return Generator(mix_seed(rank_0.seed(), first_rank_stream + static_cast<std::uint64_t>(rank())), rank_0.offset());
}

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
    std::vector<nn::NystromAttention*> batch_reducers;
#if NYX_HAVE_MPI
    MPI_Comm comm = MPI_COMM_NULL;  // the buckets' own: backward() may run collectives of its own meanwhile (max_over_ranks)
#endif
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

    Impl(nn::Module& module, const DataParallelOptions& options) {
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
#if NYX_HAVE_MPI
        run_collective("MPI_Comm_idup", [&](MPI_Request* r) { return MPI_Comm_idup(MPI_COMM_WORLD, &comm, r); });
#endif
        worker = std::thread([this] { run_worker(); });
        find_batch_reducers(module);  // last: nothing after it can fail and leave them set
    }

    ~Impl() {
        hooks.clear();
        for (nn::NystromAttention* attention : batch_reducers) attention->set_batch_across_ranks(false);
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        changed.notify_all();
        worker.join();
#if NYX_HAVE_MPI
        std::lock_guard lock(state().mpi);
        MPI_Comm_free(&comm);
#endif
    }

    void find_batch_reducers(const nn::Module& m) {
        for (const auto& [name, child] : m.children()) {
            if (auto* attention = dynamic_cast<nn::NystromAttention*>(child.get())) {
                attention->set_batch_across_ranks(true);
                batch_reducers.push_back(attention);
            }
            find_batch_reducers(*child);
        }
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
            [[maybe_unused]] Tensor& flat = buckets[index].flat;
            const auto began = Clock::now();
#if NYX_HAVE_MPI
            run_collective("the allreduce of a gradient bucket", [&](MPI_Request* r) {
                return MPI_Iallreduce(MPI_IN_PLACE, flat.raw_data(), static_cast<int>(flat.numel()), mpi_type(flat.dtype()), MPI_SUM, comm, r);
            });
#endif
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
