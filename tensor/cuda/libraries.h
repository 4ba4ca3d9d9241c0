// cuBLAS and cuRAND, opened with dlopen on first use instead of linked: loading them costs ~200 MB of resident
// memory, which a CPU-only run of a CUDA-enabled build should not pay. Only the functions swirl calls are
// looked up; a missing library or symbol is one clear swirl::Error.
#pragma once

#include <cublas_v2.h>
#include <curand.h>

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

const CublasApi& cublas();  // loads libcublas on the first call
const CurandApi& curand();  // loads libcurand on the first call

}  // namespace swirl::cuda
