// Behaviour of tensor/: factories, views, every op against a naive loop, broadcasting, error messages.
#include <doctest/doctest.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>

#include "helpers.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/distributed/distributed.h"
#include "tensor/error.h"
#include "tensor/formulas.h"
#include "tensor/host_allocator.h"
#include "tensor/ops.h"
#include "tensor/instruments/profile.h"
#include "tests/naive_dense.h"

using namespace swirl;

namespace {

// Naive reference: out[i][j] = sum_k A[i][k] B[k][j] on host vectors.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    const auto av = a.to_vector(), bv = b.to_vector();
    const int64_t M = trans_a ? a.dim(1) : a.dim(0), K = trans_a ? a.dim(0) : a.dim(1);
    const int64_t N = trans_b ? b.dim(0) : b.dim(1);
    std::vector<double> out(static_cast<std::size_t>(M * N), 0.0);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j)
            for (int64_t k = 0; k < K; ++k) {
                double x = trans_a ? av[k * M + i] : av[i * K + k];
                double y = trans_b ? bv[j * K + k] : bv[k * N + j];
                out[i * N + j] += x * y;
            }
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("factories fill tensors with the requested values, shape and dtype") {
    auto z = Tensor::zeros({2, 3}, DType::f64);
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.dtype() == DType::f64);
    CHECK(z.to_vector() == std::vector<double>(6, 0.0));
    CHECK(Tensor::full({4}, 2.5).to_vector() == std::vector<double>(4, 2.5));
    CHECK(Tensor::arange(4).to_vector() == std::vector<double>{0, 1, 2, 3});
    auto v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(v.at(1, 2) == 6.0);
    CHECK(v.to(DType::f64).dtype() == DType::f64);
    CHECK(Tensor::from_vector({7}, {}).item() == 7.0);
}

TEST_CASE("rows() is a view that shares storage while clone() is a deep copy") {
    auto m = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {3, 2}, DType::f64);
    auto middle = m.rows(1, 2);
    CHECK(middle.shape() == Shape{1, 2});
    CHECK(middle.to_vector() == std::vector<double>{2, 3});
    middle.data<double>()[0] = 20;
    CHECK(m.at(1, 0) == 20.0);
    auto copy = m.clone();
    copy.data<double>()[0] = -1;
    CHECK(m.at(0, 0) == 0.0);
}

TEST_CASE("matmul matches a naive triple loop for every transpose combination and both dtypes") {
    Generator gen(11);
    for (DType dtype : {DType::f32, DType::f64}) {
        for (bool ta : {false, true})
            for (bool tb : {false, true}) {
                const int64_t M = 37, K = 19, N = 23;
                auto a = Tensor::randn(ta ? Shape{K, M} : Shape{M, K}, gen, dtype);
                auto b = Tensor::randn(tb ? Shape{N, K} : Shape{K, N}, gen, dtype);
                auto out = matmul(a, b, ta, tb);
                auto expected = Tensor::from_vector(naive_matmul(a, b, ta, tb), {M, N}, DType::f64);
                SWIRL_CHECK_CLOSE(out.to(DType::f64), expected, dtype == DType::f32 ? 1e-5 : 1e-12, 1e-5);
            }
    }
}

TEST_CASE("matmul's fast paths equal the naive loops on the model's shapes") {
    // N = 64 (tiles), N = 2 and 4 (narrow outputs), K = 20000 (split sums), with every transpose combination; M
    // leaves every count of rows (1..5) in a last tile of 6, each a micro-kernel of its own (gemm_tile.h).
    Generator gen(12);
    const std::vector<std::array<int64_t, 3>> shapes = {{1000, 64, 64}, {1000, 2, 64}, {1000, 64, 4}, {64, 20000, 64},
                                                        {64, 20000, 2}, {4, 20000, 64}, {37, 5, 48}, {3, 7, 16},
                                                        {8, 9, 64},     {11, 3, 32},    {6, 1, 16}};
    for (DType dtype : {DType::f32, DType::f64}) {
        for (const auto& [M, K, N] : shapes) {
            for (bool ta : {false, true})
                for (bool tb : {false, true}) {
                    CAPTURE(M);
                    CAPTURE(K);
                    CAPTURE(N);
                    CAPTURE(ta);
                    CAPTURE(tb);
                    auto a = Tensor::randn(ta ? Shape{K, M} : Shape{M, K}, gen, dtype);
                    auto b = Tensor::randn(tb ? Shape{N, K} : Shape{K, N}, gen, dtype);
                    const Tensor reference = naive::matmul(a, b, ta, tb);
                    // Sums of up to 20000 products: float32 rounding grows like sqrt(K) eps.
                    SWIRL_CHECK_CLOSE(matmul(a, b, ta, tb).to(DType::f64), reference, dtype == DType::f32 ? 1e-4 : 1e-12,
                                      dtype == DType::f32 ? 1e-3 : 1e-10);
                }
        }
    }
}

TEST_CASE("linear and its gradients equal the naive loops") {
    Generator gen(4);
    for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(dtype_name(dtype));
        // float32 rounding of sums of up to 300 products of unit normals grows like sqrt(300) eps |terms|.
        const double tol = dtype == DType::f64 ? 1e-12 : 1e-4;
        // 70 inputs, 64 outputs: the tiled product; 3 outputs: the narrow one.
        for (int64_t out : {64, 3}) {
            const Tensor x = Tensor::randn({300, 70}, gen, dtype), w = Tensor::randn({out, 70}, gen, dtype);
            const Tensor b = Tensor::randn({out}, gen, dtype), grad_y = Tensor::randn({300, out}, gen, dtype);
            for (bool relu : {false, true})
                SWIRL_CHECK_CLOSE(linear(x, w, b, relu).to(DType::f64), naive::linear(x, w, b, relu), tol, tol);
            // The backward ops of autograd::linear: grad_y @ w, grad_y^T @ x, the column sums of grad_y.
            const naive::LinearGradients expected = naive::linear_backward(grad_y, x, w);
            SWIRL_CHECK_CLOSE(matmul(grad_y, w).to(DType::f64), expected.x, tol, tol);
            SWIRL_CHECK_CLOSE(matmul(grad_y, x, true, false).to(DType::f64), expected.weight, tol, tol);
            SWIRL_CHECK_CLOSE(sum(grad_y, 0).reshape({out}).to(DType::f64), expected.bias, tol, tol);
        }
    }
}

TEST_CASE("linear equals matmul with the transposed weight plus the bias, and fuses ReLU") {
    Generator gen(3);
    auto x = Tensor::randn({9, 5}, gen, DType::f64), w = Tensor::randn({4, 5}, gen, DType::f64);
    auto b = Tensor::randn({4}, gen, DType::f64);
    auto reference = add(matmul(x, w, false, true), b);
    SWIRL_CHECK_CLOSE(linear(x, w, b), reference, 1e-12, 1e-12);
    SWIRL_CHECK_CLOSE(linear(x, w, b, true), relu(reference), 1e-12, 1e-12);
}

TEST_CASE("elementwise ops match std:: functions") {
    Generator gen(5);
    auto x = Tensor::rand({3, 4}, gen, DType::f64);  // in [0, 1): log and sqrt are defined
    auto xs = x.to_vector();
    auto check = [&](const Tensor& out, double (*f)(double)) {
        auto got = out.to_vector();
        for (std::size_t i = 0; i < xs.size(); ++i) CHECK(got[i] == doctest::Approx(f(xs[i])).epsilon(1e-14));
    };
    check(exp(x), [](double v) { return std::exp(v); });
    check(log(x), [](double v) { return std::log(v); });
    check(sqrt(x), [](double v) { return std::sqrt(v); });
    check(square(x), [](double v) { return v * v; });
    check(neg(x), [](double v) { return -v; });
    check(relu(add_scalar(x, -0.5)), [](double v) { return std::max(v - 0.5, 0.0); });
    check(scale(x, 3.0), [](double v) { return 3.0 * v; });
}

TEST_CASE("binary ops broadcast scalars, rows and columns over a matrix") {
    auto m = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
    CHECK(add(m, Tensor::from_vector({10}, {}, DType::f64)).to_vector() == std::vector<double>{11, 12, 13, 14, 15, 16});
    CHECK(sub(m, Tensor::from_vector({1, 2, 3}, {3}, DType::f64)).to_vector() == std::vector<double>{0, 0, 0, 3, 3, 3});
    CHECK(mul(m, Tensor::from_vector({2, 3}, {2, 1}, DType::f64)).to_vector() ==
          std::vector<double>{2, 4, 6, 12, 15, 18});
    CHECK(div(Tensor::from_vector({6}, {1, 1}, DType::f64), m).to_vector() == std::vector<double>{6, 3, 2, 1.5, 1.2, 1});
}

TEST_CASE("sum, sum along an axis, sum_to and expand") {
    auto m = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
    CHECK(sum(m).item() == 21.0);
    CHECK(sum(m).shape() == Shape{});
    std::vector<double> counting(1029);  // a whole block of 1024 and a part, neither a multiple of the 8 lanes
    for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<double>(i + 1);
    CHECK(sum(Tensor::from_vector(counting, {1029}, DType::f32)).item() == 1029.0 * 1030.0 / 2.0);
    CHECK(sum(Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {11}, DType::f64)).item() == 66.0);
    CHECK(sum(m, 0).to_vector() == std::vector<double>{5, 7, 9});
    CHECK(sum(m, 0).shape() == Shape{1, 3});
    CHECK(sum(m, 1).to_vector() == std::vector<double>{6, 15});
    CHECK(sum_to(m, {3}).to_vector() == std::vector<double>{5, 7, 9});
    CHECK(sum_to(m, {2, 1}).to_vector() == std::vector<double>{6, 15});
    CHECK(sum_to(m, {}).item() == 21.0);
    CHECK(expand(Tensor::from_vector({1, 2}, {2, 1}, DType::f64), {2, 3}).to_vector() ==
          std::vector<double>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("long sums are exact enough and identical for any thread count") {
    Generator gen(8);
    for (int64_t rows : {100000, 700001}) {  // the second splits its blocks over the threads, with a ragged end
        CAPTURE(rows);
        auto x = Tensor::randn({rows, 3}, gen);
        auto total = sum(x).item();
        double reference = 0.0;
        for (double v : x.to_vector()) reference += v;
        CHECK(total == doctest::Approx(reference).epsilon(1e-6));
#ifdef _OPENMP
        const int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        const double one = sum(x).item();
        omp_set_num_threads(2);
        const double two = sum(x).item();
        omp_set_num_threads(saved);
        CHECK(one == total);
        CHECK(two == total);
#endif
    }
}

TEST_CASE("columns slice, concatenate back into the original and are written in place") {
    auto m = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}, DType::f64);
    auto left = slice_cols(m, 0, 1), right = slice_cols(m, 1, 4);
    CHECK(left.to_vector() == std::vector<double>{1, 5});
    CHECK(right.shape() == Shape{2, 3});
    CHECK(concat_cols({left, right}).to_vector() == m.to_vector());
    Tensor target = Tensor::zeros({2, 5}, DType::f64);
    set_cols_(target, 2, right);
    CHECK(target.to_vector() == std::vector<double>{0, 0, 2, 3, 4, 0, 0, 6, 7, 8});
    CHECK_THROWS_WITH_AS(set_cols_(target, 3, right), doctest::Contains("src [2, 3] does not fit dst [2, 5] at column 3"),
                         Error);
}

TEST_CASE("index_select_rows gathers rows and index_add_rows_ scatters them back, accumulating repeats") {
    auto m = Tensor::from_vector({0, 1, 10, 11, 20, 21}, {3, 2}, DType::f64);
    auto index = Tensor::from_indices({2, 0, 2});
    auto picked = index_select_rows(m, index);
    CHECK(picked.to_vector() == std::vector<double>{20, 21, 0, 1, 20, 21});
    auto back = Tensor::zeros({3, 2}, DType::f64);
    index_add_rows_(back, index, picked);
    CHECK(back.to_vector() == std::vector<double>{0, 1, 0, 0, 40, 42});
    CHECK(error_of([&] { index_select_rows(m, Tensor::from_indices({3})); }).find("out of range") != std::string::npos);
}

TEST_CASE("shape mismatches throw swirl::Error naming the op and both shapes") {
    auto a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
    auto message = error_of([&] { add(a, b); });
    CHECK(message.find("add") != std::string::npos);
    CHECK(message.find("[2, 3]") != std::string::npos);
    CHECK(message.find("[4, 5]") != std::string::npos);
    message = error_of([&] { matmul(a, b); });
    CHECK(message.find("matmul") != std::string::npos);
    CHECK(message.find("[2, 3]") != std::string::npos);
    CHECK(message.find("[4, 5]") != std::string::npos);
    CHECK(error_of([&] { add(a, Tensor::zeros({2, 3}, DType::f64)); }).find("dtype mismatch") != std::string::npos);
    CHECK(error_of([&] { Tensor::from_vector({1, 2}, {3}); }).find("[3]") != std::string::npos);
    CHECK(error_of([&] { Tensor::zeros({2}).to(Device::cuda()); }).find("cuda") != std::string::npos);
}

TEST_CASE("Adam's update kernel follows torch.optim.Adam on one element") {
    auto p = Tensor::from_vector({1.0}, {1}, DType::f64), g = Tensor::from_vector({0.5}, {1}, DType::f64);
    auto m = Tensor::zeros({1}, DType::f64), v = Tensor::zeros({1}, DType::f64);
    adam_update_(p, g, m, v, {0.1, 0.9, 0.999, 1e-8, 0.0}, 1);
    // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps).
    CHECK(p.item() == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
}

TEST_CASE("a multi-tensor Adam step equals the formula applied element by element, across dtypes and step counts") {
    Generator gen(8);
    // Mixed dtypes (two kernel calls), an empty tensor, one big enough to go parallel, step counts that repeat
    // (the kernel computes a run's constants once) and change.
    const std::vector<std::pair<Shape, DType>> specs = {{{7, 3}, DType::f32}, {{0, 4}, DType::f32}, {{5}, DType::f64},
                                                        {{1100, 1000}, DType::f32}, {{64}, DType::f64},
                                                        {{4}, DType::f32}, {{2, 2}, DType::f32}};
    const std::vector<int64_t> steps = {1, 1, 2, 3, 3, 3, 5};
    struct Four {
        Tensor param, grad, exp_avg, exp_avg_sq;
        int64_t step;
        AdamTarget target() { return {&param, &grad, &exp_avg, &exp_avg_sq, step}; }
    };
    std::vector<Four> many, single;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const auto& [shape, dtype] = specs[i];
        Four t{Tensor::randn(shape, gen, dtype), Tensor::randn(shape, gen, dtype), Tensor::randn(shape, gen, dtype),
               square(Tensor::randn(shape, gen, dtype)), steps[i]};
        many.push_back(t);
        single.push_back({t.param.clone(), t.grad, t.exp_avg.clone(), t.exp_avg_sq.clone(), t.step});
    }
    std::vector<AdamTarget> targets;
    for (Four& t : many) targets.push_back(t.target());
    const AdamOptions hyper{1e-2, 0.8, 0.99, 1e-6, 0.05};
    const OpTraffic before = op_traffic();
    adam_update_(targets, hyper);
    CHECK(op_traffic().kernels - before.kernels == 2);  // one call per dtype; the empty tensor takes none
    // The reference: the formula element by element, in plain loops (no work items, no chunks).
    auto reference = [&](Four& t, auto zero) {
        using T = decltype(zero);
        const auto c = formulas::adam_constants_at<T>(hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weight_decay,
                                                      t.step);
        for (int64_t i = 0; i < t.param.numel(); ++i)
            formulas::adam_element(t.param.data<T>()[i], t.grad.data<T>()[i], t.exp_avg.data<T>()[i],
                                   t.exp_avg_sq.data<T>()[i], c);
    };
    for (Four& t : single) {
        if (t.param.dtype() == DType::f32)
            reference(t, float{});
        else
            reference(t, double{});
    }
    // The same bits when the kernels run the instructions this file was compiled for; a copy for another capability
    // (a portable build, forced to avx2 or avx512) may fuse multiply-adds the formula here rounds twice.
    const bool same_instructions = std::string(cpu::kernels().capability) == cpu::SWIRL_CPU_NAMESPACE::kCapability.name;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        CAPTURE(i);
        if (same_instructions) {
            CHECK(many[i].param.to_vector() == single[i].param.to_vector());
            CHECK(many[i].exp_avg.to_vector() == single[i].exp_avg.to_vector());
            CHECK(many[i].exp_avg_sq.to_vector() == single[i].exp_avg_sq.to_vector());
        } else {
            SWIRL_CHECK_CLOSE(many[i].param, single[i].param, 1e-6, 1e-7);
            SWIRL_CHECK_CLOSE(many[i].exp_avg, single[i].exp_avg, 1e-6, 1e-7);
            SWIRL_CHECK_CLOSE(many[i].exp_avg_sq, single[i].exp_avg_sq, 1e-6, 1e-7);
        }
    }
    Four mismatched{Tensor::zeros({2}), Tensor::zeros({3}), Tensor::zeros({2}), Tensor::zeros({2}), 1};
    CHECK_THROWS_WITH_AS(adam_update_({mismatched.target()}, hyper),
                         doctest::Contains("adam_update_: shape mismatch, [2] vs [3]"), Error);
    AdamTarget lacking = mismatched.target();
    lacking.exp_avg = nullptr;
    CHECK_THROWS_WITH_AS(adam_update_({lacking}, hyper),
                         doctest::Contains("adam_update_: a target lacks one of its four tensors"), Error);
}

TEST_CASE("Adam's update of a mid-sized model on the team, after parallel products, equals its update on one thread") {
    // 160 tensors of 1,100 floats: 176,000 parameters, as a per-sample step of the seed's model updates. After
    // products that ran on the team Adam splits them over the threads, otherwise it runs on one; the bits agree,
    // and the note is taken by the update that read it.
    auto model = [&](uint64_t seed) {
        Generator g(seed);
        std::vector<Tensor> t;
        for (int i = 0; i < 4 * 160; ++i)  // param, grad, exp_avg, exp_avg_sq (not negative)
            t.push_back(i % 4 == 3 ? square(Tensor::randn({1100}, g)) : Tensor::randn({1100}, g));
        return t;
    };
    std::vector<Tensor> team = model(5), alone = model(5);
    auto targets = [](std::vector<Tensor>& t) {
        std::vector<AdamTarget> out;
        for (std::size_t i = 0; i < t.size(); i += 4) out.push_back({&t[i], &t[i + 1], &t[i + 2], &t[i + 3], 7});
        return out;
    };
    const AdamOptions hyper{1e-3, 0.9, 0.999, 1e-8, 0.0};
    cpu::note_parallel_products();
    adam_update_(targets(team), hyper);
    CHECK_FALSE(cpu::take_parallel_products());
    adam_update_(targets(alone), hyper);
    for (std::size_t i = 0; i < team.size(); ++i) {
        CAPTURE(i);
        CHECK(team[i].to_vector() == alone[i].to_vector());
    }
    CHECK(team[0].to_vector() != model(5)[0].to_vector());  // the update moved the parameters
}

namespace {

TEST_CASE("running out of host memory is one clear error, and allocation goes on") {
    // 256 TiB: more than a 47-bit user address space holds, so refused whatever the overcommit policy.
    CHECK_THROWS_WITH_AS(Tensor::empty({int64_t{1} << 46}, DType::f32),
                         doctest::Contains("out of host memory: cannot allocate 268435456.0 MiB"), Error);
    CHECK(sum(Tensor::ones({1000}, DType::f32)).item() == 1000.0);
}

TEST_CASE("the host caching allocator reuses a freed block for any size of its class") {
    // 300,000 and 310,000 bytes both round up to 327,680 (a quarter step above 256 KiB): the second request is
    // served by the first block. Blocks under 256 bytes are not cached.
    void* first = host_allocate(300000);
    const HostMemoryStats before = host_memory_stats();
    host_release(first, 300000);
    void* second = host_allocate(310000);
    const HostMemoryStats after = host_memory_stats();
    host_release(second, 310000);
#ifndef __SANITIZE_ADDRESS__  // nothing is cached under AddressSanitizer
    CHECK(second == first);
    CHECK(after.cached == host_memory_stats().cached - 327680);
#endif
    CHECK(after.in_use == before.in_use);  // both counted at their class size
}

}  // namespace

namespace {

TEST_CASE("the CPU Gaussian KL kernel equals its composition from the elementwise ops, forward and backward") {
    Generator gen(41);
    for (DType dtype : {DType::f64, DType::f32}) {
        for (const Shape& std_shape : {Shape{300, 1}, Shape{}, Shape{300, 2}}) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(shape_str(std_shape));
            const Tensor mean_q = Tensor::randn({300, 2}, gen, dtype), mean_p = Tensor::randn({300, 2}, gen, dtype);
            const Tensor log_var_p = Tensor::randn({300, 2}, gen, dtype), grad = Tensor::randn({300, 2}, gen, dtype);
            const Tensor std_q = add_scalar(Tensor::rand(std_shape, gen, dtype), 0.1);
            const double tol = dtype == DType::f32 ? 1e-5 : 1e-13;
            SWIRL_CHECK_CLOSE(gaussian_kl(mean_q, std_q, mean_p, log_var_p),
                              gaussian_kl_composed(mean_q, std_q, mean_p, log_var_p), tol, tol);
            Tensor mean_grad, log_var_grad, mean_grad_ref, log_var_grad_ref;
            gaussian_kl_backward(mean_grad, log_var_grad, grad, mean_q, std_q, mean_p, log_var_p);
            gaussian_kl_backward_composed(mean_grad_ref, log_var_grad_ref, grad, mean_q, std_q, mean_p, log_var_p);
            SWIRL_CHECK_CLOSE(mean_grad, mean_grad_ref, tol, tol);
            SWIRL_CHECK_CLOSE(log_var_grad, log_var_grad_ref, tol, tol);
        }
    }
    CHECK_THROWS_WITH_AS(gaussian_kl(Tensor::zeros({3, 2}), Tensor::ones({3, 3}), Tensor::zeros({3, 2}), Tensor::zeros({3, 2})),
                         doctest::Contains("shapes [3, 3] and [3, 2] do not broadcast"), Error);
}

}  // namespace

namespace {

TEST_CASE("op_traffic counts each dispatched kernel with the bytes of its operands") {
    const Tensor a = Tensor::zeros({3, 4}), row = Tensor::zeros({4});  // float32: 48 and 16 bytes
    OpTraffic before = op_traffic();
    const Tensor broadcast_sum = add(a, row);  // reads 48 + 16, writes 48
    OpTraffic after = op_traffic();
    CHECK(after.kernels - before.kernels == 1);
    CHECK(after.bytes - before.bytes == 48 + 16 + 48);

    before = op_traffic();
    const Tensor column = slice_cols(a, 1, 2);  // a strided copy: reads and writes 3 floats
    after = op_traffic();
    CHECK(after.kernels - before.kernels == 1);
    CHECK(after.bytes - before.bytes == 2 * 12);

    before = op_traffic();
    const Tensor picked = index_select_rows(a, Tensor::from_indices({2, 0}));  // 2 rows of 16 bytes, 2 indices
    after = op_traffic();
    CHECK(after.bytes - before.bytes == 2 * 32 + 16);

    const Tensor product = matmul(a, a, false, true);  // [3, 3]: reads a twice as operands, writes 36 bytes
    CHECK(op_traffic().bytes - after.bytes == 48 + 48 + 36);
}

}  // namespace

namespace {

TEST_CASE("repeat_rows writes runs of copies of rows, skips empty runs and names a run that does not fit") {
    const Tensor table = Tensor::from_vector({0, 1, 10, 11, 20, 21}, {3, 2}, DType::f64);
    const Tensor out = repeat_rows(table, {{2, 2}, {0, 0}, {1, 1}, {2, 1}});
    CHECK(out.shape() == Shape{4, 2});
    CHECK(out.to_vector() == std::vector<double>{20, 21, 20, 21, 10, 11, 20, 21});
    CHECK(repeat_rows(table, {}).shape() == Shape{0, 2});
    // The same rows as index_select_rows through the equivalent index.
    SWIRL_CHECK_CLOSE(repeat_rows(table, {{1, 3}, {0, 2}}), index_select_rows(table, Tensor::from_indices({1, 1, 1, 0, 0})),
                      0.0, 0.0);
    CHECK_THROWS_WITH_AS(repeat_rows(table, {{3, 1}}), doctest::Contains("copies of row 3 does not fit x [3, 2]"), Error);
    CHECK_THROWS_WITH_AS(repeat_rows(table, {{0, -1}}), doctest::Contains("counts >= 0"), Error);
}

}  // namespace

TEST_CASE("TreeSum adds leaves as a pairwise tree, and an absent part is no gradient, not zero") {
    // Values whose float sum depends on the order: a sequential sum and the tree differ, the tree is reproduced.
    const std::vector<double> values = {1e8, 1.0, -1e8, 1.0, 3.0, 1e-3, 7.0, -2.0};
    auto leaf = [](double v, bool present) {
        return std::vector<Tensor>{Tensor::full({2}, v), present ? Tensor::full({1}, v) : Tensor()};
    };
    distributed::TreeSum tree;
    for (std::size_t i = 0; i < values.size(); ++i) tree.add(leaf(values[i], i == 5));
    CHECK(tree.leaves() == 8);
    std::vector<Tensor> sum = tree.take();
    auto f = [](double v) { return static_cast<float>(v); };
    const float expected = ((f(values[0]) + f(values[1])) + (f(values[2]) + f(values[3]))) +
                           ((f(values[4]) + f(values[5])) + (f(values[6]) + f(values[7])));
    float sequential = 0.0f;
    for (double v : values) sequential += f(v);
    REQUIRE(expected != sequential);  // the case tells the orders apart
    CHECK(static_cast<float>(sum[0].at(0)) == expected);
    CHECK(static_cast<float>(sum[0].at(1)) == expected);
    REQUIRE(sum[1].defined());  // present in one leaf: that leaf's value, untouched by the absent ones
    CHECK(sum[1].at(0) == doctest::Approx(values[5]).epsilon(1e-7));

    // Two halves summed apart, then added (what two ranks do), give the same bits as the whole tree.
    distributed::TreeSum left, right;
    for (std::size_t i = 0; i < 4; ++i) left.add(leaf(values[i], i == 5));
    for (std::size_t i = 4; i < 8; ++i) right.add(leaf(values[i], i == 5));
    std::vector<Tensor> a = left.take(), b = right.take();
    CHECK_FALSE(a[1].defined());
    distributed::add_parts_(b, a);  // the right rank adds the left's: a + b == b + a
    CHECK(static_cast<float>(b[0].at(0)) == expected);
    CHECK(b[1].at(0) == sum[1].at(0));

    distributed::TreeSum three;
    for (int i = 0; i < 3; ++i) three.add(leaf(1.0, true));
    CHECK_THROWS_WITH_AS(three.take(), doctest::Contains("not a power of two"), Error);
}

TEST_CASE("profile scopes count nothing when off, add up each phase's calls when on, and refuse to overlap") {
    {
        profile::Scope off("unseen");
    }
    profile::enable(Device::cpu());
    CHECK(profile::phases().empty());
    for (int i = 0; i < 3; ++i) {
        profile::Scope first("first");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    {
        profile::Scope second("second");
        CHECK_THROWS_WITH_AS(profile::Scope("inner"), doctest::Contains("phase 'inner' started inside phase 'second'"), Error);
    }
    profile::disable();
    {
        profile::Scope after("after");
    }
    const std::vector<profile::PhaseTime> phases = profile::phases();
    REQUIRE(phases.size() == 2);
    CHECK(phases[0].name == "first");
    CHECK(phases[0].calls == 3);
    CHECK(phases[1].name == "second");
    CHECK(phases[1].calls == 1);
    CHECK(phases[0].seconds >= 0.006);  // three scopes of 2 ms sleep each: the clock is read around each
    profile::enable(Device::cpu());  // enabling again starts from nothing
    CHECK(profile::phases().empty());
    profile::disable();
}

TEST_CASE("under mpirun plain --device cuda puts each local rank on its own GPU, and explicit choices are kept") {
    CHECK(distributed::rank_device("cuda", 0, 2) == Device::cuda(0));
    CHECK(distributed::rank_device("cuda", 1, 2) == Device::cuda(1));
    CHECK(distributed::rank_device("cuda", 3, 2) == Device::cuda(1));  // more ranks than GPUs: round robin
    CHECK(distributed::rank_device("cuda", -1, 2) == Device::cuda(0));  // no launcher: the plain meaning
    CHECK(distributed::rank_device("cuda:1", 0, 2) == Device::cuda(1));
    CHECK(distributed::rank_device("cpu", 1, 2) == Device::cpu());
    CHECK(distributed::rank_device("cuda", 1, 0) == Device::cuda(0));  // no GPU: check_device_available says so
    CHECK_THROWS_AS(distributed::rank_device("gpu", 0, 2), Error);
}

TEST_CASE("NCCL sums over ranks only when every rank has a GPU of its own") {
    // The sum itself runs only under mpirun: tests/mpi_test.sh checks it (a missing or doubled sum changes the bytes).
    using distributed::each_rank_on_its_own_gpu;
    CHECK(each_rank_on_its_own_gpu({"node1 0000:3b:00.0", "node1 0000:5e:00.0"}));
    CHECK(each_rank_on_its_own_gpu({"node1 0000:3b:00.0", "node2 0000:3b:00.0"}));  // one bus id, two machines
    // Two ranks on one GPU, which NCCL refuses ("Duplicate GPU detected"): also when they are not partners.
    CHECK_FALSE(each_rank_on_its_own_gpu({"node1 0000:3b:00.0", "node1 0000:3b:00.0"}));
    CHECK_FALSE(each_rank_on_its_own_gpu(
        {"node1 0000:3b:00.0", "node1 0000:5e:00.0", "node1 0000:86:00.0", "node1 0000:5e:00.0"}));
    CHECK_FALSE(each_rank_on_its_own_gpu({"node1 0000:3b:00.0", ""}));  // a rank on the CPU
    CHECK_FALSE(each_rank_on_its_own_gpu({"", ""}));
}
