// dlopen of cuBLAS, cuRAND and NCCL: first by soname (the system's library path), then from the toolkit swirl was
// built against.
#include "tensor/cuda/libraries.h"

#include <dlfcn.h>

#include <string>

#include "tensor/error.h"

namespace swirl::cuda {

namespace {

void* open_library(const char* soname, const char* toolkit_path) {
    if (void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return handle;
    if (void* handle = ::dlopen(toolkit_path, RTLD_NOW | RTLD_LOCAL)) return handle;
    const char* error = ::dlerror();
    SWIRL_FAIL("cannot load {} (nor {}): {}", soname, toolkit_path, error != nullptr ? error : "unknown error");
}

template <typename Function>
void look_up(void* library, const char* name, Function& function) {
    function = reinterpret_cast<Function>(::dlsym(library, name));
    SWIRL_CHECK(function != nullptr, "the CUDA library lacks {}: it is older than the toolkit swirl was built with", name);
}

}  // namespace

const CublasApi& cublas() {
    static const CublasApi api = [] {
        void* library = open_library(SWIRL_CUBLAS_SONAME, SWIRL_CUBLAS_PATH);
        CublasApi a{};
        look_up(library, "cublasCreate_v2", a.create);
        look_up(library, "cublasSetMathMode", a.set_math_mode);
        look_up(library, "cublasSgemm_v2", a.sgemm);
        look_up(library, "cublasDgemm_v2", a.dgemm);
        look_up(library, "cublasGetStatusName", a.status_name);
        look_up(library, "cublasGetStatusString", a.status_string);
        return a;
    }();
    return api;
}

const CurandApi& curand() {
    static const CurandApi api = [] {
        void* library = open_library(SWIRL_CURAND_SONAME, SWIRL_CURAND_PATH);
        CurandApi a{};
        look_up(library, "curandCreateGenerator", a.create_generator);
        look_up(library, "curandSetPseudoRandomGeneratorSeed", a.set_seed);
        look_up(library, "curandSetGeneratorOffset", a.set_offset);
        look_up(library, "curandGenerateUniform", a.uniform);
        look_up(library, "curandGenerateUniformDouble", a.uniform_double);
        look_up(library, "curandGenerateNormal", a.normal);
        look_up(library, "curandGenerateNormalDouble", a.normal_double);
        return a;
    }();
    return api;
}

#ifdef SWIRL_WITH_NCCL
const NcclApi& nccl() {
    static const NcclApi api = [] {
        void* library = open_library(SWIRL_NCCL_SONAME, SWIRL_NCCL_PATH);
        NcclApi a{};
        look_up(library, "ncclGetUniqueId", a.get_unique_id);
        look_up(library, "ncclCommInitRank", a.comm_init_rank);
        look_up(library, "ncclCommDestroy", a.comm_destroy);
        look_up(library, "ncclCommAbort", a.comm_abort);
        look_up(library, "ncclSend", a.send);
        look_up(library, "ncclRecv", a.recv);
        look_up(library, "ncclGroupStart", a.group_start);
        look_up(library, "ncclGroupEnd", a.group_end);
        look_up(library, "ncclGetErrorString", a.error_string);
        look_up(library, "ncclGetLastError", a.last_error);
        return a;
    }();
    return api;
}
#endif

}  // namespace swirl::cuda
