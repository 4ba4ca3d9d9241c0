// An index out of range on a CUDA device: the gather's kernel prints what was wrong and stops, and the next CUDA
// call throws swirl::Error. The CUDA context is lost after that, so this runs as a process of its own; CTest
// passes it when the output shows the error was caught (tests/CMakeLists.txt). Without a GPU it prints
// "[skip] no CUDA device" and CTest reports it as skipped.
#include <cstdio>

#include "tensor/error.h"
#include "tensor/ops.h"

int main() {
    using namespace swirl;
    if (cuda_device_count() == 0) {
        std::puts("[skip] no CUDA device");
        return 0;
    }
    const Tensor x = Tensor::ones({37, 3}, DType::f32, Device::cuda(0));
    const Tensor index = Tensor::from_indices({0, 99, 5}, Device::cuda(0));  // 99 is past the 37 rows
    try {
        const std::vector<double> rows = index_select_rows(x, index).to_vector();
        std::printf("no error: the gather returned %zu values\n", rows.size());
        return 1;
    } catch (const Error& e) {
        std::fflush(stdout);  // after the device's own line, if the driver printed it
        std::printf("caught: %s\n", e.what());
        return 0;
    }
}
