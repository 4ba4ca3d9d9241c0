// Backend conformance: every kernel of the backend interface (tensor/cpu/kernels.h's Kernels) runs through its op
// on the reference backend (tensor/reference/, the oracle) and on every other backend present: each copy of the
// fast CPU kernels this CPU runs, and CUDA where a device is. Inputs are random and of edge shapes (no rows, one
// row, widths that no tile or vector divides, every broadcast the ops accept); outputs must agree within each
// case's tolerances. A kernel that the reference table lacks, or that no case runs, fails a test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/device.h"
#include "tensor/error.h"
#include "tensor/fused/mlp.h"
#include "tensor/ops.h"
#include "tensor/reference/kernels.h"
#include "tests/helpers.h"

using namespace swirl;

namespace {

// A case: the kernels it runs and what it returns, computed on one device in one dtype from inputs that depend on
// neither the device nor the kernels.
struct Case {
    const char* name;
    std::vector<std::string> kernels;
    double rtol_f32, atol_f32;          // float64 is held to 1e-12
    bool on_cuda = true;                // false: CUDA's results are not the CPU's by design (cuRAND's stream)
    std::function<std::vector<Tensor>(Device, DType)> run;
};

// Values in [low, high) from a host generator seeded by `seed`: the same numbers on every backend.
Tensor input(const Shape& shape, DType dtype, Device device, uint64_t seed, double low = -1.0, double high = 1.0) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<double> uniform(low, high);
    std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
    for (double& v : values) v = uniform(engine);
    return Tensor::from_vector(values, shape, dtype).to(device);
}

// The rows and widths every elementwise case runs on: none, one, a few, and more than a vector or a tile holds.
const std::vector<Shape> kShapes = {{0, 3}, {1, 1}, {1, 17}, {7, 3}, {33, 5}, {300, 2}};

template <typename F>
std::vector<Tensor> over_shapes(F f) {
    std::vector<Tensor> out;
    uint64_t seed = 1;
    for (const Shape& shape : kShapes)
        for (Tensor& t : f(shape, seed++)) out.push_back(std::move(t));
    return out;
}

// The MLP cases' model: a shared head (2 -> 8 -> 8, ReLU) and two tails (8 -> 8 ReLU -> width); three groups,
// one of them empty, so that layers are shared across groups and one group has no rows.
struct Mlp {
    std::vector<DenseLayer> layers;
    std::vector<MlpGroup> groups;
};

Mlp mlp_model(DType dtype, Device device, int64_t rows, int64_t width) {
    const std::vector<std::pair<int64_t, int64_t>> shapes = {{8, 2}, {8, 8}, {8, 8}, {width, 8}, {8, 8}, {width, 8}};
    Mlp m;
    uint64_t seed = 100;
    for (std::size_t l = 0; l < shapes.size(); ++l) {
        const auto [out, in] = shapes[l];
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));
        m.layers.push_back({input({out, in}, dtype, device, seed++, -bound, bound),
                            input({out}, dtype, device, seed++, -bound, bound), l != 3 && l != 5});
    }
    const int64_t split = rows / 3;
    m.groups = {{0, split, {0, 1, 2, 3}}, {split, split, {0, 1, 4, 5}}, {split, rows, {0, 1, 4, 5}}};
    return m;
}

std::vector<Tensor> gradients(const MlpGradients& g) {
    std::vector<Tensor> out;
    if (g.x.defined()) out.push_back(g.x);
    for (const Tensor& t : g.weights)
        if (t.defined()) out.push_back(t);
    for (const Tensor& t : g.biases)
        if (t.defined()) out.push_back(t);
    return out;
}

std::vector<Case> cases() {
    std::vector<Case> all;
    auto unary_case = [&](const char* name, Tensor (*op)(const Tensor&), double low, double high) {
        all.push_back({name, {"unary"}, 1e-6, 1e-6, true, [=](Device dev, DType dt) {
                           return over_shapes([&](const Shape& s, uint64_t seed) {
                               return std::vector<Tensor>{op(input(s, dt, dev, seed, low, high))};
                           });
                       }});
    };
    unary_case("neg", &swirl::neg, -3, 3);
    unary_case("exp", &swirl::exp, -5, 5);
    unary_case("log", &swirl::log, 1e-3, 10);
    unary_case("sqrt", &swirl::sqrt, 0, 10);
    unary_case("square", &swirl::square, -3, 3);
    unary_case("relu", &swirl::relu, -1, 1);
    unary_case("sigmoid", &swirl::sigmoid, -30, 30);
    unary_case("sin", &swirl::sin, -20, 20);
    unary_case("cos", &swirl::cos, -20, 20);

    all.push_back({"scale, add_scalar", {"affine"}, 1e-6, 1e-6, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const Tensor x = input(s, dt, dev, seed);
                           return std::vector<Tensor>{scale(x, -2.5), add_scalar(x, 0.75)};
                       });
                   }});
    all.push_back({"relu_backward", {"relu_backward"}, 0, 0, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           return std::vector<Tensor>{relu_backward(input(s, dt, dev, seed), input(s, dt, dev, seed + 50))};
                       });
                   }});
    // Every broadcast of the binary ops: same shape, a scalar either side, a row and a column over a matrix either
    // side, a row against a column.
    all.push_back({"add, sub, mul, div broadcast", {"binary"}, 1e-6, 1e-6, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const int64_t M = s[0], N = s[1];
                           const std::vector<std::pair<Shape, Shape>> pairs = {
                               {{M, N}, {M, N}}, {{M, N}, {}},     {{}, {M, N}},   {{M, N}, {1, N}},
                               {{1, N}, {M, N}}, {{M, N}, {M, 1}}, {{M, 1}, {M, N}}, {{M, 1}, {1, N}}};
                           std::vector<Tensor> out;
                           for (const auto& [sa, sb] : pairs) {
                               const Tensor a = input(sa, dt, dev, seed), b = input(sb, dt, dev, seed + 7, 0.5, 2.0);
                               for (auto op : {&swirl::add, &swirl::sub, &swirl::mul, &swirl::div}) out.push_back(op(a, b));
                           }
                           return out;
                       });
                   }});
    all.push_back({"expand, sum_to", {"expand", "sum_rows", "sum_cols", "sum_all"}, 1e-6, 1e-6, true,
                   [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const int64_t M = s[0], N = s[1];
                           const Tensor x = input(s, dt, dev, seed);
                           return std::vector<Tensor>{expand(input({1, N}, dt, dev, seed), s),
                                                      expand(input({M, 1}, dt, dev, seed), s),
                                                      expand(input({}, dt, dev, seed), s),
                                                      sum(x), sum(x, 0), sum(x, 1), sum_to(x, {1, N}), sum_to(x, {M, 1})};
                       });
                   }});
    // Products: every transpose, sizes down to 0 and 1 and widths no register tile divides.
    all.push_back({"matmul", {"matmul"}, 1e-5, 1e-5, true, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       uint64_t seed = 1;
                       for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{
                                {0, 5, 3}, {4, 0, 3}, {1, 1, 1}, {7, 13, 5}, {37, 19, 23}, {130, 70, 9}})
                           for (bool ta : {false, true})
                               for (bool tb : {false, true}) {
                                   const Tensor a = input(ta ? Shape{K, M} : Shape{M, K}, dt, dev, seed++);
                                   const Tensor b = input(tb ? Shape{N, K} : Shape{K, N}, dt, dev, seed++);
                                   out.push_back(matmul(a, b, ta, tb));
                               }
                       return out;
                   }});
    all.push_back({"linear", {"linear"}, 1e-5, 1e-5, true, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       uint64_t seed = 1;
                       for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{
                                {0, 4, 3}, {1, 1, 1}, {9, 2, 64}, {33, 64, 5}, {300, 17, 31}})
                           for (bool relu : {false, true}) {
                               const Tensor x = input({M, K}, dt, dev, seed), w = input({N, K}, dt, dev, seed + 1);
                               out.push_back(linear(x, w, input({N}, dt, dev, seed + 2), relu));
                               seed += 3;
                           }
                       return out;
                   }});
    all.push_back({"mlp, mlp_backward", {"mlp_forward", "mlp_backward"}, 1e-5, 1e-5, true, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       for (int64_t rows : {1, 10, 300}) {
                           const Mlp m = mlp_model(dt, dev, rows, 5);
                           const Tensor x = input({rows, 2}, dt, dev, static_cast<uint64_t>(rows));
                           MlpSaved saved;
                           out.push_back(mlp(x, m.layers, m.groups, &saved));
                           const Tensor grad = input({rows, 5}, dt, dev, 7);
                           for (const Tensor& g : gradients(mlp_backward(grad, x, m.layers, m.groups, true, &saved)))
                               out.push_back(g);
                           for (const Tensor& g : gradients(mlp_backward(grad, x, m.layers, m.groups, false)))
                               out.push_back(g);
                       }
                       return out;
                   }});
    // The fused objective under every reading of the stack's output, with the inputs' gradients and without.
    all.push_back({"mlp_gaussian_kl", {"mlp_gaussian_kl"}, 1e-4, 1e-5, true, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       for (int64_t rows : {1, 10, 300})
                           for (int variant = 0; variant < 6; ++variant) {
                               const bool eps = variant % 2 == 1, bounded = variant >= 2, rotated = variant >= 4;
                               const Mlp m = mlp_model(dt, dev, rows, rotated ? 5 : 4);
                               const Tensor x = input({rows, 2}, dt, dev, 11);
                               GaussianHead head;
                               if (eps) {
                                   head.xt = input({rows, 2}, dt, dev, 12);
                                   head.eps_xt = input({rows, 1}, dt, dev, 13, 0.9, 1.1);
                                   head.eps_coef = input({rows, 1}, dt, dev, 14, 0.01, 0.5);
                               }
                               if (bounded) {
                                   head.low = input({rows, 1}, dt, dev, 15, -8, -4);
                                   head.high = input({rows, 1}, dt, dev, 16, -3, -1);
                               }
                               head.rotated = rotated;
                               const Tensor mean_q = input({rows, 2}, dt, dev, 17);
                               const Tensor std_q = input({rows, variant % 3 == 0 ? 2 : 1}, dt, dev, 18, 0.05, 0.5);
                               MlpGradients grads;
                               GaussianKlInputGradients in;
                               const bool with_inputs = variant != 2;
                               out.push_back(mlp_gaussian_kl(x, m.layers, m.groups, mean_q, std_q, head, &grads,
                                                             with_inputs ? &in : nullptr));
                               for (const Tensor& g : gradients(grads)) out.push_back(g);
                               if (with_inputs)
                                   for (const Tensor& t : {in.x, in.mean_q, in.std_q, in.xt, in.eps_xt, in.eps_coef, in.low, in.high})
                                       if (t.defined()) out.push_back(t);
                           }
                       return out;
                   }});
    all.push_back({"gaussian_kl, gaussian_kl_backward", {"gaussian_kl", "gaussian_kl_backward"}, 1e-5, 1e-6, true,
                   [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const Tensor mq = input(s, dt, dev, seed), mp = input(s, dt, dev, seed + 1);
                           const Tensor lv = input(s, dt, dev, seed + 2, -3, 1);
                           const Tensor grad = input(s, dt, dev, seed + 3);
                           std::vector<Tensor> out;
                           for (const Tensor& sq : {input(s, dt, dev, seed + 4, 0.1, 1), input({s[0], 1}, dt, dev, seed + 5, 0.1, 1)}) {
                               out.push_back(gaussian_kl(mq, sq, mp, lv));
                               Tensor gm, glv;
                               gaussian_kl_backward(gm, glv, grad, mq, sq, mp, lv);
                               out.push_back(gm);
                               out.push_back(glv);
                           }
                           return out;
                       });
                   }});
    all.push_back({"slice_cols, concat_cols, set_cols_", {"copy_cols"}, 0, 0, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const Tensor x = input(s, dt, dev, seed);
                           Tensor y = concat_cols({x, input({s[0], 2}, dt, dev, seed + 1), x});
                           set_cols_(y, 1, slice_cols(x, 0, 1));
                           return std::vector<Tensor>{slice_cols(x, s[1] - 1, s[1]), y};
                       });
                   }});
    all.push_back({"index_select_rows, index_add_rows_, repeat_rows", {"index_select_rows", "index_add_rows", "repeat_rows"},
                   1e-6, 1e-6, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           const int64_t M = s[0];
                           std::vector<Tensor> out;
                           if (M == 0) return out;
                           std::vector<double> picks;  // every row, then some again: repeated indices add up
                           for (int64_t r = 0; r < M + 5; ++r) picks.push_back(static_cast<double>((r * 7) % M));
                           const Tensor index = Tensor::from_vector(picks, {M + 5}, DType::i64).to(dev);
                           const Tensor x = input(s, dt, dev, seed);
                           out.push_back(index_select_rows(x, index));
                           Tensor acc = input(s, dt, dev, seed + 1);
                           index_add_rows_(acc, index, input({M + 5, s[1]}, dt, dev, seed + 2));
                           out.push_back(acc);
                           out.push_back(repeat_rows(x, {{M - 1, 3}, {0, 0}, {M / 2, 2}}));
                           return out;
                       });
                   }});
    all.push_back({"fill_, copy_, add_, to", {"fill", "copy", "add_inplace"}, 1e-7, 0, true, [](Device dev, DType dt) {
                       return over_shapes([&](const Shape& s, uint64_t seed) {
                           Tensor x = input(s, dt, dev, seed);
                           Tensor filled = Tensor::empty(s, dt, dev);
                           fill_(filled, -1.25);
                           Tensor copied = Tensor::empty(s, dt, dev);
                           copy_(copied, x);
                           add_(x, filled);
                           Tensor counts = Tensor::empty(s, DType::i64, dev);
                           fill_(counts, 3);
                           return std::vector<Tensor>{filled, copied, x, x.to(DType::f64).to(dt), counts.to(dt),
                                                      x.to(DType::f32).to(dt)};
                       });
                   }});
    // Random fills: the fast kernels and the reference draw the same Philox counters (CUDA: cuRAND's own stream).
    all.push_back({"uniform_, normal_, normal_rows_", {"uniform", "normal"}, 1e-5, 1e-6, false, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       for (int64_t rows : {1, 7, 300}) {
                           Generator gen(42);
                           Tensor u = Tensor::empty({rows, 3}, dt, dev), n = Tensor::empty({rows, 3}, dt, dev);
                           uniform_(u, gen, -2, 3);
                           normal_(n, gen, 0.5, 2.0);
                           Tensor part = Tensor::empty({rows, 3}, dt, dev);
                           normal_rows_(part, gen, rows + 5, 3);  // starts mid-block
                           out.insert(out.end(), {u, n, part});
                       }
                       return out;
                   }});
    all.push_back({"adam_update_", {"adam_update"}, 1e-6, 1e-7, true, [](Device dev, DType dt) {
                       std::vector<Tensor> out;
                       for (const Shape& s : kShapes) {
                           if (shape_numel(s) == 0) continue;
                           Tensor p = input(s, dt, dev, 1), m = input(s, dt, dev, 2, -0.1, 0.1);
                           Tensor v = input(s, dt, dev, 3, 0, 0.01);
                           const Tensor g = input(s, dt, dev, 4);
                           adam_update_(p, g, m, v, AdamOptions{.lr = 1e-2, .weight_decay = 0.1}, 3);
                           out.insert(out.end(), {p, m, v});
                       }
                       return out;
                   }});
    return all;
}

std::vector<Tensor> on_host(const std::vector<Tensor>& ts) {
    std::vector<Tensor> host;
    for (const Tensor& t : ts) host.push_back(t.to(Device::cpu()).to(DType::f64));
    return host;
}

void check_against(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected, const Case& c, DType dt,
                   const std::string& backend) {
    CAPTURE(c.name);
    CAPTURE(backend);
    CAPTURE(dtype_name(dt));
    REQUIRE(actual.size() == expected.size());
    const double rtol = dt == DType::f64 ? 1e-12 : c.rtol_f32, atol = dt == DType::f64 ? 1e-12 : c.atol_f32;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        CAPTURE(i);
        SWIRL_CHECK_CLOSE(actual[i], expected[i], rtol, atol);
    }
}

// The lines of a source file, trimmed of leading blanks.
std::vector<std::string> lines_of(const std::string& relative_path) {
    std::ifstream file(std::string(SWIRL_SOURCE_DIR) + "/" + relative_path);
    REQUIRE_MESSAGE(file.good(), "cannot read ", relative_path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) {
        const std::size_t first = line.find_first_not_of(" \t");
        lines.push_back(first == std::string::npos ? "" : line.substr(first));
    }
    return lines;
}

bool is_identifier(const std::string& word) {
    return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// The kernels of struct Kernels (tensor/cpu/kernels.h): its fields "SomethingKernel* name;".
std::set<std::string> kernel_fields() {
    std::set<std::string> names;
    for (const std::string& line : lines_of("tensor/cpu/kernels.h")) {
        const std::size_t star = line.find("Kernel* ");
        if (star == std::string::npos || line.back() != ';' || !is_identifier(line.substr(0, star))) continue;
        const std::string name = line.substr(star + 8, line.size() - star - 9);
        if (is_identifier(name)) names.insert(name);
    }
    return names;
}

// The entries of the reference table (tensor/reference/table.cpp): its lines ".name = &function,".
std::set<std::string> reference_entries() {
    std::set<std::string> names;
    for (const std::string& line : lines_of("tensor/reference/table.cpp")) {
        const std::size_t at = line.find(" = &");
        if (line.empty() || line[0] != '.' || at == std::string::npos) continue;
        const std::string name = line.substr(1, at - 1);
        if (is_identifier(name)) names.insert(name);
    }
    return names;
}

}  // namespace

TEST_CASE("conformance: every kernel has a reference twin and a conformance case") {
    // The fields of struct Kernels that are kernels (pointers to a *Kernel type).
    const std::set<std::string> kernels = kernel_fields();
    const std::set<std::string> twins = reference_entries();
    REQUIRE(kernels.size() >= 20);
    CHECK(twins.size() == kernels.size());
    std::set<std::string> covered = {"fma_chains"};  // a peak probe, checked below, not a result to compare
    for (const Case& c : cases()) covered.insert(c.kernels.begin(), c.kernels.end());
    for (const std::string& name : kernels) {
        CAPTURE(name);
        CHECK_MESSAGE(twins.count(name) == 1, "tensor/reference/table.cpp has no entry for the kernel ", name);
        CHECK_MESSAGE(covered.count(name) == 1, "tests/test_conformance.cpp has no case that runs the kernel ", name);
    }
    for (const std::string& name : covered) CHECK_MESSAGE(kernels.count(name) == 1, "a case names an unknown kernel ", name);
    // The table holds every entry it names (none left null by a field added after it).
    const cpu::Kernels& table = reference::kernels();
    CHECK(std::string(table.capability) == "reference");
    CHECK(table.fma_chains(1000) == 16000.0);
}

TEST_CASE("conformance: every backend's kernels agree with the reference backend's") {
    test::KeepCpuKernels keep;
    const bool cuda = cuda_device_count() > 0;
    if (!cuda) MESSAGE("no CUDA device: the CPU copies against the reference only");
    for (const Case& c : cases()) {
        INFO("case: ", std::string(c.name));
        for (DType dt : {DType::f32, DType::f64}) {
            cpu::use_kernels(cpu::KernelSet::reference);
            const std::vector<Tensor> expected = on_host(c.run(Device::cpu(), dt));
            cpu::use_kernels(cpu::KernelSet::fast);
            for (const std::string& copy : cpu::runnable_capabilities()) {
                cpu::use_capability(copy);
                check_against(on_host(c.run(Device::cpu(), dt)), expected, c, dt, "cpu " + copy);
            }
            if (cuda && c.on_cuda) check_against(on_host(c.run(Device::cuda(0), dt)), expected, c, dt, "cuda");
        }
    }
}

TEST_CASE("conformance: the switch selects the reference kernels and refuses unknown names") {
    test::KeepCpuKernels keep;
    cpu::use_kernels(cpu::KernelSet::reference);
    CHECK(std::string(cpu::kernels().capability) == "reference");
    CHECK(cpu::kernel_set() == cpu::KernelSet::reference);
    cpu::use_kernels(cpu::KernelSet::fast);
    CHECK(std::string(cpu::kernels().capability) != "reference");
    CHECK(cpu::parse_kernel_set("fast") == cpu::KernelSet::fast);
    CHECK(cpu::parse_kernel_set("reference") == cpu::KernelSet::reference);
    CHECK_THROWS_WITH_AS(cpu::parse_kernel_set("naive"), doctest::Contains("expected fast or reference"), swirl::Error);
}
