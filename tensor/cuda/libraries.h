// cuBLAS, cuRAND and (in a build with NCCL) NCCL, opened with dlopen on first use instead of linked: loading them
// costs ~200 MB of resident memory, which a CPU-only run of a CUDA-enabled build should not pay (NCCL alone is a
// 200 MB file, used only by data-parallel runs on GPUs). Only the functions swirl calls are looked up; a missing
// library or symbol is one clear swirl::Error.
#pragma once

#include <cublas_v2.h>
#include <curand.h>
#ifdef SWIRL_WITH_NCCL
#include <nccl.h>
#endif

namespace swirl::cuda {

struct CublasApi {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasDgemm_v2) dgemm;
    decltype(&cublasGetStatusName) status_name;
    decltype(&cublasGetStatusString) status_string;
};

struct CurandApi {
    decltype(&curandCreateGenerator) create_generator;
    decltype(&curandSetPseudoRandomGeneratorSeed) set_seed;
    decltype(&curandSetGeneratorOffset) set_offset;
    decltype(&curandGenerateUniform) uniform;
    decltype(&curandGenerateUniformDouble) uniform_double;
    decltype(&curandGenerateNormal) normal;
    decltype(&curandGenerateNormalDouble) normal_double;
};

#ifdef SWIRL_WITH_NCCL
struct NcclApi {
    decltype(&ncclGetUniqueId) get_unique_id;
    decltype(&ncclCommInitRank) comm_init_rank;
    decltype(&ncclCommDestroy) comm_destroy;
    decltype(&ncclCommAbort) comm_abort;
    decltype(&ncclSend) send;
    decltype(&ncclRecv) recv;
    decltype(&ncclGroupStart) group_start;
    decltype(&ncclGroupEnd) group_end;
    decltype(&ncclGetErrorString) error_string;
    decltype(&ncclGetLastError) last_error;
};
#endif

const CublasApi& cublas();  // loads libcublas on the first call
const CurandApi& curand();  // loads libcurand on the first call
#ifdef SWIRL_WITH_NCCL
const NcclApi& nccl();  // loads libnccl on the first call
#endif

}  // namespace swirl::cuda
