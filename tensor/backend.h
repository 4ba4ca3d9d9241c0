// The narrow interface every backend implements (tensor/cpu/kernels.h, tensor/cuda/kernels.h): the op tags and
// the broadcast layout that tensor/ops.cpp computes once, before it dispatches to a device.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace swirl {

enum class UnaryOp { neg, exp, log, sqrt, square, relu, sigmoid, sin, cos };
enum class BinaryOp { add, sub, mul, div };

// A broadcast of two operands of rank <= 2 onto an output [rows, cols]: element (i, j) of an operand lives at
// i * row_stride + j * col_stride, where a stride is 0 along a broadcast axis.
struct Broadcast2D {
    int64_t rows = 1, cols = 1;
    int64_t a_row_stride = 0, a_col_stride = 0;
    int64_t b_row_stride = 0, b_col_stride = 0;
};

// Adam's hyper-parameters (torch.optim.Adam's, with L2 weight decay added to the gradient): the one struct for
// them, from nn::Adam down to the kernels. And one tensor of a multi-tensor update: its four tensors, the caller's
// (param and the moments written in place), and its own step count (1 on the first). Pointers, not handles: a
// per-sample step of the seed's model hands on 160 tensors, and four handles each (reference counts up and down,
// copies) would make Adam's phase at batch 4096 half as long again. The tensors must outlive the call.
struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
};
struct AdamTarget {
    Tensor* param = nullptr;
    const Tensor* grad = nullptr;
    Tensor* exp_avg = nullptr;
    Tensor* exp_avg_sq = nullptr;
    int64_t step = 1;
};

// A run of repeated rows (repeat_rows): `count` copies of row `row` of the source.
struct RowRun {
    int64_t row = 0;
    int64_t count = 0;
};

}  // namespace swirl
