// dispatch_floating: runs a generic lambda with the C++ type of a floating dtype (float or double); dispatch_any
// with that of any dtype (float, double, int64_t), for the kernels that move elements without computing with them.
#pragma once

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace swirl::cpu {

template <typename Body>
void dispatch_floating(DType dtype, const char* op, Body&& body) {
    switch (dtype) {
        case DType::f32: body(float{}); return;
        case DType::f64: body(double{}); return;
        default: SWIRL_FAIL("{}: expected a floating dtype (f32 or f64), got {}", op, dtype_name(dtype));
    }
}

template <typename Body>
void dispatch_any(DType dtype, Body&& body) {
    switch (dtype) {
        case DType::f32: body(float{}); return;
        case DType::f64: body(double{}); return;
        case DType::i64: body(int64_t{}); return;
    }
}

}  // namespace swirl::cpu
