// Collectives over MPI (distributed.hpp). The MPI calls are compiled only with NYX_MPI; without
// it the job has one rank and the collectives return at once.
#include "distributed.hpp"

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

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
    std::atomic<double> timeout{300};  // read by the threads that run a Group's collectives too
    // MPI is initialised with MPI_THREAD_SERIALIZED: the calling thread (main, or one running a Group's)
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

// Ends the job from whichever thread gets here first (the main thread and one running a Group's
// collectives may both time out); MPI_Abort is called under the lock, as every MPI call here is.
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

#if NYX_HAVE_MPI
namespace {
void all_reduce_on(MPI_Comm comm, Tensor& tensor, ReduceOp op, const char* what) {
    tensor.impl()->storage->bump_version();
    run_collective(what, [&](MPI_Request* r) {
        return MPI_Iallreduce(MPI_IN_PLACE, tensor.raw_data(), static_cast<int>(tensor.numel()), mpi_type(tensor.dtype()), mpi_op(op),
                              comm, r);
    });
}
}  // namespace
#endif

void all_reduce(Tensor& tensor, ReduceOp op) {
    check_collective_tensor(tensor, "all_reduce");
    if (world_size() == 1) return;
#if NYX_HAVE_MPI
    all_reduce_on(MPI_COMM_WORLD, tensor, op, "an allreduce");
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

namespace {
// (out ? 1 : 0) · Σ over the ranks of (in ? x : 0), the same on every rank but for `out`: max_over_ranks's
// backward. Recorded, for higher-order gradients: the map is linear, and its transpose swaps in and out.
Tensor masked_rank_sum(const Tensor& x, bool in, bool out) {
    Tensor total = in ? kernels::contiguous_copy(x) : zeros_like(x);
    all_reduce(total);
    Tensor y = out ? total : zeros_like(total);
    autograd::record("max_over_ranks backward", {x}, {y},
                     [in, out](const autograd::Gradients& g) { return autograd::Gradients{masked_rank_sum(g[0], out, in)}; });
    return y;
}
}  // namespace

Tensor max_over_ranks(const Tensor& value) {
    NYX_CHECK(value.defined() && value.numel() == 1 && is_floating(value.dtype()), "dist::max_over_ranks: expected one f32 or f64 "
              "value, got ", value.defined() ? detail::cat(to_string(value.shape()), " ", value.dtype()) : std::string("an undefined tensor"));
    // A job of one records it too, so that the op table's gradcheck runs this very backward.
    bool holder = true;
    Tensor top = full(value.shape(), value.item<double>(), value.dtype());
#if NYX_HAVE_MPI
    if (world_size() > 1) {
        struct {
            double value;
            int rank;
        } mine{value.item<double>(), rank()}, largest{};
        run_collective("an allreduce (max_over_ranks)", [&](MPI_Request* r) {
            return MPI_Iallreduce(&mine, &largest, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD, r);  // ties: the lowest rank
        });
        holder = largest.rank == rank();
        kernels::fill(top, largest.value);
    }
#endif
    // dvalue = Σ over the ranks of dy on the rank holding the maximum, 0 on the others
    autograd::record("max_over_ranks", {value}, {top}, [holder](const autograd::Gradients& g) {
        return autograd::Gradients{masked_rank_sum(g[0], true, holder)};
    });
    return top;
}

Generator rank_stream(const Generator& rank_0) {
    if (rank() == 0) return rank_0;
    constexpr std::uint64_t first_rank_stream = 0x5eec;  // far from the few streams callers number from 0
    return Generator(mix_seed(rank_0.seed(), first_rank_stream + static_cast<std::uint64_t>(rank())), rank_0.offset());
}

struct Group::Impl {
    std::string collective;
#if NYX_HAVE_MPI
    MPI_Comm comm = MPI_COMM_NULL;
#endif
};

Group::Group(std::string collective) : impl_(std::make_unique<Impl>(Impl{std::move(collective)})) {
#if NYX_HAVE_MPI
    if (world_size() > 1) run_collective("MPI_Comm_idup", [&](MPI_Request* r) { return MPI_Comm_idup(MPI_COMM_WORLD, &impl_->comm, r); });
#endif
}

Group::~Group() {
#if NYX_HAVE_MPI
    if (impl_->comm == MPI_COMM_NULL) return;
    std::lock_guard lock(state().mpi);
    MPI_Comm_free(&impl_->comm);
#endif
}

void Group::all_reduce(Tensor& tensor, ReduceOp op) {
    check_collective_tensor(tensor, "Group::all_reduce");
    if (world_size() == 1) return;
#if NYX_HAVE_MPI
    all_reduce_on(impl_->comm, tensor, op, impl_->collective.c_str());
#else
    (void)op;
#endif
}

}  // namespace nyx::dist
