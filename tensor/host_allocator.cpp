// The host caching allocator: blocks of 256 bytes and more are kept on per-size-class free lists (up to 1 GiB in all);
// smaller ones go straight to malloc. Under AddressSanitizer nothing is cached, so use-after-free stays visible.
#include "tensor/host_allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

namespace swirl {

namespace {

constexpr std::size_t kAlignment = 64;  // a cache line: rows vectorise cleanly
constexpr std::size_t kCacheFrom = std::size_t{1} << 8, kCacheLimit = std::size_t{1} << 30;
// GCC defines __SANITIZE_ADDRESS__; clang answers __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define SWIRL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SWIRL_ASAN 1
#endif
#endif
#ifdef SWIRL_ASAN
constexpr bool kCaching = false;
#else
constexpr bool kCaching = true;
#endif

struct HostCache {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
    HostMemoryStats stats;
};

HostCache& cache() {
    static HostCache* instance = new HostCache;  // never destroyed: tensors may outlive static destruction
    return *instance;
}

std::size_t rounded(std::size_t bytes) { return size_class(bytes, kCacheFrom, kAlignment); }

}  // namespace

std::size_t size_class(std::size_t bytes, std::size_t smallest, std::size_t granule) {
    if (bytes < smallest) return bytes == 0 ? granule : (bytes + granule - 1) / granule * granule;
    std::size_t power = smallest;
    while (power * 2 <= bytes) power *= 2;
    const std::size_t unit = power / 4;
    return (bytes + unit - 1) / unit * unit;
}

void* host_allocate(std::size_t bytes) {
    const std::size_t size = rounded(bytes);
    HostCache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        c.stats.in_use += size;
        if (c.stats.in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.in_use;
        auto found = c.free_blocks.find(size);
        if (found != c.free_blocks.end() && !found->second.empty()) {
            void* block = found->second.back();
            found->second.pop_back();
            c.stats.cached -= size;
            return block;
        }
    }
    void* block = std::aligned_alloc(kAlignment, size);
    if (block == nullptr) {  // give the cache back to the system and try once more
        {
            std::lock_guard<std::mutex> lock(c.mutex);
            for (auto& [block_size, blocks] : c.free_blocks)
                for (void* cached : blocks) std::free(cached);
            c.free_blocks.clear();
            c.stats.cached = 0;
        }
        block = std::aligned_alloc(kAlignment, size);
    }
    if (block == nullptr) {
        std::size_t in_use = 0;
        {
            std::lock_guard<std::mutex> lock(c.mutex);
            c.stats.in_use -= size;
            in_use = c.stats.in_use;
        }
        constexpr double kMiB = 1 << 20;
        SWIRL_FAIL("out of host memory: cannot allocate {:.1f} MiB; swirl's tensors hold {:.1f} MiB (a smaller batch "
                   "needs less)", static_cast<double>(size) / kMiB, static_cast<double>(in_use) / kMiB);
    }
    return block;
}

void host_release(void* pointer, std::size_t bytes) {
    if (pointer == nullptr) return;
    const std::size_t size = rounded(bytes);
    HostCache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        c.stats.in_use -= size;
        if (kCaching && size >= kCacheFrom && c.stats.cached + size <= kCacheLimit) {
            c.free_blocks[size].push_back(pointer);
            c.stats.cached += size;
            return;
        }
    }
    std::free(pointer);
}

HostMemoryStats host_memory_stats() {
    HostCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.stats;
}

void host_reset_peak() {
    HostCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.peak_in_use = c.stats.in_use;
}

}  // namespace swirl
