// The fused MLP on the CPU (tensor/mlp.h). Layer by layer, a training step at batch 64000 streams some thirty
// [64000, 64] tensors (16 MB each) through main memory, and memory, not arithmetic, sets the pace. Here the rows
// are cut into blocks of at most kBlockRows rows of one group, and a block runs through its whole path on one
// thread with its activations in the cache. The backward recomputes a block's activations (a third more
// multiply-adds) instead of keeping [M, hidden] tensors from the forward.
//
// Weight gradients sum over rows, so their order must not depend on the thread count: the blocks are dealt into
// at most kStripes contiguous stripes, each stripe adds its blocks in order into its own partial gradients, and
// the partials are added in stripe order. The stripes depend on the batch only, never on the threads.
#include <algorithm>
#include <cstring>
#include <utility>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"

namespace swirl::cpu {

namespace {

// 256 rows of 64 floats is 64 KB an activation: a block's working set (its activations and two gradients, some
// 400 KB for the model) stays in the 2 MB L2 cache. 128 and 512 rows measured the same within this machine's noise.
constexpr int64_t kBlockRows = 256;
constexpr int64_t kStripes = 32;

template <typename T>
struct Layer {
    const T* weight;    // [out, in]
    const T* weight_t;  // [in, out]: the forward's right operand (only when out is a multiple of a vector)
    const T* bias;      // [out]
    int64_t in, out;
    bool relu;
};

struct Block {
    int64_t begin, end;
    std::size_t group;
};

template <typename T>
constexpr int64_t kLanes = 64 / sizeof(T);

// y [rows, out] = a [rows, in] @ weight^T + bias (then ReLU).
template <typename T>
void dense_forward(T* y, const T* a, int64_t rows, const Layer<T>& layer) {
    if (layer.out % kLanes<T> == 0) {
        gemm_serial(y, a, layer.in, int64_t{1}, layer.weight_t, rows, layer.in, layer.out, false,
                    Epilogue<T>{layer.bias, layer.relu});
        return;
    }
    // Narrow outputs (the model's last layer, 4 wide): dot products of a row with the rows of the weight.
    for (int64_t i = 0; i < rows; ++i) {
        const T* a_row = a + i * layer.in;
        for (int64_t j = 0; j < layer.out; ++j) {
            const T* w_row = layer.weight + j * layer.in;
            T dot = T(0);
#pragma omp simd reduction(+ : dot)
            for (int64_t k = 0; k < layer.in; ++k) dot += a_row[k] * w_row[k];
            dot += layer.bias[j];
            y[i * layer.out + j] = layer.relu && dot < T(0) ? T(0) : dot;
        }
    }
}

// weight_grad [out, in] += grad^T [out, rows] @ a [rows, in];  bias_grad [out] += grad's column sums.
template <typename T>
void dense_parameter_gradients(T* weight_grad, T* bias_grad, T* scratch, const T* grad, const T* a, int64_t rows,
                               const Layer<T>& layer) {
    if (layer.in % kLanes<T> == 0 || layer.out % kLanes<T> != 0) {
        gemm_serial(weight_grad, grad, int64_t{1}, layer.out, a, layer.out, rows, layer.in, true);
    } else {
        // A narrow input (the first layer, 2 wide): the transposed product [in, out] is the wide one.
        gemm_serial(scratch, a, int64_t{1}, layer.in, grad, layer.in, rows, layer.out, false);
        for (int64_t i = 0; i < layer.in; ++i)
            for (int64_t j = 0; j < layer.out; ++j) weight_grad[j * layer.in + i] += scratch[i * layer.out + j];
    }
    for (int64_t i = 0; i < rows; ++i) {
        const T* grad_row = grad + i * layer.out;
#pragma omp simd
        for (int64_t j = 0; j < layer.out; ++j) bias_grad[j] += grad_row[j];
    }
}

// The blocks, the layers as raw pointers (with transposed weights where the forward wants them), and the scratch
// of every thread, for one call.
template <typename T>
class Plan {
public:
    Plan(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups)
        : groups_(groups), x_(x.data<T>()), in_width_(x.dim(1)) {
        std::vector<bool> used(layers.size(), false);
        for (const MlpGroup& group : groups) {
            if (group.begin == group.end) continue;
            for (int64_t begin = group.begin; begin < group.end; begin += kBlockRows)
                blocks_.push_back({begin, std::min(group.end, begin + kBlockRows),
                                   static_cast<std::size_t>(&group - groups.data())});
            int64_t activations = 0;
            for (const std::size_t l : group.path) {
                used[l] = true;
                activations += layers[l].weight.dim(0);
                max_width_ = std::max({max_width_, layers[l].weight.dim(0), layers[l].weight.dim(1)});
                max_weight_ = std::max(max_weight_, layers[l].weight.numel());
                multiply_adds_per_row_ += layers[l].weight.numel();
            }
            max_activations_ = std::max(max_activations_, activations);
        }
        int64_t transposed_size = 0;
        for (std::size_t l = 0; l < layers.size(); ++l)
            if (used[l] && layers[l].weight.dim(0) % kLanes<T> == 0) transposed_size += layers[l].weight.numel();
        transposed_ = Tensor::empty({transposed_size}, x.dtype());
        T* transposed = transposed_.data<T>();
        std::vector<std::pair<std::size_t, T*>> to_transpose;  // layer, where its transpose goes
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const int64_t out = layers[l].weight.dim(0), in = layers[l].weight.dim(1);
            layers_.push_back({layers[l].weight.data<T>(), nullptr, layers[l].bias.data<T>(), in, out, layers[l].relu});
            if (!used[l] || out % kLanes<T> != 0) continue;
            layers_.back().weight_t = transposed;
            to_transpose.emplace_back(l, transposed);
            transposed += out * in;
        }
        parallel_ = x.dim(0) * multiply_adds_per_row_ > kParallelMultiplyAdds && blocks_.size() > 1;
        // The transposes (one per tail in the per-sample timestep mode), in parallel under the same test.
#pragma omp parallel for schedule(dynamic) if (parallel_)
        for (std::size_t t = 0; t < to_transpose.size(); ++t) {
            const Layer<T>& layer = layers_[to_transpose[t].first];
            T* weight_t = to_transpose[t].second;
            for (int64_t j = 0; j < layer.out; ++j)
                for (int64_t i = 0; i < layer.in; ++i) weight_t[i * layer.out + j] = layer.weight[j * layer.in + i];
        }
        threads_ = parallel_ ? max_threads() : 1;
        scratch_per_thread_ = (max_activations_ + 2 * max_width_) * kBlockRows + max_weight_;
        scratch_ = Tensor::empty({threads_ * scratch_per_thread_}, x.dtype());
        scratch_base_ = scratch_.data<T>();
    }

    const std::vector<Block>& blocks() const { return blocks_; }
    const std::vector<std::size_t>& path(const Block& block) const { return groups_[block.group].path; }
    const Layer<T>& layer(std::size_t l) const { return layers_[l]; }
    bool parallel() const { return parallel_; }
    const T* x_rows(const Block& block) const { return x_ + block.begin * in_width_; }
    int64_t in_width() const { return in_width_; }

    // The calling thread's scratch: activations of a whole path, then two gradient buffers, then room for one
    // weight-sized product.
    T* activations() const { return scratch_base_ + thread_index() * scratch_per_thread_; }
    T* gradient_buffer(int which) const {
        return activations() + max_activations_ * kBlockRows + which * max_width_ * kBlockRows;
    }
    T* product_scratch() const { return activations() + (max_activations_ + 2 * max_width_) * kBlockRows; }

    // Runs block's rows through its path; the last layer writes `last` (nullptr: the scratch like the others).
    // Returns the activations, one after another ([rows, out] for each layer of the path).
    T* run_forward(const Block& block, T* last) const {
        T* activation = activations();
        const T* input = x_rows(block);
        const int64_t rows = block.end - block.begin;
        const std::vector<std::size_t>& layers = path(block);
        for (std::size_t k = 0; k < layers.size(); ++k) {
            const Layer<T>& layer = layers_[layers[k]];
            T* output = k + 1 == layers.size() && last != nullptr ? last : activation;
            dense_forward(output, input, rows, layer);
            input = output;
            activation += rows * layer.out;
        }
        return activations();
    }

private:
    const std::vector<MlpGroup>& groups_;
    const T* x_;
    int64_t in_width_;
    std::vector<Block> blocks_;
    std::vector<Layer<T>> layers_;
    Tensor transposed_, scratch_;
    T* scratch_base_ = nullptr;
    int64_t max_activations_ = 0, max_width_ = 0, max_weight_ = 0, multiply_adds_per_row_ = 0;
    int64_t scratch_per_thread_ = 0;
    int threads_ = 1;
    bool parallel_ = false;
};

}  // namespace

void mlp_forward(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups) {
    dispatch_floating(x.dtype(), "mlp", [&](auto zero) {
        using T = decltype(zero);
        const Plan<T> plan(x, layers, groups);
        const std::vector<Block>& blocks = plan.blocks();
        T* y = out.data<T>();
        const int64_t out_width = out.dim(1);
#pragma omp parallel for schedule(static) if (plan.parallel())
        for (std::size_t b = 0; b < blocks.size(); ++b) plan.run_forward(blocks[b], y + blocks[b].begin * out_width);
    });
}

void mlp_backward(MlpGradients& grads, const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                  const std::vector<MlpGroup>& groups) {
    dispatch_floating(x.dtype(), "mlp_backward", [&](auto zero) {
        using T = decltype(zero);
        const Plan<T> plan(x, layers, groups);
        const std::vector<Block>& blocks = plan.blocks();
        const int64_t out_width = grad_out.dim(1);
        T* grad_x = grads.x.defined() ? grads.x.data<T>() : nullptr;

        // Stripes of blocks, and where each stripe keeps the partial gradients of the layers it touches.
        const int64_t stripes = std::min<int64_t>(kStripes, static_cast<int64_t>(blocks.size()));
        auto first_block = [&](int64_t s) { return static_cast<std::size_t>(s * static_cast<int64_t>(blocks.size()) / stripes); };
        std::vector<std::vector<int64_t>> offset(static_cast<std::size_t>(stripes), std::vector<int64_t>(layers.size(), -1));
        std::vector<int64_t> stripe_begin(static_cast<std::size_t>(stripes) + 1, 0);
        int64_t partial_size = 0;
        for (int64_t s = 0; s < stripes; ++s) {
            stripe_begin[static_cast<std::size_t>(s)] = partial_size;
            for (std::size_t b = first_block(s); b < first_block(s + 1); ++b)
                for (const std::size_t l : plan.path(blocks[b]))
                    if (offset[static_cast<std::size_t>(s)][l] < 0) {
                        offset[static_cast<std::size_t>(s)][l] = partial_size;
                        partial_size += plan.layer(l).out * (plan.layer(l).in + 1);  // weight, then bias
                    }
        }
        stripe_begin.back() = partial_size;
        Tensor partial_tensor = Tensor::empty({partial_size}, x.dtype());
        T* partial = partial_tensor.data<T>();

#pragma omp parallel for schedule(dynamic) if (plan.parallel())
        for (int64_t s = 0; s < stripes; ++s) {
            std::fill(partial + stripe_begin[static_cast<std::size_t>(s)],
                      partial + stripe_begin[static_cast<std::size_t>(s) + 1], T(0));
            std::vector<const T*> activation;  // activation[k]: the output of the path's k-th layer, recomputed
            for (std::size_t b = first_block(s); b < first_block(s + 1); ++b) {
                const Block& block = blocks[b];
                const std::vector<std::size_t>& path = plan.path(block);
                const int64_t rows = block.end - block.begin;
                activation.resize(path.size());
                const T* next = plan.run_forward(block, nullptr);
                for (std::size_t k = 0; k < path.size(); ++k) {
                    activation[k] = next;
                    next += rows * plan.layer(path[k]).out;
                }
                const T* grad = grad_out.data<T>() + block.begin * out_width;
                int buffer = 0;
                // Through a ReLU: the gradient where the layer's output was positive.
                auto through_relu = [&](T* g, const T* output, int64_t n) {
#pragma omp simd
                    for (int64_t e = 0; e < n; ++e) g[e] = output[e] > T(0) ? g[e] : T(0);
                };
                if (plan.layer(path.back()).relu) {
                    T* masked = plan.gradient_buffer(buffer);
                    buffer ^= 1;
                    std::memcpy(masked, grad, sizeof(T) * static_cast<std::size_t>(rows * out_width));
                    through_relu(masked, activation.back(), rows * out_width);
                    grad = masked;
                }
                for (std::size_t k = path.size(); k-- > 0;) {
                    const Layer<T>& layer = plan.layer(path[k]);
                    const T* input = k > 0 ? activation[k - 1] : plan.x_rows(block);
                    T* weight_grad = partial + offset[static_cast<std::size_t>(s)][path[k]];
                    dense_parameter_gradients(weight_grad, weight_grad + layer.out * layer.in, plan.product_scratch(),
                                              grad, input, rows, layer);
                    if (k == 0 && grad_x == nullptr) break;
                    // grad_input [rows, in] = grad [rows, out] @ weight [out, in]
                    T* grad_input = k > 0 ? plan.gradient_buffer(buffer) : grad_x + block.begin * plan.in_width();
                    buffer ^= 1;
                    gemm_serial(grad_input, grad, layer.out, int64_t{1}, layer.weight, rows, layer.out, layer.in, false);
                    if (k > 0 && plan.layer(path[k - 1]).relu) through_relu(grad_input, input, rows * layer.in);
                    grad = grad_input;
                }
            }
        }

        // Each layer's gradient: its stripes' partials added in stripe order.
        auto add_stripes = [&](T* total, std::size_t l, int64_t shift, int64_t count) {
            bool first = true;
            for (int64_t s = 0; s < stripes; ++s) {
                const int64_t at = offset[static_cast<std::size_t>(s)][l];
                if (at < 0) continue;
                const T* part = partial + at + shift;
                if (first)
                    std::copy(part, part + count, total);
                else
#pragma omp simd
                    for (int64_t e = 0; e < count; ++e) total[e] += part[e];
                first = false;
            }
        };
#pragma omp parallel for schedule(dynamic) if (plan.parallel())
        for (std::size_t l = 0; l < layers.size(); ++l) {
            if (!grads.weights[l].defined()) continue;
            const int64_t weight_size = plan.layer(l).out * plan.layer(l).in;
            add_stripes(grads.weights[l].data<T>(), l, 0, weight_size);
            add_stripes(grads.biases[l].data<T>(), l, weight_size, plan.layer(l).out);
        }
    });
}

}  // namespace swirl::cpu
