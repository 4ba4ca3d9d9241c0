// SWIRL_CUDA_CHECK, SWIRL_CUBLAS_CHECK, SWIRL_CURAND_CHECK: every call into the CUDA libraries is checked and a
// failure throws swirl::Error with file, line, the call and the library's own error string. Kept free of fmt so
// that .cu files (compiled by nvcc) can include it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

namespace swirl::cuda {

[[noreturn]] void fail_cuda(const char* file, int line, const char* call, cudaError_t code);
[[noreturn]] void fail_cublas(const char* file, int line, const char* call, cublasStatus_t code);
[[noreturn]] void fail_curand(const char* file, int line, const char* call, curandStatus_t code);

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

// After a kernel launch: reports a bad launch configuration (and, asynchronously, earlier faults) at once.
#define SWIRL_CUDA_CHECK_LAUNCH() SWIRL_CUDA_CHECK(cudaGetLastError())
