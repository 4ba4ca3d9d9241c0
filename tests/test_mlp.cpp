// Behaviour of the fused MLP op (tensor/fused/mlp.h): the CPU kernel against its composition from the plain ops, on
// shapes that take every path of the kernel, the same sums for any thread count, and the errors it raises.
#include <doctest/doctest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <iterator>
#include <tuple>
#include <utility>

#include "helpers.h"
#include "tensor/error.h"
#include "tensor/fused/mlp.h"
#include "tensor/ops.h"
#include "tests/naive_dense.h"

using namespace swirl;

namespace {

// The diffusion model's shape: head 2 -> H -> H (ReLU), tails H -> H (ReLU) -> outputs (4; 5 with --variance
// full), two tails in use.
struct ModelLike {
    std::vector<DenseLayer> layers;
    ModelLike(int64_t hidden, DType dtype, Generator& gen, int64_t outputs = 4) {
        auto layer = [&](int64_t out, int64_t in, bool relu) {
            const double bound = 1.0 / std::sqrt(static_cast<double>(in));
            layers.push_back({scale(Tensor::randn({out, in}, gen, dtype), bound),
                              scale(Tensor::randn({out}, gen, dtype), bound), relu});
        };
        layer(hidden, 2, true);
        layer(hidden, hidden, true);
        layer(hidden, hidden, true);
        layer(outputs, hidden, false);
        layer(hidden, hidden, true);
        layer(outputs, hidden, false);
    }
    static std::vector<MlpGroup> groups(int64_t rows) {
        // Uneven groups so that blocks end at group boundaries, an empty group, then the rest.
        const int64_t split = rows / 3 + 5;
        return {{0, split, {0, 1, 2, 3}}, {split, split, {0, 1, 4, 5}}, {split, rows, {0, 1, 4, 5}}};
    }
};

void check_gradients(const MlpGradients& actual, const MlpGradients& expected, double rtol, double atol) {
    REQUIRE(actual.x.defined() == expected.x.defined());
    if (expected.x.defined()) SWIRL_CHECK_CLOSE(actual.x, expected.x, rtol, atol);
    REQUIRE(actual.weights.size() == expected.weights.size());
    for (std::size_t l = 0; l < expected.weights.size(); ++l) {
        CAPTURE(l);
        REQUIRE(actual.weights[l].defined() == expected.weights[l].defined());
        if (!expected.weights[l].defined()) continue;
        SWIRL_CHECK_CLOSE(actual.weights[l], expected.weights[l], rtol, atol);
        SWIRL_CHECK_CLOSE(actual.biases[l], expected.biases[l], rtol, atol);
    }
}

// The gradients in float64, for comparing a float kernel with the naive loops' double results.
MlpGradients in_f64(MlpGradients g) {
    if (g.x.defined()) g.x = g.x.to(DType::f64);
    for (auto* list : {&g.weights, &g.biases})
        for (Tensor& t : *list)
            if (t.defined()) t = t.to(DType::f64);
    return g;
}

// The same gradients to the bit: x's (when either has one) and every layer's.
void check_same_bits(const MlpGradients& actual, const MlpGradients& expected) {
    REQUIRE(actual.x.defined() == expected.x.defined());
    if (expected.x.defined()) CHECK(actual.x.to_vector() == expected.x.to_vector());
    REQUIRE(actual.weights.size() == expected.weights.size());
    for (std::size_t l = 0; l < expected.weights.size(); ++l) {
        CAPTURE(l);
        REQUIRE(actual.weights[l].defined() == expected.weights[l].defined());
        if (!expected.weights[l].defined()) continue;
        CHECK(actual.weights[l].to_vector() == expected.weights[l].to_vector());
        CHECK(actual.biases[l].to_vector() == expected.biases[l].to_vector());
    }
}

TEST_CASE("the CPU mlp kernel equals its composition from linear, matmul and sum, forward and backward") {
    // 3000 rows: many blocks and stripes; hidden 64 (whole vectors) and 12 (the reference loop's widths).
    Generator gen(21);
    for (DType dtype : {DType::f64, DType::f32}) {
        for (int64_t hidden : {64, 12}) {
            for (int64_t rows : {3000, 9}) {
                CAPTURE(dtype_name(dtype));
                CAPTURE(hidden);
                CAPTURE(rows);
                const ModelLike model(hidden, dtype, gen);
                const auto groups = ModelLike::groups(rows);
                const Tensor x = Tensor::randn({rows, 2}, gen, dtype), grad_out = Tensor::randn({rows, 4}, gen, dtype);
                const double rtol = dtype == DType::f32 ? 1e-4 : 1e-12, atol = dtype == DType::f32 ? 1e-4 : 1e-12;
                SWIRL_CHECK_CLOSE(mlp(x, model.layers, groups), mlp_composed(x, model.layers, groups), rtol, atol);
                for (bool need_x : {false, true})
                    check_gradients(mlp_backward(grad_out, x, model.layers, groups, need_x),
                                    mlp_backward_composed(grad_out, x, model.layers, groups, need_x), rtol, atol);
            }
        }
    }
}

TEST_CASE("the CPU mlp kernel and its composition equal the naive loops, forward and backward") {
    Generator gen(24);
    // Outputs 4 and 5 take the float kernel's narrow layer (rows four and three at a time, segments of 338 and
    // 662 rows ending in part-groups), 3 the plain dot products. 12 rows (9 and 3 a tail) are fewer than the
    // kernel transposes a weight for: every layer takes dot products with its weight as it is.
    for (DType dtype : {DType::f64, DType::f32}) {
        for (auto [hidden, outputs] : {std::pair<int64_t, int64_t>{64, 4}, {64, 5}, {64, 3}, {12, 4}}) {
            for (int64_t rows : {1000, 12}) {
                CAPTURE(dtype_name(dtype));
                CAPTURE(hidden);
                CAPTURE(outputs);
                CAPTURE(rows);
                const ModelLike model(hidden, dtype, gen, outputs);
                const auto groups = ModelLike::groups(rows);
                const Tensor x = Tensor::randn({rows, 2}, gen, dtype), grad_out = Tensor::randn({rows, outputs}, gen, dtype);
                const double tol = dtype == DType::f32 ? 1e-4 : 1e-12;
                const Tensor expected = naive::mlp(x, model.layers, groups);
                SWIRL_CHECK_CLOSE(mlp(x, model.layers, groups).to(DType::f64), expected, tol, tol);
                SWIRL_CHECK_CLOSE(mlp_composed(x, model.layers, groups).to(DType::f64), expected, tol, tol);
                const MlpGradients naive = naive::mlp_backward(grad_out, x, model.layers, groups);
                check_gradients(in_f64(mlp_backward(grad_out, x, model.layers, groups, true)), naive, tol, tol);
                check_gradients(in_f64(mlp_backward_composed(grad_out, x, model.layers, groups, true)), naive, tol, tol);
            }
        }
    }
}

TEST_CASE("mlp takes a gradient through a ReLU a few units wide: the narrow input gradient, then its mask") {
    // 2 -> 4 (ReLU) -> 16 (ReLU) -> 3: the 16-wide layer's input is 4 wide, whose gradient the float kernel forms as
    // lane-summed dot products and then masks by the first layer's ReLU (the wide layers mask in the product).
    Generator gen(31);
    for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(dtype_name(dtype));
        std::vector<DenseLayer> layers;
        for (auto [out, in, relu] : {std::tuple<int64_t, int64_t, bool>{4, 2, true}, {16, 4, true}, {3, 16, false}})
            layers.push_back({Tensor::randn({out, in}, gen, dtype), Tensor::randn({out}, gen, dtype), relu});
        const int64_t rows = 700;
        const std::vector<MlpGroup> groups{{0, rows, {0, 1, 2}}};
        const Tensor x = Tensor::randn({rows, 2}, gen, dtype), grad_out = Tensor::randn({rows, 3}, gen, dtype);
        const MlpGradients naive = naive::mlp_backward(grad_out, x, layers, groups);
        // Some of the first layer's units are off on some rows, so the mask has zeros to apply.
        const std::vector<double> first = mlp_composed(x, {layers[0]}, {{0, rows, {0}}}).to(DType::f64).to_vector();
        CHECK(std::count(first.begin(), first.end(), 0.0) > 100);
        const double tol = dtype == DType::f32 ? 1e-4 : 1e-12;
        check_gradients(in_f64(mlp_backward(grad_out, x, layers, groups, true)), naive, tol, tol);
    }
}

TEST_CASE("mlp leaves the gradients of layers no rows use undefined") {
    Generator gen(22);
    const ModelLike model(16, DType::f64, gen);
    const std::vector<MlpGroup> groups{{0, 40, {0, 1, 2, 3}}};
    const Tensor x = Tensor::randn({40, 2}, gen, DType::f64), grad_out = Tensor::randn({40, 4}, gen, DType::f64);
    const MlpGradients grads = mlp_backward(grad_out, x, model.layers, groups, false);
    CHECK_FALSE(grads.x.defined());
    for (std::size_t l = 0; l < 4; ++l) CHECK(grads.weights[l].defined());
    CHECK_FALSE(grads.weights[4].defined());
    CHECK_FALSE(grads.biases[5].defined());
}

TEST_CASE("mlp gives the same sums on one thread and on two") {
#ifdef _OPENMP
    Generator gen(23);
    const ModelLike model(64, DType::f32, gen);
    const int64_t rows = 40000;  // large enough to run in parallel
    const auto groups = ModelLike::groups(rows);
    const Tensor x = Tensor::randn({rows, 2}, gen), grad_out = Tensor::randn({rows, 4}, gen);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const Tensor y_one = mlp(x, model.layers, groups);
    const MlpGradients one = mlp_backward(grad_out, x, model.layers, groups, true);
    omp_set_num_threads(2);
    const Tensor y_two = mlp(x, model.layers, groups);
    const MlpGradients two = mlp_backward(grad_out, x, model.layers, groups, true);
    omp_set_num_threads(saved);
    CHECK(y_one.to_vector() == y_two.to_vector());
    REQUIRE(one.x.defined());
    check_same_bits(one, two);
#else
    MESSAGE("built without OpenMP: one thread only");
#endif
}

TEST_CASE("a layer one stripe touches sums into its gradient directly, beside layers several stripes share") {
    // 20000 rows are 79 blocks in 32 stripes: the head's layers and the second tail run in every stripe (their
    // partials are added in stripe order), the first tail's 100 rows lie in the first block only (its gradients
    // are summed straight into the result). Both equal the composition, on one thread and on two alike.
    Generator gen(29);
    const ModelLike model(64, DType::f32, gen);
    const int64_t rows = 20000;
    const std::vector<MlpGroup> groups = {{0, 100, {0, 1, 2, 3}}, {100, rows, {0, 1, 4, 5}}};
    const Tensor x = Tensor::randn({rows, 2}, gen), grad_out = Tensor::randn({rows, 4}, gen);
    const MlpGradients expected = mlp_backward_composed(grad_out, x, model.layers, groups, true);
#ifdef _OPENMP
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    const MlpGradients one = mlp_backward(grad_out, x, model.layers, groups, true);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    const MlpGradients two = mlp_backward(grad_out, x, model.layers, groups, true);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    check_gradients(one, expected, 1e-4, 1e-4);
    check_same_bits(one, two);
}

TEST_CASE("groups smaller than a block (one t per sample) start a block whole, and the kernel equals its composition") {
    // Groups of 5 to 257 rows in turn on the two tails, as a per-sample step's: a group that fits a block and would
    // be cut at a block's end starts the next block, unless that leaves the block less than half full; groups of
    // 256 and 257 rows, a group at a block's start. 3000 rows keep their activations and run on one thread; 40000
    // recompute them and run on two.
    const int64_t sizes[] = {100, 90, 120, 30, 256, 140, 200, 5, 257, 60, 110, 170, 101};
    Generator gen(27);
    for (int64_t rows : {3000, 40000}) {
        CAPTURE(rows);
        const ModelLike model(64, DType::f32, gen);
        std::vector<MlpGroup> groups;
        for (int64_t begin = 0, g = 0; begin < rows; ++g) {
            const int64_t end = std::min(rows, begin + sizes[g % std::size(sizes)]);
            const std::vector<std::size_t> path = g % 2 == 0 ? std::vector<std::size_t>{0, 1, 2, 3}
                                                             : std::vector<std::size_t>{0, 1, 4, 5};
            groups.push_back({begin, end, path});
            begin = end;
        }
        const Tensor x = Tensor::randn({rows, 2}, gen), grad_out = Tensor::randn({rows, 4}, gen);
        SWIRL_CHECK_CLOSE(mlp(x, model.layers, groups), mlp_composed(x, model.layers, groups), 1e-4, 1e-4);
        const MlpGradients recomputed = mlp_backward(grad_out, x, model.layers, groups, true);
        check_gradients(recomputed, mlp_backward_composed(grad_out, x, model.layers, groups, true), 1e-4, 1e-4);
        MlpSaved saved;
        mlp(x, model.layers, groups, &saved);
        REQUIRE(saved.kept.defined() == (rows == 3000));
        check_same_bits(mlp_backward(grad_out, x, model.layers, groups, true, &saved), recomputed);
#ifdef _OPENMP
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        const MlpGradients one = mlp_backward(grad_out, x, model.layers, groups, true);
        omp_set_num_threads(2);
        const MlpGradients two = mlp_backward(grad_out, x, model.layers, groups, true);
        omp_set_num_threads(threads);
        check_same_bits(one, two);
#endif
    }
}

TEST_CASE("mlp names what does not fit: widths, groups, repeated layers, shapes of the gradient") {
    Generator gen(24);
    const ModelLike model(8, DType::f64, gen);
    const Tensor x = Tensor::randn({10, 2}, gen, DType::f64);
    auto message = [&](const std::vector<MlpGroup>& groups) {
        try {
            mlp(x, model.layers, groups);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message({{0, 10, {1}}}).find("layer 1 takes 8 inputs but receives 2") != std::string::npos);
    CHECK(message({{0, 4, {0, 1, 2, 3}}}).find("cover 4 of the 10 rows") != std::string::npos);
    CHECK(message({{0, 4, {0, 1, 2, 3}}, {5, 10, {0, 1, 2, 3}}}).find("tile the rows in order") != std::string::npos);
    CHECK(message({{0, 10, {0, 1, 1}}}).find("appears twice") != std::string::npos);
    CHECK(message({{0, 10, {0, 7}}}).find("path names layer 7 of 6") != std::string::npos);
    CHECK(message({{0, 5, {0, 1, 2, 3}}, {5, 10, {0, 1}}}).find("paths end with 4 and 8 outputs") != std::string::npos);
    CHECK(message({}).find("no row groups") != std::string::npos);
    CHECK_THROWS_WITH_AS(mlp_backward(Tensor::zeros({10, 3}, DType::f64), x, model.layers, {{0, 10, {0, 1, 2, 3}}}, false),
                         doctest::Contains("grad_out [10, 3] does not fit [10, 4]"), Error);
}

}  // namespace

namespace {

TEST_CASE("the fused mlp counts one kernel a pass in op_traffic, with its operands' bytes only") {
    Generator gen(5);
    const ModelLike model(8, DType::f64, gen);
    const Tensor x = Tensor::randn({10, 2}, gen, DType::f64), grad_out = Tensor::ones({10, 4}, DType::f64);
    // Groups {0, 1, 2, 3} only: layers 4 and 5 are not read. Weights 8x2, 8x8, 8x8, 4x8 and their biases.
    const std::vector<MlpGroup> groups{{0, 10, {0, 1, 2, 3}}};
    const int64_t parameters = 8 * (16 + 8 + 64 + 8 + 64 + 8 + 32 + 4);
    OpTraffic before = op_traffic();
    const Tensor out = mlp(x, model.layers, groups);
    OpTraffic after = op_traffic();
    CHECK(after.kernels - before.kernels == 1);
    CHECK(after.bytes - before.bytes == 8 * (20 + 40) + parameters);  // x [10, 2] and out [10, 4], f64

    const MlpGradients grads = mlp_backward(grad_out, x, model.layers, groups, true);
    const OpTraffic backward = op_traffic();
    CHECK(backward.kernels - after.kernels == 1);
    // Reads grad_out, x and the parameters; writes x's gradient and the parameters' gradients.
    CHECK(backward.bytes - after.bytes == 8 * (40 + 20 + 20) + 2 * parameters);
}

}  // namespace

namespace {

TEST_CASE("the composed mlp's backward from the forward's saved activations equals its recomputing one") {
    Generator gen(23);
    for (bool last_relu : {false, true}) {
        CAPTURE(last_relu);
        ModelLike model(16, DType::f64, gen);
        model.layers[3].relu = last_relu;  // the backward then needs the saved output's ReLU mask
        const auto groups = ModelLike::groups(50);
        const Tensor x = Tensor::randn({50, 2}, gen, DType::f64), grad_out = Tensor::randn({50, 4}, gen, DType::f64);
        MlpSaved saved;
        const Tensor out = mlp_composed(x, model.layers, groups, &saved);
        // The head (layers 0 and 1) is shared: x and its two outputs for all rows; then each tail's input rows
        // and its two outputs.
        REQUIRE(saved.prefix.size() == 3);
        CHECK(saved.prefix.back().shape() == Shape{50, 16});
        REQUIRE(saved.tails.size() == groups.size());
        CHECK(saved.tails[0].size() == 3);
        CHECK(saved.tails[1].empty());  // the empty group
        for (bool need_x : {false, true}) {
            // The same operations on the same values: equal to the last bit; and the saved activations are
            // really used: that backward dispatches fewer ops (no forward again).
            const OpTraffic before = op_traffic();
            const MlpGradients reused = mlp_backward_composed(grad_out, x, model.layers, groups, need_x, &saved);
            const OpTraffic middle = op_traffic();
            const MlpGradients recomputed = mlp_backward_composed(grad_out, x, model.layers, groups, need_x);
            CHECK(middle.kernels - before.kernels < op_traffic().kernels - middle.kernels);
            check_gradients(reused, recomputed, 0.0, 0.0);
        }
        // The CPU kernel keeps its own activations, none of the composition's: it clears what an earlier forward
        // left in `saved`.
        SWIRL_CHECK_CLOSE(mlp(x, model.layers, groups, &saved), out, 1e-12, 1e-12);
        CHECK(saved.prefix.empty());
        CHECK(saved.tails.empty());
        CHECK(saved.kept.defined());
    }
}

TEST_CASE("the CPU mlp kernel's backward from kept activations equals its recomputing one, and a large batch keeps none") {
    Generator gen(25);
    for (DType dtype : {DType::f64, DType::f32}) {
        for (bool last_relu : {false, true}) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(last_relu);
            ModelLike model(64, dtype, gen);
            model.layers[3].relu = last_relu;  // the backward then needs the last output's ReLU mask
            // 3000 rows: 12 blocks, one of them cut in two segments by the groups.
            const auto groups = ModelLike::groups(3000);
            const Tensor x = Tensor::randn({3000, 2}, gen, dtype), grad_out = Tensor::randn({3000, 4}, gen, dtype);
            MlpSaved saved;
            const Tensor kept_out = mlp(x, model.layers, groups, &saved);
            REQUIRE(saved.kept.defined());
            CHECK(kept_out.to_vector() == mlp(x, model.layers, groups).to_vector());
            for (bool need_x : {false, true}) {
                CAPTURE(need_x);
                // The same products on the same values: equal to the last bit.
                check_gradients(mlp_backward(grad_out, x, model.layers, groups, need_x, &saved),
                                mlp_backward(grad_out, x, model.layers, groups, need_x), 0.0, 0.0);
            }
        }
    }
    // 45,000 rows of 196 float64 activations (69 MB) are past what the kernel keeps: it will recompute them.
    ModelLike model(64, DType::f64, gen);
    const Tensor x = Tensor::randn({45000, 2}, gen, DType::f64);
    MlpSaved saved;
    mlp(x, model.layers, ModelLike::groups(45000), &saved);
    CHECK_FALSE(saved.kept.defined());
}

}  // namespace

namespace {

TEST_CASE("the composition handles paths that share no layer, one-layer paths and tails of different lengths") {
    Generator gen(24);
    std::vector<DenseLayer> layers;
    auto layer = [&](int64_t out, int64_t in, bool relu) {
        layers.push_back({Tensor::randn({out, in}, gen, DType::f64), Tensor::randn({out}, gen, DType::f64), relu});
    };
    layer(8, 2, true);   // 0
    layer(8, 2, true);   // 1
    layer(4, 8, false);  // 2
    layer(4, 8, true);   // 3
    layer(4, 2, false);  // 4: a one-layer path
    layer(8, 8, true);   // 5
    const std::vector<std::vector<MlpGroup>> cases = {
        {{0, 5, {0, 2}}, {5, 5, {1, 3}}, {5, 12, {1, 3}}, {12, 15, {4}}},  // nothing shared
        {{0, 6, {0, 2}}, {6, 15, {0, 5, 3}}},                              // layer 0 shared, tails of two lengths
        {{0, 15, {0, 5, 2}}},                                              // one group: all but the last shared
    };
    const Tensor x = Tensor::randn({15, 2}, gen, DType::f64), grad_out = Tensor::randn({15, 4}, gen, DType::f64);
    for (std::size_t c = 0; c < cases.size(); ++c) {
        CAPTURE(c);
        SWIRL_CHECK_CLOSE(mlp(x, layers, cases[c]), mlp_composed(x, layers, cases[c]), 1e-12, 1e-12);
        for (bool need_x : {false, true}) {
            CAPTURE(need_x);
            MlpSaved saved;
            mlp_composed(x, layers, cases[c], &saved);
            const MlpGradients expected = mlp_backward(grad_out, x, layers, cases[c], need_x);
            check_gradients(mlp_backward_composed(grad_out, x, layers, cases[c], need_x), expected, 1e-12, 1e-12);
            check_gradients(mlp_backward_composed(grad_out, x, layers, cases[c], need_x, &saved), expected, 1e-12, 1e-12);
        }
    }
}

}  // namespace

namespace {

// mean_q [rows, 2] and std_q [rows, 1] (or [rows, 2]) of a plausible posterior: std in [0.05, 1.05].
struct Posterior {
    Tensor mean_q, std_q;
    Posterior(int64_t rows, bool per_element, DType dtype, Generator& gen)
        : mean_q(Tensor::randn({rows, 2}, gen, dtype)),
          std_q(add_scalar(Tensor::rand({rows, per_element ? int64_t{2} : int64_t{1}}, gen, dtype), 0.05)) {}
};

TEST_CASE("the CPU's one-pass mlp_gaussian_kl equals mlp, gaussian_kl and their backwards one after another, bit for bit") {
    // 50000 rows: the composition's backward recomputes (past kKeepBytes); 3000 keeps; 9 is one block.
    Generator gen(31);
    for (DType dtype : {DType::f32, DType::f64}) {
        for (int64_t rows : {50000, 3000, 9}) {
            for (bool per_element : {false, true}) {
                if (rows == 50000 && (dtype == DType::f64 || per_element)) continue;
                CAPTURE(dtype_name(dtype));
                CAPTURE(rows);
                CAPTURE(per_element);
                const ModelLike model(64, dtype, gen);
                const auto groups = ModelLike::groups(rows);
                const Tensor x = Tensor::randn({rows, 2}, gen, dtype);
                const Posterior q(rows, per_element, dtype, gen);
                MlpGradients fused, composed;
                const Tensor loss = mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q, {}, &fused);
                const Tensor expected = mlp_gaussian_kl_composed(x, model.layers, groups, q.mean_q, q.std_q, {}, &composed);
                CHECK(loss.shape() == Shape{});
                CHECK(loss.item() == expected.item());
                CHECK_FALSE(fused.x.defined());
                check_same_bits(fused, composed);
            }
        }
    }
}

TEST_CASE("mlp_gaussian_kl and its composition equal the naive loops and gaussian_kl's formula") {
    // The loss against the reference MLP and the KL written out; the gradients against the reference backward of
    // the KL's gradient, d kl / d mean_p = (mean_p - mean_q) / var_p and d kl / d log_var_p = 0.5 - mismatch / 2 var_p.
    Generator gen(32);
    const int64_t rows = 700;
    const ModelLike model(64, DType::f64, gen);
    const auto groups = ModelLike::groups(rows);
    const Tensor x = Tensor::randn({rows, 2}, gen, DType::f64);
    const Posterior q(rows, false, DType::f64, gen);
    const Tensor y = naive::mlp(x, model.layers, groups);
    double kl_sum = 0.0;
    Tensor grad_out = Tensor::empty({rows, 4}, DType::f64);
    const double n = 2.0 * static_cast<double>(rows);
    for (int64_t i = 0; i < rows; ++i) {
        const double s = q.std_q.at(i, 0);
        for (int64_t j = 0; j < 2; ++j) {
            const double mq = q.mean_q.at(i, j), mp = y.at(i, j), lv = y.at(i, 2 + j);
            const double mismatch = s * s + (mq - mp) * (mq - mp);
            kl_sum += 0.5 * lv - std::log(s) + 0.5 * mismatch * std::exp(-lv) - 0.5;
            grad_out.data<double>()[i * 4 + j] = (mp - mq) * std::exp(-lv) / n;
            grad_out.data<double>()[i * 4 + 2 + j] = (0.5 - 0.5 * mismatch * std::exp(-lv)) / n;
        }
    }
    const MlpGradients naive = naive::mlp_backward(grad_out, x, model.layers, groups);
    MlpGradients fused, composed;
    CHECK(mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q, {}, &fused).item() == doctest::Approx(kl_sum / n).epsilon(1e-12));
    CHECK(mlp_gaussian_kl_composed(x, model.layers, groups, q.mean_q, q.std_q, {}, &composed).item() ==
          doctest::Approx(kl_sum / n).epsilon(1e-12));
    // Without gradients (sampling, eval, a NoGradGuard): the loss alone, also the naive loops'.
    CHECK(mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q).item() == doctest::Approx(kl_sum / n).epsilon(1e-12));
    MlpGradients naive_weights = naive;
    naive_weights.x = Tensor();
    check_gradients(fused, naive_weights, 1e-10, 1e-12);
    check_gradients(composed, naive_weights, 1e-10, 1e-12);
}

TEST_CASE("mlp_gaussian_kl gives the same sums on one thread and on two") {
#ifdef _OPENMP
    Generator gen(33);
    const ModelLike model(64, DType::f32, gen);
    const int64_t rows = 40000;
    const auto groups = ModelLike::groups(rows);
    const Tensor x = Tensor::randn({rows, 2}, gen);
    const Posterior q(rows, false, DType::f32, gen);
    const int saved = omp_get_max_threads();
    MlpGradients one, two;
    omp_set_num_threads(1);
    const Tensor loss_one = mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q, {}, &one);
    omp_set_num_threads(2);
    const Tensor loss_two = mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q, {}, &two);
    omp_set_num_threads(saved);
    CHECK(loss_one.item() == loss_two.item());
    CHECK_FALSE(one.x.defined());
    check_same_bits(one, two);
#else
    MESSAGE("built without OpenMP: one thread only");
#endif
}

TEST_CASE("mlp_gaussian_kl names what does not fit: q's shapes, an output that is not 2d wide") {
    Generator gen(34);
    const ModelLike model(8, DType::f64, gen, 4), model5(8, DType::f64, gen, 5);
    const Tensor x = Tensor::randn({10, 2}, gen, DType::f64);
    const std::vector<MlpGroup> groups{{0, 10, {0, 1, 2, 3}}};
    const Tensor mean_q = Tensor::zeros({10, 2}, DType::f64), std_q = Tensor::ones({10, 1}, DType::f64);
    MlpGradients grads;
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, Tensor::zeros({10, 3}, DType::f64), std_q, {}, &grads),
                         doctest::Contains("expected mean_q [10, d] for a stack with 2d outputs (4 here), got [10, 3]"), Error);
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, mean_q, Tensor::ones({10, 3}, DType::f64), {}, &grads),
                         doctest::Contains("expected std_q [10, 1] or [10, 2], got [10, 3]"), Error);
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, mean_q, std_q.to(DType::f32), {}, &grads),
                         doctest::Contains("mlp_gaussian_kl"), Error);
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, {{0, 10, {0, 1}}}, mean_q, std_q, {}, &grads),
                         doctest::Contains("2d outputs (8 here)"), Error);
    GaussianHead rotated;
    rotated.rotated = true;
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, mean_q, std_q, rotated, &grads),
                         doctest::Contains("for a stack with 2d + 1 outputs (4 here)"), Error);
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model5.layers, groups, mean_q, Tensor::ones({10, 2}, DType::f64), rotated, &grads),
                         doctest::Contains("a rotated head takes an isotropic q: expected std_q [10, 1], got [10, 2]"), Error);
    GaussianHead half_eps;
    half_eps.xt = x;
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, mean_q, std_q, half_eps, &grads),
                         doctest::Contains("the head's eps mean needs xt, eps_xt and eps_coef"), Error);
    GaussianHead wrong_column{x, Tensor::ones({10, 2}, DType::f64), Tensor::ones({10, 1}, DType::f64), {}, {}, false};
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x, model.layers, groups, mean_q, std_q, wrong_column, &grads),
                         doctest::Contains("expected the head's eps_xt [10, 1], got [10, 2]"), Error);
    CHECK_THROWS_WITH_AS(mlp_gaussian_kl(x.rows(0, 0), model.layers, {{0, 0, {0, 1, 2, 3}}}, mean_q.rows(0, 0),
                                         std_q.rows(0, 0), {}, &grads),
                         doctest::Contains("x has no rows"), Error);
}

// The diffusion model's other readings of a tail's output (diffusion/parametrization.h): the eps mean, the bounded
// log-variance, the full covariance's rotation; per-row constants drawn in plausible ranges.
struct Head {
    const char* name;
    bool eps, bounded, rotated;
    GaussianHead make(const Tensor& x, Generator& gen) const {
        const int64_t rows = x.dim(0);
        const DType dtype = x.dtype();
        GaussianHead head;
        if (eps) {
            head.xt = x;
            head.eps_xt = add_scalar(Tensor::rand({rows, 1}, gen, dtype), 0.5);
            head.eps_coef = add_scalar(Tensor::rand({rows, 1}, gen, dtype), 0.1);
        }
        if (bounded) {
            head.low = add_scalar(neg(Tensor::rand({rows, 1}, gen, dtype)), -2.0);
            head.high = add(head.low, add_scalar(Tensor::rand({rows, 1}, gen, dtype), 0.5));
        }
        head.rotated = rotated;
        return head;
    }
};
const Head kHeads[] = {{"eps, free", true, false, false},
                       {"mean, bounded", false, true, false},
                       {"eps, bounded", true, true, false},
                       {"eps, full", true, true, true},
                       {"mean, rotated, free", false, false, true}};

TEST_CASE("the one pass reads every head as its composition does: the loss, the layers' gradients, x's, q's and the head's") {
    // The gradients of x, q and the head's constants are a learned schedule's; 2000 rows take many blocks and
    // stripes, 9 one block.
    Generator gen(36);
    std::vector<Head> heads{{"mean, free (the seed's)", false, false, false}};
    heads.insert(heads.end(), std::begin(kHeads), std::end(kHeads));
    for (DType dtype : {DType::f64, DType::f32}) {
        for (const Head& h : heads) {
            for (auto [rows, per_element] : {std::pair<int64_t, bool>{2000, false}, {2000, true}, {9, false}}) {
                if (per_element && h.rotated) continue;  // a rotated head takes an isotropic q
                CAPTURE(dtype_name(dtype));
                CAPTURE(h.name);
                CAPTURE(rows);
                CAPTURE(per_element);
                const ModelLike model(64, dtype, gen, h.rotated ? 5 : 4);
                const auto groups = ModelLike::groups(rows);
                const Tensor x = Tensor::randn({rows, 2}, gen, dtype);
                const Posterior q(rows, per_element, dtype, gen);
                const GaussianHead head = h.make(x, gen);
                MlpGradients fused, composed;
                GaussianKlInputGradients fused_in, composed_in;
                const double loss =
                    mlp_gaussian_kl(x, model.layers, groups, q.mean_q, q.std_q, head, &fused, &fused_in).item();
                const double expected = mlp_gaussian_kl_composed(x, model.layers, groups, q.mean_q, q.std_q, head,
                                                                 &composed, &composed_in)
                                            .item();
                const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
                CHECK(loss == doctest::Approx(expected).epsilon(tol));
                check_gradients(fused, composed, tol, tol);
                const std::pair<const char*, std::pair<const Tensor*, const Tensor*>> parts[] = {
                    {"x", {&fused_in.x, &composed_in.x}},
                    {"mean_q", {&fused_in.mean_q, &composed_in.mean_q}},
                    {"std_q", {&fused_in.std_q, &composed_in.std_q}},
                    {"xt", {&fused_in.xt, &composed_in.xt}},
                    {"eps_xt", {&fused_in.eps_xt, &composed_in.eps_xt}},
                    {"eps_coef", {&fused_in.eps_coef, &composed_in.eps_coef}},
                    {"low", {&fused_in.low, &composed_in.low}},
                    {"high", {&fused_in.high, &composed_in.high}}};
                for (const auto& [name, pair] : parts) {
                    CAPTURE(name);
                    REQUIRE(pair.first->defined() == pair.second->defined());
                    if (pair.second->defined()) SWIRL_CHECK_CLOSE(*pair.first, *pair.second, tol, tol);
                }
                CHECK(fused_in.std_q.shape() == q.std_q.shape());
                CHECK(fused_in.eps_xt.defined() == h.eps);
                CHECK(fused_in.low.defined() == h.bounded);
            }
        }
    }
}

}  // namespace
