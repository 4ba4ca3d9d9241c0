// Copies between the host and a device (or two devices), converting the dtype on the source's side first.
#include "tensor/cuda/handles.h"
#include "tensor/cuda/kernels.h"

namespace swirl::cuda {

void copy_across(Tensor& dst, const Tensor& src) {
    if (dst.dtype() != src.dtype()) {
        // Convert on the source's side first, then move the bytes.
        Tensor converted = src.to(dst.dtype());
        copy_across(dst, converted);
        return;
    }
    cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
    if (src.device().is_cpu()) kind = cudaMemcpyHostToDevice;
    else if (dst.device().is_cpu()) kind = cudaMemcpyDeviceToHost;
    if (dst.nbytes() == 0) return;
    if (kind == cudaMemcpyDeviceToDevice && dst.device().index != src.device().index) {
        SWIRL_CUDA_CHECK(cudaMemcpyPeer(dst.raw_data(), dst.device().index, src.raw_data(), src.device().index, src.nbytes()));
        return;
    }
    SWIRL_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), src.nbytes(), kind));
}

}  // namespace swirl::cuda
