// SWIRL_CUDA_CHECK, SWIRL_CUBLAS_CHECK, SWIRL_CURAND_CHECK and (in a build with NCCL) SWIRL_NCCL_CHECK: every call
// into the CUDA libraries is checked and a failure throws swirl::Error with file, line, the call and the library's
// own error string; NCCL's also carries its last error message, which names the cause (its codes are coarse:
// "invalid usage" covers two ranks on one GPU). Kept free of fmt so that .cu files (compiled by nvcc) can include it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>
#ifdef SWIRL_WITH_NCCL
#include <nccl.h>
#endif

namespace swirl::cuda {

[[noreturn]] void fail_cuda(const char* file, int line, const char* call, cudaError_t code);
[[noreturn]] void fail_cublas(const char* file, int line, const char* call, cublasStatus_t code);
[[noreturn]] void fail_curand(const char* file, int line, const char* call, curandStatus_t code);
#ifdef SWIRL_WITH_NCCL
[[noreturn]] void fail_nccl(const char* file, int line, const char* call, ncclResult_t code);
#endif

}  // namespace swirl::cuda

#define SWIRL_CUDA_CHECK(call)                                                               \
    do {                                                                                     \
        cudaError_t swirl_code_ = (call);                                                    \
        if (swirl_code_ != cudaSuccess) ::swirl::cuda::fail_cuda(__FILE__, __LINE__, #call, swirl_code_); \
    } while (0)

#define SWIRL_CUBLAS_CHECK(call)                                                             \
    do {                                                                                     \
        cublasStatus_t swirl_code_ = (call);                                                 \
        if (swirl_code_ != CUBLAS_STATUS_SUCCESS) ::swirl::cuda::fail_cublas(__FILE__, __LINE__, #call, swirl_code_); \
    } while (0)

#define SWIRL_CURAND_CHECK(call)                                                             \
    do {                                                                                     \
        curandStatus_t swirl_code_ = (call);                                                 \
        if (swirl_code_ != CURAND_STATUS_SUCCESS) ::swirl::cuda::fail_curand(__FILE__, __LINE__, #call, swirl_code_); \
    } while (0)

#ifdef SWIRL_WITH_NCCL
#define SWIRL_NCCL_CHECK(call)                                                               \
    do {                                                                                     \
        ncclResult_t swirl_code_ = (call);                                                   \
        if (swirl_code_ != ncclSuccess) ::swirl::cuda::fail_nccl(__FILE__, __LINE__, #call, swirl_code_); \
    } while (0)
#endif

// After a kernel launch: reports a bad launch configuration (and, asynchronously, earlier faults) at once.
#define SWIRL_CUDA_CHECK_LAUNCH() SWIRL_CUDA_CHECK(cudaGetLastError())
