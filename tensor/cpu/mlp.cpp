// The fused MLP on the CPU (tensor/fused/mlp.h). Layer by layer, a training step at batch 64000 streams some thirty
// [64000, 64] tensors (16 MB each) through main memory, and memory, not arithmetic, sets the pace. Here the rows
// are cut into blocks of at most kBlockRows rows, and a block runs through the whole stack on one thread with its
// activations in the cache. When the whole batch's activations fit kKeepBytes the forward keeps them, block by
// block, for the backward; past that the backward recomputes each block's (a third more multiply-adds) instead of
// holding [M, hidden] tensors of a large batch in memory.
//
// A block may cover several groups (the per-sample timestep mode: ~100 rows per step at batch 4096). The layers
// that begin every path of the block (the model's head) run on the whole block; each group's segment of the block
// then runs the rest of its own path (its tail), and in the backward the segments' gradients meet again at the
// head's output before the head runs backward on the whole block.
//
// The seed's objective (mlp_gaussian_kl) is the backward pass with a loss in place of grad_out: each block runs
// forward, its rows' KL and the KL's gradient at the block's output are formed from the output just computed
// (formulas::GaussianHeadRows, tensor/formulas.h), and the block runs backward, so nothing is kept or recomputed.
//
// Weight gradients sum over rows, so their order must not depend on the thread count: the blocks are dealt into
// at most kStripes contiguous stripes, each stripe adds its blocks in order into its own partial gradients, and
// the partials are added in stripe order (a layer only one stripe touches is summed straight into its gradient).
// The stripes depend on the batch only, never on the threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "tensor/cpu/dense_block.h"
#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/parallel.h"
#include "tensor/formulas.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

namespace {

// 256 rows of 64 floats is 64 KB an activation: a block's working set (its activations and four gradient
// buffers, some 500 KB for the model) stays in the 2 MB L2 cache; neither 128 nor 512 rows is faster.
constexpr int64_t kBlockRows = 256;
constexpr int64_t kStripes = 32;
// Activations kept from the forward for the backward, at most: 32 MiB is the seed's model at some 40,000 rows. At
// batch 64000 the 50 MB it would take cost more than the recompute saves, and the run's peak memory doubles.
constexpr int64_t kKeepBytes = int64_t{32} << 20;
// A layer fewer rows than this run through takes dot products with its weight instead of transposing it for the
// register tiles (a 64 x 64 transpose costs about what a dozen rows of dot products do).
constexpr int64_t kTransposeRows = 16;

// The rows [begin, end) of one MlpGroup that fall inside a block.
struct Segment {
    int64_t begin, end;
    std::size_t group;
};

// Rows [begin, end), made of segments [first_segment, end_segment); the first `prefix` layers are the same in
// every segment's path (and leave at least one layer to each segment).
struct Block {
    int64_t begin, end;
    std::size_t first_segment, end_segment, prefix;
};

// The blocks, the layers as raw pointers (with transposed weights where the forward wants them), and the scratch
// of every thread, for one call.
template <typename T>
class Plan {
public:
    Plan(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups)
        : groups_(groups), x_(x.data<T>()), in_width_(x.dim(1)) {
        std::vector<int64_t> rows_through(layers.size(), 0);
        for (const MlpGroup& group : groups) {
            if (group.begin == group.end) continue;
            int64_t activations = 0, path_multiply_adds = 0;
            for (const std::size_t l : group.path) {
                rows_through[l] += group.end - group.begin;
                activations += layers[l].weight.dim(0);
                path_multiply_adds += layers[l].weight.numel();
                max_width_ = std::max({max_width_, layers[l].weight.dim(0), layers[l].weight.dim(1)});
                max_weight_ = std::max(max_weight_, layers[l].weight.numel());
            }
            multiply_adds_ += (group.end - group.begin) * path_multiply_adds;
            max_activations_ = std::max(max_activations_, activations);
        }
        // Blocks of kBlockRows rows, cut into the segments of the groups they overlap; a group that fits a block
        // but would be cut at a block's end starts the next block instead, when the block keeps at least half its
        // rows. One t per sample at batch 4096 (~100 rows a group) then runs each tail as one segment, whose weight
        // gradients sum on one stripe, instead of up to 15 of the 39 tails (one at each inner block end) in two
        // pieces on two stripes.
        std::size_t group = 0;
        const int64_t rows = x.dim(0);
        for (int64_t begin = 0; begin < rows;) {
            int64_t end = std::min(rows, begin + kBlockRows);
            std::size_t last = group;  // the group of row end - 1
            while (groups[last].end < end) ++last;
            if (groups[last].end > end && groups[last].end - groups[last].begin <= kBlockRows &&
                groups[last].begin - begin >= kBlockRows / 2)
                end = groups[last].begin;
            Block block{begin, end, segments_.size(), 0, 0};
            begin = end;
            for (int64_t at = block.begin; at < block.end;) {
                while (groups[group].end <= at) ++group;  // skips empty groups too
                const int64_t end = std::min(block.end, groups[group].end);
                segments_.push_back({at, end, group});
                at = end;
            }
            block.end_segment = segments_.size();
            const std::vector<std::size_t>& first = groups[segments_[block.first_segment].group].path;
            std::size_t prefix = first.size() - 1;
            for (std::size_t s = block.first_segment + 1; s < block.end_segment; ++s) {
                const std::vector<std::size_t>& other = groups[segments_[s].group].path;
                std::size_t common = 0;
                while (common < prefix && common + 1 < other.size() && first[common] == other[common]) ++common;
                prefix = common;
            }
            block.prefix = prefix;
            blocks_.push_back(block);
        }
        // The forward's register tiles want the weight transposed, for a layer as wide as a vector that enough rows
        // run through to pay for the transpose; the others take dot products with the weight as it is.
        auto transposes = [&](std::size_t l) {
            return rows_through[l] >= kTransposeRows && layers[l].weight.dim(0) % kLanes<T> == 0;
        };
        int64_t transposed_size = 0;
        for (std::size_t l = 0; l < layers.size(); ++l)
            if (transposes(l)) transposed_size += layers[l].weight.numel();
        transposed_ = Tensor::empty({transposed_size}, x.dtype());
        T* transposed = transposed_.data<T>();
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const int64_t out = layers[l].weight.dim(0), in = layers[l].weight.dim(1);
            layers_.push_back({layers[l].weight.data<T>(), nullptr, layers[l].bias.data<T>(), in, out, layers[l].relu});
            if (!transposes(l)) continue;
            layers_.back().weight_t = transposed;
            to_transpose_.emplace_back(l, transposed);
            transposed += out * in;
        }
        parallel_ = multiply_adds_ > kParallelMlpMultiplyAdds && blocks_.size() > 1;
        if (parallel_) note_parallel_products();
        const int threads = parallel_ ? max_threads() : 1;
        scratch_per_thread_ = (max_activations_ + 4 * max_width_) * kBlockRows + max_weight_;
        scratch_ = Tensor::empty({threads * scratch_per_thread_}, x.dtype());
        scratch_base_ = scratch_.data<T>();
    }

    // Fills the transposed weights (one per tail in the per-sample timestep mode): a worksharing loop, to be
    // called by every thread of the caller's parallel region (or by one thread outside any).
    void transpose_weights() const {
#pragma omp for schedule(dynamic)
        for (std::size_t t = 0; t < to_transpose_.size(); ++t) {
            const RawDenseLayer<T>& layer = layers_[to_transpose_[t].first];
            transpose_weight(to_transpose_[t].second, layer.weight, layer.in, layer.out);
        }
    }

    const std::vector<Block>& blocks() const { return blocks_; }
    const Segment& segment(std::size_t s) const { return segments_[s]; }
    const std::vector<std::size_t>& path(const Segment& segment) const { return groups_[segment.group].path; }
    const std::vector<std::size_t>& prefix_path(const Block& block) const { return path(segments_[block.first_segment]); }
    const RawDenseLayer<T>& layer(std::size_t l) const { return layers_[l]; }
    bool parallel() const { return parallel_; }
    const T* x_rows(int64_t begin) const { return x_ + begin * in_width_; }
    int64_t in_width() const { return in_width_; }

    // The calling thread's scratch: the activations of a whole path (the block's prefix, then one segment's
    // suffix), four gradient buffers (two in turn through the layers, the prefix's, the loss's), then room for one
    // weight-sized product.
    T* activations() const { return scratch_base_ + thread_index() * scratch_per_thread_; }
    T* gradient_buffer(int which) const {
        return activations() + max_activations_ * kBlockRows + which * max_width_ * kBlockRows;
    }
    T* product_scratch() const { return activations() + (max_activations_ + 4 * max_width_) * kBlockRows; }

    // Kept activations: block b's prefix outputs, then each segment's own layers' outputs, one after another, in
    // a region of their own; the elements all blocks' regions take.
    int64_t kept_elements() const { return static_cast<int64_t>(blocks_.size()) * kBlockRows * max_activations_; }
    void keep_in(T* kept) { kept_ = kept; }
    bool keeps() const { return kept_ != nullptr; }
    // Where block b's activations go: its region of the kept ones, or the thread's scratch.
    T* block_activations(std::size_t b) const {
        return kept_ != nullptr ? kept_ + static_cast<int64_t>(b) * kBlockRows * max_activations_ : activations();
    }

    // Runs `rows` rows of `input` through layers path[first, last): layer k's output ([rows, out]) is written at
    // outputs[k], one after another from `activations`, except that the last layer writes `last_output` when it
    // is given. Returns the end of what it wrote in `activations`.
    T* run_layers(const std::vector<std::size_t>& path, std::size_t first, std::size_t last, const T* input,
                  int64_t rows, T* activations, T* last_output, std::vector<const T*>& outputs) const {
        for (std::size_t k = first; k < last; ++k) {
            const RawDenseLayer<T>& layer = layers_[path[k]];
            T* output = k + 1 == last && last_output != nullptr ? last_output : activations;
            dense_forward(output, input, rows, layer);
            if (output == activations) activations += rows * layer.out;
            outputs[k] = input = output;
        }
        return activations;
    }

    // The block's shared prefix run on all its rows into the scratch (outputs[0, prefix) filled): its output
    // (x itself when there is no prefix), that output's width, and where the scratch is free again.
    struct Prefix {
        const T* output;
        int64_t width;
        T* free_scratch;
    };
    // compute = false: the forward kept them; only the pointers to them are set.
    Prefix run_prefix(std::size_t b, std::vector<const T*>& outputs, bool compute = true) const {
        const Block& block = blocks_[b];
        const std::vector<std::size_t>& path = prefix_path(block);
        outputs.assign(path.size(), nullptr);
        const int64_t rows = block.end - block.begin;
        T* free_scratch = compute ? run_layers(path, 0, block.prefix, x_rows(block.begin), rows, block_activations(b),
                                               nullptr, outputs)
                                  : place_outputs(path, 0, block.prefix, rows, block_activations(b), outputs);
        if (block.prefix == 0) return {x_rows(block.begin), in_width_, free_scratch};
        return {outputs[block.prefix - 1], layers_[path[block.prefix - 1]].out, free_scratch};
    }

    // Where run_layers(path, first, last, ..., activations, nullptr, outputs) puts its outputs, without running
    // the layers: the kept activations' pointers.
    T* place_outputs(const std::vector<std::size_t>& path, std::size_t first, std::size_t last, int64_t rows,
                     T* activations, std::vector<const T*>& outputs) const {
        for (std::size_t k = first; k < last; ++k) {
            outputs[k] = activations;
            activations += rows * layers_[path[k]].out;
        }
        return activations;
    }

private:
    const std::vector<MlpGroup>& groups_;
    const T* x_;
    int64_t in_width_;
    std::vector<Block> blocks_;
    std::vector<Segment> segments_;
    std::vector<RawDenseLayer<T>> layers_;
    std::vector<std::pair<std::size_t, T*>> to_transpose_;  // layer, where its transpose goes
    Tensor transposed_, scratch_;
    T* scratch_base_ = nullptr;
    T* kept_ = nullptr;
    int64_t max_activations_ = 0, max_width_ = 0, max_weight_ = 0, multiply_adds_ = 0;
    int64_t scratch_per_thread_ = 0;
    bool parallel_ = false;
};

}  // namespace

void mlp_forward(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                 Tensor* kept) {
    dispatch_floating(x.dtype(), "mlp", [&](auto zero) {
        using T = decltype(zero);
        Plan<T> plan(x, layers, groups);
        if (kept != nullptr) {
            *kept = Tensor();
            if (plan.kept_elements() * static_cast<int64_t>(sizeof(T)) <= kKeepBytes) {
                *kept = Tensor::empty({plan.kept_elements()}, x.dtype());
                plan.keep_in(kept->data<T>());
            }
        }
        const std::vector<Block>& blocks = plan.blocks();
        T* y = out.data<T>();
        const int64_t out_width = out.dim(1);
        // One parallel region for the transposes and the blocks (each region costs a wake-up of the threads).
#pragma omp parallel if (plan.parallel())
        {
            plan.transpose_weights();
            std::vector<const T*> outputs;  // outputs[k]: layer k's output
#pragma omp for schedule(static)
            for (std::size_t b = 0; b < blocks.size(); ++b) {
                const Block& block = blocks[b];
                // The shared prefix on the whole block, then each segment's own layers after its activations: into
                // the scratch, the last layer into y; or all kept, one segment after another, and the last copied.
                const typename Plan<T>::Prefix prefix = plan.run_prefix(b, outputs);
                T* free = prefix.free_scratch;
                for (std::size_t s = block.first_segment; s < block.end_segment; ++s) {
                    const Segment& segment = plan.segment(s);
                    const std::vector<std::size_t>& path = plan.path(segment);
                    const int64_t rows = segment.end - segment.begin;
                    T* y_rows = y + segment.begin * out_width;
                    outputs.resize(path.size());
                    const T* input = prefix.output + (segment.begin - block.begin) * prefix.width;
                    if (!plan.keeps()) {
                        plan.run_layers(path, block.prefix, path.size(), input, rows, free, y_rows, outputs);
                        continue;
                    }
                    free = plan.run_layers(path, block.prefix, path.size(), input, rows, free, nullptr, outputs);
                    std::memcpy(y_rows, outputs.back(), sizeof(T) * static_cast<std::size_t>(rows * out_width));
                }
            }
        }
    });
}

namespace {

// The backward of the stack, block by block, stripe by stripe. The gradient at each segment's output comes from
// grad_out [M, N], or, when it is null, from `loss` (the fused objective), which is given each segment's output as
// this pass computes it: then the pass is the forward, the loss and the backward at once.
template <typename T, class Loss>
void backward_pass(MlpGradients& grads, Plan<T>& plan, const std::vector<DenseLayer>& layers, const T* grad_out,
                   int64_t out_width, const Loss& loss) {
    const std::vector<Block>& blocks = plan.blocks();
    T* grad_x = grads.x.defined() ? grads.x.data<T>() : nullptr;

    // Stripes of blocks, and which layers each stripe touches.
    const int64_t stripes = std::min<int64_t>(kStripes, static_cast<int64_t>(blocks.size()));
    const int64_t block_count = static_cast<int64_t>(blocks.size());
    auto first_block = [&](int64_t s) { return static_cast<std::size_t>(s * block_count / stripes); };
    std::vector<std::vector<char>> touches(static_cast<std::size_t>(stripes), std::vector<char>(layers.size(), 0));
    std::vector<int64_t> touched_by(layers.size(), 0);
    for (int64_t s = 0; s < stripes; ++s)
        for (std::size_t b = first_block(s); b < first_block(s + 1); ++b)
            for (std::size_t g = blocks[b].first_segment; g < blocks[b].end_segment; ++g)
                for (const std::size_t l : plan.path(plan.segment(g)))
                    if (!touches[static_cast<std::size_t>(s)][l]) {
                        touches[static_cast<std::size_t>(s)][l] = 1;
                        ++touched_by[l];
                    }
    // Where each stripe sums a layer's gradients: a layer only one stripe touches (one t per sample: most tails; a
    // small batch: all layers) straight into its gradient tensors, the others into the stripe's partials, which
    // are added in stripe order after the stripes. The same sums in the same order either way.
    auto lone = [&](std::size_t l) { return touched_by[l] == 1 && grads.weights[l].defined(); };
    std::vector<std::vector<int64_t>> offset(static_cast<std::size_t>(stripes),
                                             std::vector<int64_t>(layers.size(), -1));
    std::vector<int64_t> stripe_begin(static_cast<std::size_t>(stripes) + 1, 0);
    int64_t partial_size = 0;
    for (int64_t s = 0; s < stripes; ++s) {
        stripe_begin[static_cast<std::size_t>(s)] = partial_size;
        for (std::size_t l = 0; l < layers.size(); ++l)
            if (touches[static_cast<std::size_t>(s)][l] && !lone(l)) {
                offset[static_cast<std::size_t>(s)][l] = partial_size;
                partial_size += plan.layer(l).out * (plan.layer(l).in + 1);  // weight, then bias
            }
    }
    stripe_begin.back() = partial_size;
    Tensor partial_tensor = Tensor::empty({partial_size}, dtype_of<T>());
    T* partial = partial_tensor.data<T>();
    auto weight_sum = [&](int64_t s, std::size_t l) {
        return lone(l) ? grads.weights[l].data<T>() : partial + offset[static_cast<std::size_t>(s)][l];
    };
    auto bias_sum = [&](int64_t s, std::size_t l) {
        return lone(l) ? grads.biases[l].data<T>() : partial + offset[static_cast<std::size_t>(s)][l] +
                                                         plan.layer(l).out * plan.layer(l).in;
    };

    // Through a ReLU: the gradient where the layer's output was positive, into `masked` (which may be g).
    auto through_relu = [](T* masked, const T* g, const T* output, int64_t n) {
#pragma omp simd
        for (int64_t e = 0; e < n; ++e) masked[e] = output[e] > T(0) ? g[e] : T(0);
    };

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

    // One parallel region: the transposes (for the recompute: with kept activations no layer runs forward),
    // the stripes, then the sums over stripes (each loop ends in a barrier).
#pragma omp parallel if (plan.parallel())
    {
        if (!plan.keeps()) plan.transpose_weights();
        // fresh[l]: the stripe has not yet added into layer l's weight sum, so its first product writes it (no
        // zeros first: one t per sample has 160 tensors to sum into, 0.7 MB of zeros a step). The biases, a row
        // each, start from zeros.
        std::vector<char> fresh(layers.size());
#pragma omp for schedule(dynamic)
        for (int64_t s = 0; s < stripes; ++s) {
            for (std::size_t l = 0; l < layers.size(); ++l) {
                fresh[l] = touches[static_cast<std::size_t>(s)][l];
                if (fresh[l]) std::fill_n(bias_sum(s, l), plan.layer(l).out, T(0));
            }
            // Backward through path[first, last) on `rows` rows: `grad` is the gradient of the last layer's output
            // (its ReLU applied when top_masked, else not yet), outputs[k] the output of layer k, input the input of
            // layer `first`. The gradient of that input goes to grad_input (nullptr: not needed): through the ReLU
            // that made the input when input_relu is set (input_relu = input), else before it. Each ReLU between
            // the layers is applied in the product that forms the gradient at its output (the mask epilogue).
            auto backward_layers = [&](const std::vector<std::size_t>& path, std::size_t first, std::size_t last,
                                       const T* grad, const std::vector<const T*>& outputs, const T* input,
                                       int64_t rows, T* grad_input, const T* input_relu, bool top_masked) {
                int buffer = 0;
                const RawDenseLayer<T>& top = plan.layer(path[last - 1]);
                if (top.relu && !top_masked) {
                    T* masked = plan.gradient_buffer(buffer);
                    buffer ^= 1;
                    through_relu(masked, grad, outputs[last - 1], rows * top.out);
                    grad = masked;
                }
                for (std::size_t k = last; k-- > first;) {
                    const RawDenseLayer<T>& layer = plan.layer(path[k]);
                    const T* layer_input = k > first ? outputs[k - 1] : input;
                    dense_parameter_gradients(weight_sum(s, path[k]), bias_sum(s, path[k]), plan.product_scratch(),
                                              grad, layer_input, rows, layer, !fresh[path[k]]);
                    fresh[path[k]] = 0;
                    T* target = k > first ? plan.gradient_buffer(buffer) : grad_input;
                    if (target == nullptr) break;
                    buffer ^= 1;
                    // target [rows, in] = grad [rows, out] @ weight [out, in], through the ReLU that made the input
                    const T* relu_output =
                        k > first ? (plan.layer(path[k - 1]).relu ? layer_input : nullptr) : input_relu;
                    dense_input_gradient(target, plan.product_scratch(), grad, rows, layer, relu_output);
                    grad = target;
                }
            };
            std::vector<const T*> outputs;  // outputs[k]: layer k's output, kept or recomputed
            for (std::size_t b = first_block(s); b < first_block(s + 1); ++b) {
                const Block& block = blocks[b];
                // The prefix on the whole block; the gradient at its output is gathered from the segments
                // (buffer 2).
                const typename Plan<T>::Prefix prefix = plan.run_prefix(b, outputs, !plan.keeps());
                T* prefix_grad = block.prefix > 0 ? plan.gradient_buffer(2) : nullptr;
                T* free = prefix.free_scratch;
                // The prefix's top ReLU is applied to the prefix's gradient as the segments form its rows.
                const bool prefix_relu =
                    block.prefix > 0 && plan.layer(plan.prefix_path(block)[block.prefix - 1]).relu;
                for (std::size_t g = block.first_segment; g < block.end_segment; ++g) {
                    const Segment& segment = plan.segment(g);
                    const std::vector<std::size_t>& path = plan.path(segment);
                    const int64_t rows = segment.end - segment.begin, row0 = segment.begin - block.begin;
                    // The segment's own layers, after the prefix's activations: found where the forward kept
                    // them, one segment after another, or recomputed into the scratch.
                    outputs.resize(path.size());
                    const T* input = prefix.output + row0 * prefix.width;
                    if (plan.keeps())
                        free = plan.place_outputs(path, block.prefix, path.size(), rows, free, outputs);
                    else
                        plan.run_layers(path, block.prefix, path.size(), input, rows, free, nullptr, outputs);
                    // The input's gradient: into the prefix's, or x's when there is no prefix (if x needs one).
                    T* grad_input = block.prefix > 0 ? prefix_grad + row0 * prefix.width : nullptr;
                    if (block.prefix == 0 && grad_x != nullptr) grad_input = grad_x + segment.begin * plan.in_width();
                    // The gradient at the segment's output: given, or the loss's, from the output just computed.
                    const T* grad = grad_out != nullptr ? grad_out + segment.begin * out_width : nullptr;
                    if (grad == nullptr) {
                        T* loss_grad = plan.gradient_buffer(3);
                        loss(segment.begin, segment.end, outputs.back(), loss_grad);
                        grad = loss_grad;
                    }
                    backward_layers(path, block.prefix, path.size(), grad, outputs, input, rows, grad_input,
                                    prefix_relu ? input : nullptr, false);
                }
                if (block.prefix > 0)
                    backward_layers(plan.prefix_path(block), 0, block.prefix, prefix_grad, outputs,
                                    plan.x_rows(block.begin), block.end - block.begin,
                                    grad_x != nullptr ? grad_x + block.begin * plan.in_width() : nullptr, nullptr,
                                    true);
            }
            // Every layer a stripe touches gets a product of its rows; should one not, its sum is zero.
            for (std::size_t l = 0; l < layers.size(); ++l)
                if (fresh[l]) std::fill_n(weight_sum(s, l), plan.layer(l).out * plan.layer(l).in, T(0));
        }

#pragma omp for schedule(dynamic)
        for (std::size_t l = 0; l < layers.size(); ++l) {
            if (!grads.weights[l].defined() || lone(l)) continue;
            const int64_t weight_size = plan.layer(l).out * plan.layer(l).in;
            add_stripes(grads.weights[l].data<T>(), l, 0, weight_size);
            add_stripes(grads.biases[l].data<T>(), l, weight_size, plan.layer(l).out);
        }
    }
}

struct NoLoss {
    template <typename T>
    void operator()(int64_t, int64_t, const T*, T*) const {}
};

}  // namespace

void mlp_backward(MlpGradients& grads, const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                  const std::vector<MlpGroup>& groups, const Tensor& kept) {
    dispatch_floating(x.dtype(), "mlp_backward", [&](auto zero) {
        using T = decltype(zero);
        Plan<T> plan(x, layers, groups);
        if (kept.defined()) {
            SWIRL_CHECK(kept.numel() == plan.kept_elements(), "mlp_backward: {} kept activations for a batch that keeps {}",
                        kept.numel(), plan.kept_elements());
            plan.keep_in(const_cast<T*>(kept.data<T>()));  // read only: the backward computes no layer into them
        }
        backward_pass(grads, plan, layers, grad_out.data<T>(), grad_out.dim(1), NoLoss{});
    });
}

void mlp_gaussian_kl(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                     const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups, const Tensor& mean_q,
                     const Tensor& std_q, const GaussianHead& head, double grad_value) {
    dispatch_floating(x.dtype(), "mlp_gaussian_kl", [&](auto zero) {
        using T = decltype(zero);
        Plan<T> plan(x, layers, groups);
        auto in = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        auto out = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        formulas::GaussianHeadRows<T> loss{kl.data<T>(), mean_q.data<T>(), std_q.data<T>(), kl.dim(1),  T(grad_value),
                               in(head.xt),  in(head.eps_xt),  in(head.eps_coef), in(head.low), in(head.high),
                               head.rotated};
        if (inputs != nullptr) {
            loss.grad_mean_q = out(inputs->mean_q);
            loss.grad_std_q = out(inputs->std_q);
            loss.grad_xt = out(inputs->xt);
            loss.grad_eps_xt = out(inputs->eps_xt);
            loss.grad_eps_coef = out(inputs->eps_coef);
            loss.grad_low = out(inputs->low);
            loss.grad_high = out(inputs->high);
        }
        backward_pass(grads, plan, layers, static_cast<const T*>(nullptr), 2 * kl.dim(1) + (head.rotated ? 1 : 0), loss);
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
