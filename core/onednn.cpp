#include "onednn.hpp"

#if NYX_HAVE_DNNL

#include <cstddef>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

extern "C" {  // libgomp, the runtime Debian's oneDNN is built on
void omp_set_num_threads(int);
int omp_get_max_threads();
}

namespace nyx::onednn {
namespace {

using dnnl::memory;

const dnnl::engine& cpu() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

bool isa_at_least(dnnl::cpu_isa wanted) {
    const auto have = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto want = static_cast<unsigned>(wanted);
    return (have & want) == want;  // oneDNN's ISA values are nested bit sets
}

// One product's shape, layout and input dtype: what a primitive is made for.
struct Key {
    bool bf16, transpose_a, transpose_b, accumulate;
    std::int64_t m, n, k, lda, ldb, ldc;
    bool operator==(const Key&) const = default;
};

struct KeyHash {
    std::size_t operator()(const Key& key) const {
        std::size_t h = (key.bf16 << 3) | (key.transpose_a << 2) | (key.transpose_b << 1) | key.accumulate;
        for (std::int64_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc})
            h = h * 0x9e3779b97f4a7c15ULL + static_cast<std::size_t>(v);
        return h;
    }
};

struct Primitive {
    dnnl::matmul matmul;
    memory::desc a, b, c, scratchpad;
};

// A row-major rows×cols matrix with leading dimension ld, or its transpose stored so.
memory::desc matrix(std::int64_t rows, std::int64_t cols, std::int64_t ld, bool transposed, memory::data_type type) {
    return {{rows, cols}, type, transposed ? memory::dims{1, ld} : memory::dims{ld, 1}};
}

// The primitive for a key, or null when oneDNN has no implementation for it.
std::shared_ptr<const Primitive> make(const Key& key) {
    const auto in = key.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
    auto p = std::make_shared<Primitive>();
    p->a = matrix(key.m, key.k, key.lda, key.transpose_a, in);
    p->b = matrix(key.k, key.n, key.ldb, key.transpose_b, in);
    p->c = matrix(key.m, key.n, key.ldc, false, memory::data_type::f32);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per thread, so that threads can share a primitive
    if (key.accumulate) {
        dnnl::post_ops sum;
        sum.append_sum(1.0f);
        attr.set_post_ops(sum);
    }
    dnnl::matmul::primitive_desc pd;
    try {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(p->a, p->b, p->c), attr, cpu());
    } catch (const dnnl::error& e) {
        if (e.status == dnnl_unimplemented) return nullptr;
        throw;
    }
    p->scratchpad = pd.scratchpad_desc();
    p->matmul = dnnl::matmul(pd);
    return p;
}

// The primitives made so far (null for the keys oneDNN cannot do). A training step uses a few
// dozen shapes; a workload whose shapes never repeat would grow this without bound, so it starts
// afresh past a limit.
std::shared_ptr<const Primitive> primitive(const Key& key) {
    static std::shared_mutex mutex;
    static std::unordered_map<Key, std::shared_ptr<const Primitive>, KeyHash> cache;
    constexpr std::size_t limit = 4096;
    {
        std::shared_lock lock(mutex);
        if (auto it = cache.find(key); it != cache.end()) return it->second;
    }
    auto made = make(key);  // outside the lock: the JIT can take milliseconds
    std::unique_lock lock(mutex);
    if (cache.size() >= limit) cache.clear();
    return cache.try_emplace(key, std::move(made)).first->second;
}

}  // namespace

bool available() {
    static const bool yes = isa_at_least(dnnl::cpu_isa::avx512_core);
    return yes;
}

bool native_bf16() {
    static const bool yes = available() && isa_at_least(dnnl::cpu_isa::avx512_core_bf16);
    return yes;
}

const char* isa_name() {
    switch (dnnl::get_effective_cpu_isa()) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        default: return "other";
    }
}

template <class In>
bool gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const In* a,
          std::int64_t lda, const In* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc) {
    // One OpenMP thread for the call, made and run on this thread; the caller's setting after.
    struct OneOpenMPThread {
        int previous = omp_get_max_threads();
        OneOpenMPThread() { omp_set_num_threads(1); }
        ~OneOpenMPThread() { omp_set_num_threads(previous); }
    } one_thread;
    thread_local std::vector<std::byte> scratchpad;
    try {
        const auto p = primitive({std::is_same_v<In, bfloat16>, transpose_a, transpose_b, accumulate, m, n, k, lda, ldb, ldc});
        if (!p) return false;
        if (scratchpad.size() < p->scratchpad.get_size()) scratchpad.resize(p->scratchpad.get_size());
        thread_local dnnl::stream stream(cpu());
        p->matmul.execute(stream, {{DNNL_ARG_SRC, memory(p->a, cpu(), const_cast<In*>(a))},
                                   {DNNL_ARG_WEIGHTS, memory(p->b, cpu(), const_cast<In*>(b))},
                                   {DNNL_ARG_DST, memory(p->c, cpu(), c)},
                                   {DNNL_ARG_SCRATCHPAD, memory(p->scratchpad, cpu(), scratchpad.data())}});
        return true;
    } catch (const dnnl::error& e) {
        throw Error(detail::cat("oneDNN matmul [", m, ", ", k, "] x [", k, ", ", n, "] failed: ", e.what(), " (status ",
                                static_cast<int>(e.status), ")"));
    }
}

template bool gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t,
                          const float*, std::int64_t, bool, float*, std::int64_t);
template bool gemm<bfloat16>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const bfloat16*, std::int64_t,
                             const bfloat16*, std::int64_t, bool, float*, std::int64_t);

}  // namespace nyx::onednn

#else  // built without oneDNN: every product goes to OpenBLAS

namespace nyx::onednn {

bool available() { return false; }
bool native_bf16() { return false; }
const char* isa_name() { return "none"; }

template <class In>
bool gemm(bool, bool, std::int64_t, std::int64_t, std::int64_t, const In*, std::int64_t, const In*, std::int64_t, bool,
          float*, std::int64_t) {
    return false;  // built without oneDNN (NYX_DNNL=OFF)
}

template bool gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t,
                          const float*, std::int64_t, bool, float*, std::int64_t);
template bool gemm<bfloat16>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const bfloat16*, std::int64_t,
                             const bfloat16*, std::int64_t, bool, float*, std::int64_t);

}  // namespace nyx::onednn

#endif
