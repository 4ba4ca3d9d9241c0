// Names and sizes of dtypes.
#include "tensor/dtype.h"

#include "tensor/error.h"

namespace swirl {

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::f32: return 4;
        case DType::f64: return 8;
        case DType::i64: return 8;
    }
    SWIRL_FAIL("unknown dtype {}", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f64: return "f64";
        case DType::i64: return "i64";
    }
    return "?";
}

bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

}  // namespace swirl
