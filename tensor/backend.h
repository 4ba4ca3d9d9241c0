// The narrow interface every backend implements (tensor/cpu/kernels.h, tensor/cuda/kernels.h): the op tags and
// the broadcast layout that tensor/ops.cpp computes once, before it dispatches to a device.
#pragma once

#include <cstdint>

namespace swirl {

enum class UnaryOp { neg, exp, log, sqrt, square, relu, sin, cos };
enum class BinaryOp { add, sub, mul, div };

// A broadcast of two operands of rank <= 2 onto an output [rows, cols]: element (i, j) of an operand lives at
// i * row_stride + j * col_stride, where a stride is 0 along a broadcast axis.
struct Broadcast2D {
    int64_t rows = 1, cols = 1;
    int64_t a_row_stride = 0, a_col_stride = 0;
    int64_t b_row_stride = 0, b_col_stride = 0;
};

// A run of repeated rows (repeat_rows): `count` copies of row `row` of the source.
struct RowRun {
    int64_t row = 0;
    int64_t count = 0;
};

}  // namespace swirl
