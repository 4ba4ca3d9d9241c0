// The gradcheck table: every differentiable function, on inputs of several shapes and broadcasts.
#include "gradcheck_table.h"

#include "autograd/functions.h"
#include "nn/layers.h"
#include "tensor/ops.h"

namespace swirl::test {

namespace ag = swirl::autograd;

std::vector<GradcheckCase> gradcheck_table() {
    using V = std::vector<Variable>;
    const std::vector<std::pair<Shape, Shape>> broadcasts = {
        {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 4}, {1, 4}}, {{3, 4}, {3, 1}}, {{3, 4}, {}}, {{1, 4}, {3, 1}}, {{2}, {3, 2}}};
    std::vector<GradcheckCase> table;
    for (const auto& [a, b] : broadcasts) {
        const std::string shapes = shape_str(a) + " and " + shape_str(b);
        table.push_back({"add", shapes, {a, b}, [](const V& in) { return ag::add(in[0], in[1]); }});
        table.push_back({"sub", shapes, {a, b}, [](const V& in) { return ag::sub(in[0], in[1]); }});
        table.push_back({"mul", shapes, {a, b}, [](const V& in) { return ag::mul(in[0], in[1]); }});
        table.push_back({"div", shapes, {a, b}, [](const V& in) { return ag::div(in[0], in[1]); }, true});
    }
    // The operators: each overload against its own input shapes (a scalar operand is a constant).
    table.push_back({"operator+", "[3, 4] + [4]", {{3, 4}, {4}}, [](const V& in) { return in[0] + in[1]; }});
    table.push_back({"operator-", "[3, 4] - [3, 1]", {{3, 4}, {3, 1}}, [](const V& in) { return in[0] - in[1]; }});
    table.push_back({"operator*", "[3, 4] * [3, 4]", {{3, 4}, {3, 4}}, [](const V& in) { return in[0] * in[1]; }});
    table.push_back({"operator/", "[3, 4] / [4]", {{3, 4}, {4}}, [](const V& in) { return in[0] / in[1]; }, true});
    table.push_back({"operator-", "-[3, 4]", {{3, 4}}, [](const V& in) { return -in[0]; }});
    table.push_back({"operator+", "[3, 4] + 0.3 and 0.3 + x", {{3, 4}}, [](const V& in) { return (in[0] + 0.3) * (0.3 + in[0]); }});
    table.push_back({"operator-", "[3, 4] - 0.3 and 0.3 - x", {{3, 4}}, [](const V& in) { return (in[0] - 0.3) * (0.3 - in[0]); }});
    table.push_back({"operator*", "[3, 4] * 1.7 and -1.7 * x", {{3, 4}}, [](const V& in) { return (in[0] * 1.7) * (-1.7 * in[0]); }});
    table.push_back({"operator/", "[3, 4] / 1.7", {{3, 4}}, [](const V& in) { return in[0] / 1.7; }});
    table.push_back({"scale", "[3, 4]", {{3, 4}}, [](const V& in) { return ag::scale(in[0], -1.7); }});
    table.push_back({"add_scalar", "[3, 4]", {{3, 4}}, [](const V& in) { return ag::add_scalar(in[0], 0.3); }});
    for (const Shape& shape : {Shape{5}, Shape{3, 4}}) {
        const std::string s = shape_str(shape);
        table.push_back({"neg", s, {shape}, [](const V& in) { return ag::neg(in[0]); }});
        table.push_back({"exp", s, {shape}, [](const V& in) { return ag::exp(in[0]); }});
        table.push_back({"log", s, {shape}, [](const V& in) { return ag::log(in[0]); }, true});
        table.push_back({"sqrt", s, {shape}, [](const V& in) { return ag::sqrt(in[0]); }, true});
        table.push_back({"square", s, {shape}, [](const V& in) { return ag::square(in[0]); }});
        table.push_back({"relu", s, {shape}, [](const V& in) { return ag::relu(in[0]); }});
        table.push_back({"sigmoid", s, {shape}, [](const V& in) { return ag::sigmoid(ag::scale(in[0], 3.0)); }});
        table.push_back({"sin", s, {shape}, [](const V& in) { return ag::sin(ag::scale(in[0], 3.0)); }});
        table.push_back({"cos", s, {shape}, [](const V& in) { return ag::cos(ag::scale(in[0], 3.0)); }});
    }
    for (bool back : {false, true})
        table.push_back({"rotate", back ? "v [5, 2] by -angle [5, 1]" : "v [5, 2] by angle [5, 1]", {{5, 2}, {5, 1}},
                         [back](const V& in) { return ag::rotate(in[0], ag::scale(in[1], 3.0), back); }});
    table.push_back({"matmul", "[3, 4] @ [4, 2]", {{3, 4}, {4, 2}}, [](const V& in) { return ag::matmul(in[0], in[1]); }});
    table.push_back({"matmul", "[1, 3] @ [3, 1]", {{1, 3}, {3, 1}}, [](const V& in) { return ag::matmul(in[0], in[1]); }});
    for (const char* name : {"linear", "linear_relu"}) {
        const bool fused = std::string(name) == "linear_relu";
        auto f = [fused](const V& in) { return fused ? ag::linear_relu(in[0], in[1], in[2]) : ag::linear(in[0], in[1], in[2]); };
        table.push_back({name, "x [5, 3], weight [4, 3]", {{5, 3}, {4, 3}, {4}}, f});
        table.push_back({name, "x [2, 2], weight [6, 2]", {{2, 2}, {6, 2}, {6}}, f});
    }
    // Inputs: x, then weight and bias of each layer.
    table.push_back({"mlp", "x [5, 3] -> 4 ReLU -> 2", {{5, 3}, {4, 3}, {4}, {2, 4}, {2}}, [](const V& in) {
                         return ag::mlp(in[0], {{in[1], in[2], true}, {in[3], in[4], false}}, {{0, 5, {0, 1}}});
                     }});
    // A shared first layer 16 wide (whole vectors: the tiled product), then per group its own 3-wide layer (the
    // narrow one); the 2-wide input takes the transposed weight gradient.
    table.push_back({"mlp", "two groups, shared layer, x [7, 2] -> 16 -> 3",
                     {{7, 2}, {16, 2}, {16}, {3, 16}, {3}, {3, 16}, {3}}, [](const V& in) {
                         return ag::mlp(in[0], {{in[1], in[2], true}, {in[3], in[4], false}, {in[5], in[6], true}},
                                        {{0, 3, {0, 2}}, {3, 3, {0, 1}}, {3, 7, {0, 1}}});
                     }});
    // The diffusion objective as one op, which computes its gradients in its forward. First only the layers are
    // inputs (x, q and the head's constants fixed, a fixed schedule). Layer 0 is shared, 1 and 2 are two groups'
    // tails (one group empty): 4 wide for the seed's head, 5 for the eps mean with the full covariance (bounded,
    // rotated).
    for (const bool seed_head : {true, false}) {
        const int64_t out = seed_head ? 4 : 5;
        table.push_back({"mlp_gaussian_kl",
                         seed_head ? "layers only, the seed's head, x [7, 2] -> 16 -> 4, std_q [7, 1]"
                                   : "layers only, eps mean, bounded and rotated (full), x [7, 2] -> 16 -> 5",
                         {{16, 2}, {16}, {out, 16}, {out}, {out, 16}, {out}}, [seed_head](const V& in) {
                             auto constant = [&](std::vector<double> values, int64_t cols) {
                                 const int64_t rows = static_cast<int64_t>(values.size()) / cols;
                                 return Variable(Tensor::from_vector(values, {rows, cols}, DType::f64)
                                                     .to(in[0].data().dtype())
                                                     .to(in[0].data().device()));
                             };
                             const Variable x = constant({0.3, -1.2, 0.8, 0.1, -0.5, 0.4, 1.1, -0.7, 0.2, 0.9, -1.4, 0.6, 0.05, -0.3}, 2);
                             const Variable mean_q = constant({0.2, -0.1, 0.7, 0.3, -0.4, 0.5, 0.9, -0.6, 0.1, 0.8, -1.0, 0.4, 0.0, -0.2}, 2);
                             const Variable std_q = constant({0.6, 1.3, 0.9, 0.4, 1.1, 0.7, 0.5}, 1);
                             ag::GaussianHead head;
                             if (!seed_head) {
                                 head = {x, constant({1.1, 0.9, 1.3, 1.0, 0.8, 1.2, 1.05}, 1),
                                         constant({0.3, 0.5, 0.2, 0.6, 0.4, 0.35, 0.25}, 1),
                                         constant({-2.5, -3.0, -2.2, -2.8, -3.1, -2.4, -2.6}, 1),
                                         constant({-1.0, -1.5, -0.9, -1.2, -1.8, -1.1, -0.7}, 1), true};
                             }
                             return ag::mlp_gaussian_kl(
                                 x, {{in[0], in[1], true}, {in[2], in[3], false}, {in[4], in[5], false}},
                                 {{0, 3, {0, 1}}, {3, 3, {0, 2}}, {3, 7, {0, 2}}}, mean_q, std_q, head);
                         }});
    }
    // Then every input carries a gradient, as under a learned schedule: x (also the eps mean's x_t), q, the head's
    // columns and the layers, x [5, 2] -> 8 -> 4 or 5; std_q a column. Normal draws, the positive ones through exp
    // (std_q, the eps columns; low below high), so that the outputs stay moderate and the sigmoid unsaturated.
    for (const bool seed_head : {true, false}) {
        const int64_t out = seed_head ? 4 : 5;
        std::vector<Shape> shapes{{8, 2}, {8}, {out, 8}, {out}, {5, 2}, {5, 2}, {5, 1}};
        if (!seed_head) shapes.insert(shapes.end(), {{5, 1}, {5, 1}, {5, 1}, {5, 1}});
        table.push_back({"mlp_gaussian_kl",
                         seed_head ? "every input, the seed's head" : "every input, eps mean, bounded and rotated (full)",
                         shapes, [seed_head](const V& in) {
                             ag::GaussianHead head;
                             if (!seed_head) {
                                 const Variable low = ag::add_scalar(ag::neg(ag::exp(in[9])), -1.0);
                                 head = {in[4], ag::exp(in[7]), ag::exp(in[8]), low, ag::add(low, ag::exp(in[10])), true};
                             }
                             return ag::mlp_gaussian_kl(in[4], {{in[0], in[1], true}, {in[2], in[3], false}},
                                                        {{0, 5, {0, 1}}}, in[5], ag::exp(in[6]), head);
                         }});
    }
    // q's mean and std are constants (fixed values in the inputs' dtype, on their device); the inputs are mean_p
    // and log_var_p.
    for (const bool per_row : {true, false}) {
        table.push_back({"gaussian_kl", per_row ? "[3, 2], std_q [3, 1]" : "[3, 2], std_q []", {{3, 2}, {3, 2}},
                         [per_row](const V& in) {
                             auto like_input = [&](const Tensor& t) {
                                 return t.to(in[0].data().dtype()).to(in[0].data().device());
                             };
                             const Tensor mean_q = like_input(Tensor::from_vector({0.3, -0.2, 0.8, 0.1, -0.5, 0.4}, {3, 2}, DType::f64));
                             const Tensor std_q = like_input(per_row ? Tensor::from_vector({0.6, 1.3, 0.9}, {3, 1}, DType::f64)
                                                                     : Tensor::full({}, 0.7, DType::f64));
                             return ag::gaussian_kl(Variable(mean_q), Variable(std_q), in[0], in[1]);
                         }});
    }
    // q carrying gradients too (a learned schedule's posterior): all four inputs, std_q a column or per element.
    for (const Shape& std_shape : {Shape{3, 1}, Shape{3, 2}}) {
        table.push_back({"gaussian_kl", "all four inputs, std_q " + shape_str(std_shape), {{3, 2}, std_shape, {3, 2}, {3, 2}},
                         [](const V& in) { return ag::gaussian_kl(in[0], in[1], in[2], in[3]); }, true});
    }
    table.push_back({"sum", "all of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0]); }});
    table.push_back({"sum", "axis 0 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0], 0); }});
    table.push_back({"sum", "axis 1 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0], 1); }});
    table.push_back({"mean", "all of [3, 4]", {{3, 4}}, [](const V& in) { return ag::mean(in[0]); }});
    table.push_back({"mean", "axis 1 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::mean(in[0], 1); }});
    table.push_back({"slice_cols", "cols [1, 3) of [3, 4]", {{3, 4}}, [](const V& in) { return ag::slice_cols(in[0], 1, 3); }});
    table.push_back({"chunk", "[3, 4] in 2, parts recombined", {{3, 4}}, [](const V& in) {
                         auto parts = ag::chunk(in[0], 2);
                         return ag::add(parts[0], ag::square(parts[1]));
                     }});
    table.push_back({"concat", "[3, 1], [3, 2], [3, 3]", {{3, 1}, {3, 2}, {3, 3}}, [](const V& in) { return ag::concat(in); }});
    table.push_back({"slice_rows", "rows [1, 3) of [4, 2]", {{4, 2}}, [](const V& in) { return ag::slice_rows(in[0], 1, 3); }});
    table.push_back({"concat_rows", "[1, 2], [3, 2]", {{1, 2}, {3, 2}}, [](const V& in) { return ag::concat_rows(in); }});
    table.push_back({"index_select", "rows 2, 0, 2 of [3, 2]", {{3, 2}}, [](const V& in) {
                         return ag::index_select(in[0], Tensor::from_indices({2, 0, 2}, in[0].data().device()));
                     }});
    // The gradient comes back to the input's dtype and device; float64 here, through float64 and back.
    table.push_back({"to", "[3, 2] to float64 on the CPU and back", {{3, 2}}, [](const V& in) {
                         return ag::square(ag::to(ag::to(in[0], DType::f64, Device::cpu()), in[0].data().dtype(),
                                                  in[0].data().device()));
                     }});
    // Fan-out: one input used by several ops; its gradients must add up.
    table.push_back({"mul", "fan-out x*x + x", {{3, 4}}, [](const V& in) { return ag::add(ag::mul(in[0], in[0]), in[0]); }});
    table.push_back({"exp", "fan-out through a shared intermediate", {{4, 2}}, [](const V& in) {
                         Variable e = ag::exp(in[0]);
                         return ag::sum(ag::mul(e, ag::add(e, in[0])), 0);
                     }});
    // Appended last, so that the cases above keep their random inputs.
    // nn::Sigmoid, the binomial model's activation, is autograd::sigmoid.
    table.push_back({"sigmoid", "nn::Sigmoid on [3, 4]", {{3, 4}}, [](const V& in) { return nn::Sigmoid().forward(ag::scale(in[0], 3.0)); }});
    // Rates kept inside (0, 1) by a sigmoid; q constant (the forward posterior's) or carrying gradients, and q a
    // column broadcast along p's rows.
    table.push_back({"bernoulli_kl", "q constant, p [3, 4]", {{3, 4}}, [](const V& in) {
                         const Tensor q = Tensor::from_vector({0.1, 0.5, 0.9, 0.3, 0.02, 0.7, 0.45, 0.6, 0.99, 0.2, 0.8, 0.05},
                                                              {3, 4}, DType::f64)
                                              .to(in[0].data().dtype())
                                              .to(in[0].data().device());
                         return ag::bernoulli_kl(Variable(q), ag::sigmoid(in[0]));
                     }});
    table.push_back({"bernoulli_kl", "q [3, 1] and p [3, 4]", {{3, 1}, {3, 4}}, [](const V& in) {
                         return ag::bernoulli_kl(ag::sigmoid(in[0]), ag::sigmoid(in[1]));
                     }});
    // nn::Tanh, the binomial model's default activation, is autograd::tanh (2 sigmoid(2 x) - 1).
    table.push_back({"tanh", "nn::Tanh on [3, 4]", {{3, 4}}, [](const V& in) { return nn::Tanh().forward(ag::scale(in[0], 2.0)); }});
    return table;
}

std::vector<Tensor> draw_inputs(const GradcheckCase& c, Generator& gen, Device device) {
    std::vector<Tensor> inputs;
    for (const Shape& shape : c.shapes) {
        Tensor x = c.positive ? Tensor::empty(shape, DType::f64) : Tensor::randn(shape, gen, DType::f64);
        if (c.positive) uniform_(x, gen, 0.5, 2.0);
        inputs.push_back(x.to(device));
    }
    return inputs;
}

}  // namespace swirl::test
