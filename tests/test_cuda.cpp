// The CUDA backend against the CPU reference: every op forward and backward in f64 (1e-12) and f32 (1e-5),
// gradcheck on the device, a 50-step training trajectory, and the caching allocator. On a machine without a
// GPU every case prints "[skip] no CUDA device" (a case that needs two, "[skip] fewer than 2 CUDA devices") and
// CTest reports it as skipped; only the NCCL case, which needs no GPU, runs there (in a build with NCCL).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/functions.h"
#include "diffusion/objective.h"
#include "diffusion/swiss_roll.h"
#include "diffusion/training.h"
#include "gradcheck_table.h"
#include "helpers.h"
#include "nn/adam.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#ifdef SWIRL_WITH_CUDA
#include <cuda_runtime.h>

#include "tensor/cuda/runtime.h"
#endif
#ifdef SWIRL_WITH_NCCL
#include <string>

#include "tensor/cuda/check.h"
#include "tensor/cuda/collective.h"
#include "tensor/cuda/libraries.h"
#endif

using namespace swirl;

namespace {

bool skip_without_cuda() {
    if (cuda_device_count() > 0) return false;
    MESSAGE("[skip] no CUDA device");
    return true;
}

const Device kCuda = Device::cuda(0);

double tolerance(DType dtype) { return dtype == DType::f64 ? 1e-12 : 1e-5; }

// Runs op on CPU inputs and on copies of them on the GPU, and compares the results.
void check_op(const char* name, const std::vector<Tensor>& inputs, const std::function<Tensor(const std::vector<Tensor>&)>& op) {
    CAPTURE(name);
    std::vector<Tensor> on_gpu;
    for (const Tensor& t : inputs) on_gpu.push_back(t.to(kCuda));
    const Tensor expected = op(inputs);
    const Tensor actual = op(on_gpu);
    CHECK(actual.device() == kCuda);
    const double tol = tolerance(expected.dtype());
    SWIRL_CHECK_CLOSE(actual.to(Device::cpu()), expected, tol, tol);
}

}  // namespace

TEST_CASE("every tensor op agrees between CPU and CUDA in f64 and f32") {
    if (skip_without_cuda()) return;
    for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(dtype_name(dtype));
        Generator gen(1);
        auto randn = [&](Shape s) { return Tensor::randn(s, gen, dtype); };
        auto positive = [&](Shape s) { Tensor t = Tensor::empty(s, dtype); uniform_(t, gen, 0.5, 2.0); return t; };
        const Tensor m = randn({37, 23}), p = positive({37, 23});
        check_op("neg", {m}, [](auto& in) { return neg(in[0]); });
        check_op("exp", {m}, [](auto& in) { return exp(in[0]); });
        check_op("log", {p}, [](auto& in) { return log(in[0]); });
        check_op("sqrt", {p}, [](auto& in) { return sqrt(in[0]); });
        check_op("square", {m}, [](auto& in) { return square(in[0]); });
        check_op("relu", {m}, [](auto& in) { return relu(in[0]); });
        check_op("sin", {m}, [](auto& in) { return sin(in[0]); });
        check_op("cos", {m}, [](auto& in) { return cos(in[0]); });
        check_op("scale", {m}, [](auto& in) { return scale(in[0], -1.5); });
        check_op("add_scalar", {m}, [](auto& in) { return add_scalar(in[0], 0.25); });
        check_op("relu_backward", {m, randn({37, 23})}, [](auto& in) { return relu_backward(in[1], in[0]); });
        for (const Shape& other : {Shape{37, 23}, Shape{23}, Shape{37, 1}, Shape{}}) {
            CAPTURE(shape_str(other));
            const Tensor b = positive(other);
            check_op("add", {m, b}, [](auto& in) { return add(in[0], in[1]); });
            check_op("sub", {m, b}, [](auto& in) { return sub(in[0], in[1]); });
            check_op("mul", {m, b}, [](auto& in) { return mul(in[0], in[1]); });
            check_op("div", {m, b}, [](auto& in) { return div(in[0], in[1]); });
            check_op("sum_to", {m}, [other](auto& in) { return sum_to(in[0], other); });
            check_op("expand", {b}, [](auto& in) { return expand(in[0], {37, 23}); });
        }
        for (bool ta : {false, true})
            for (bool tb : {false, true}) {
                const Tensor a = randn(ta ? Shape{19, 37} : Shape{37, 19}), b = randn(tb ? Shape{23, 19} : Shape{19, 23});
                check_op("matmul", {a, b}, [ta, tb](auto& in) { return matmul(in[0], in[1], ta, tb); });
            }
        const Tensor x = randn({64, 5}), w = randn({7, 5}), bias = randn({7});
        check_op("linear", {x, w, bias}, [](auto& in) { return linear(in[0], in[1], in[2], false); });
        check_op("linear_relu", {x, w, bias}, [](auto& in) { return linear(in[0], in[1], in[2], true); });
        const Tensor tall = randn({5000, 3});
        check_op("sum", {tall}, [](auto& in) { return sum(in[0]); });
        check_op("sum axis 0", {tall}, [](auto& in) { return sum(in[0], 0); });
        check_op("sum axis 1", {tall}, [](auto& in) { return sum(in[0], 1); });
        // Column sums: 64 columns over more rows than the 256 chunks, and a matrix wider than a block.
        check_op("sum axis 0, [70001, 64]", {randn({70001, 64})}, [](auto& in) { return sum(in[0], 0); });
        check_op("sum axis 0, [50, 300]", {randn({50, 300})}, [](auto& in) { return sum(in[0], 0); });
        check_op("slice_cols", {m}, [](auto& in) { return slice_cols(in[0], 3, 11); });
        check_op("concat_cols", {m, randn({37, 2})}, [](auto& in) { return concat_cols({in[0], in[1]}); });
        check_op("set_cols_", {m, randn({37, 4})}, [](auto& in) {
            Tensor target = in[0].clone();
            set_cols_(target, 19, in[1]);
            return target;
        });
        check_op("concat_rows", {m, randn({3, 23})}, [](auto& in) { return concat_rows({in[0], in[1]}); });
        check_op("index_select_rows", {m}, [](auto& in) {
            return index_select_rows(in[0], Tensor::from_indices({4, 0, 4, 36}, in[0].device()));
        });
        check_op("index_add_rows_", {m, randn({4, 23})}, [](auto& in) {
            Tensor out = in[0].clone();
            index_add_rows_(out, Tensor::from_indices({4, 0, 4, 36}, in[0].device()), in[1]);
            return out;
        });
        std::vector<RowRun> runs;  // 100 runs, 80 not empty: three launches of up to 32 runs each
        for (int64_t r = 0; r < 100; ++r) runs.push_back({(r * 7) % 37, r % 5 == 0 ? 0 : r % 9 + 1});
        check_op("repeat_rows", {m}, [&runs](auto& in) { return repeat_rows(in[0], runs); });
        const Tensor std_q = positive({37, 1}), log_var = randn({37, 23}), grad = randn({37, 23});
        check_op("gaussian_kl", {m, std_q, randn({37, 23}), log_var}, [](auto& in) {
            return gaussian_kl(in[0], in[1], in[2], in[3]);
        });
        check_op("gaussian_kl_backward", {m, std_q, randn({37, 23}), log_var, grad}, [](auto& in) {
            Tensor grad_mean, grad_log_var;
            gaussian_kl_backward(grad_mean, grad_log_var, in[4], in[0], in[1], in[2], in[3]);
            return concat_cols({grad_mean, grad_log_var});
        });
        check_op("copy_ to another dtype", {m}, [](auto& in) { return in[0].to(DType::f64).to(DType::f32).to(DType::f64); });
        check_op("adam_update_", {m, randn({37, 23}), randn({37, 23}), positive({37, 23})}, [](auto& in) {
            Tensor param = in[0].clone(), m1 = in[2].clone(), v = in[3].clone();
            adam_update_(param, in[1], m1, v, {1e-2, 0.9, 0.999, 1e-8, 0.01}, 3);
            return concat_cols({param, m1, v});
        });
        // 40 tensors of the multi-tensor step: three launches of up to 16, each tensor with its own step count.
        check_op("adam_update_ on 40 tensors", {m, randn({37, 23}), randn({37, 23}), positive({37, 23})}, [](auto& in) {
            std::vector<Tensor> tensors;  // param, grad, exp_avg, exp_avg_sq of each target
            tensors.reserve(4 * 40);       // the targets point into it
            std::vector<AdamTarget> targets;
            for (int64_t k = 0; k < 40; ++k) {
                const int64_t rows = 1 + k % 37;
                for (std::size_t i = 0; i < 4; ++i)
                    tensors.push_back(i == 1 ? in[1].rows(0, rows) : in[i].rows(0, rows).clone());
                Tensor* t = &tensors[tensors.size() - 4];
                targets.push_back({&t[0], &t[1], &t[2], &t[3], 1 + k % 7});
            }
            adam_update_(targets, {1e-2, 0.9, 0.999, 1e-8, 0.01});
            std::vector<Tensor> results;
            for (const AdamTarget& t : targets) results.push_back(concat_cols({*t.param, *t.exp_avg, *t.exp_avg_sq}));
            return concat_rows(results);
        });
    }
}

TEST_CASE("every differentiable function passes gradcheck on the CUDA device") {
    if (skip_without_cuda()) return;
    Generator gen(2015);
    for (const test::GradcheckCase& c : test::gradcheck_table()) {
        CAPTURE(c.function);
        CAPTURE(c.description);
        const autograd::GradcheckReport report = autograd::gradcheck(c.f, test::draw_inputs(c, gen, kCuda));
        CHECK_MESSAGE(report.ok, c.function << " (" << c.description << "): " << report.summary());
    }
}

TEST_CASE("backward agrees between CPU and CUDA for every differentiable function") {
    if (skip_without_cuda()) return;
    Generator gen(7);
    for (DType dtype : {DType::f64, DType::f32}) {
        for (const test::GradcheckCase& c : test::gradcheck_table()) {
            CAPTURE(c.function);
            CAPTURE(c.description);
            const std::vector<Tensor> inputs = test::draw_inputs(c, gen);
            std::vector<std::vector<double>> grads[2];
            for (int side = 0; side < 2; ++side) {
                const Device device = side == 0 ? Device::cpu() : kCuda;
                std::vector<Variable> leaves;
                for (const Tensor& t : inputs) leaves.emplace_back(t.to(dtype).to(device), true);
                Variable out = c.f(leaves);
                Generator seed_gen(3);
                out.backward(Tensor::randn(out.shape(), seed_gen, DType::f64).to(dtype).to(device));
                for (const Variable& leaf : leaves) grads[side].push_back(leaf.grad().to_vector());
            }
            for (std::size_t i = 0; i < inputs.size(); ++i)
                SWIRL_CHECK_CLOSE(Tensor::from_vector(grads[1][i], {static_cast<int64_t>(grads[1][i].size())}, DType::f64),
                                  Tensor::from_vector(grads[0][i], {static_cast<int64_t>(grads[0][i].size())}, DType::f64),
                                  tolerance(dtype), tolerance(dtype));
        }
    }
}

TEST_CASE("50 training steps give the same losses on CPU and CUDA from the same weights and noise") {
    if (skip_without_cuda()) return;
    using namespace swirl::diffusion;
    Generator init(1);
    ReverseModel cpu_model({40, 2, 64}, init), gpu_model({40, 2, 64}, init, DType::f32, kCuda);
    gpu_model.load_state_dict(cpu_model.state_dict());
    nn::Adam cpu_adam(cpu_model.parameters(), {.lr = 1e-3}), gpu_adam(gpu_model.parameters(), {.lr = 1e-3});
    const Schedule schedule;
    Generator gen(2);
    for (int step = 0; step < 50; ++step) {
        // Data, steps and noise drawn once on the host; the GPU gets copies.
        const Tensor x0 = sample_swiss_roll(512, gen);
        const auto groups = draw_steps(512, 40, TSampling::sample, gen);
        const Tensor eps = Tensor::randn({512, 2}, gen);
        Variable cpu_loss = kl_objective(cpu_model, schedule, x0, groups, eps);
        Variable gpu_loss = kl_objective(gpu_model, schedule, x0.to(kCuda), groups, eps.to(kCuda));
        for (auto [loss, adam] : {std::pair{&cpu_loss, &cpu_adam}, std::pair{&gpu_loss, &gpu_adam}}) {
            adam->zero_grad();
            loss->backward();
            adam->step();
        }
        CAPTURE(step);
        CHECK(gpu_loss.data().item() == doctest::Approx(cpu_loss.data().item()).epsilon(1e-4));
    }
}

TEST_CASE("a warm training step on CUDA copies nothing between host and device and calls no cudaMalloc") {
    if (skip_without_cuda()) return;
#ifdef SWIRL_WITH_CUDA
    using namespace swirl::diffusion;
    for (TSampling mode : {TSampling::batch, TSampling::sample}) {
        CAPTURE(t_sampling_name(mode));
        Generator gen(6);
        ReverseModel model({40, 2, 64}, gen, DType::f32, kCuda);
        nn::Adam adam(model.parameters(), {.lr = 1e-3});
        const Schedule schedule;
        // Warm-up: in sample mode the groups' sizes change every step (~105 +- 10 rows); after 50 steps every size
        // class a step can ask for has been seen (a group beyond 4 standard deviations would be a new one).
        for (int step = 0; step < 50; ++step) training_step(model, adam, schedule, nullptr, 4096, mode, gen);
        const OpTraffic before = op_traffic();
        const auto warm = cuda::memory_stats();
        Tensor loss;
        for (int step = 0; step < 3; ++step) loss = training_step(model, adam, schedule, nullptr, 4096, mode, gen);
        CHECK(op_traffic().transfers == before.transfers);  // each would wait for the GPU
        CHECK(op_traffic().host_reads == before.host_reads);
        CHECK(cuda::memory_stats().driver_allocations == warm.driver_allocations);
        CHECK(std::isfinite(loss.item()));
    }
#endif
}

TEST_CASE("the caching allocator stops calling cudaMalloc once a repeated workload is warm") {
    if (skip_without_cuda()) return;
#ifdef SWIRL_WITH_CUDA
    Generator gen(4);
    auto workload = [&] {
        Tensor a = Tensor::randn({1000, 64}, gen, DType::f32, kCuda);
        Tensor b = matmul(a, a, true, false);
        return sum(b).item();
    };
    workload();
    const auto warm = cuda::memory_stats();
    for (int i = 0; i < 10; ++i) workload();
    const auto after = cuda::memory_stats();
    CHECK(after.driver_allocations == warm.driver_allocations);
    CHECK(after.in_use <= warm.in_use);
    CHECK(after.peak_in_use == warm.peak_in_use);
#endif
}

TEST_CASE("releasing the CUDA cache frees blocks of another device and leaves the caller's device current") {
    // The cache release is what an out-of-memory allocation does before its retry, which must then land on the
    // device that asked (with one rank per GPU, not device 0); empty_cache() is that same release, called directly.
    if (cuda_device_count() < 2) {
        MESSAGE("[skip] fewer than 2 CUDA devices");
        return;
    }
#ifdef SWIRL_WITH_CUDA
    for (const auto& [current, other] : {std::pair{0, 1}, std::pair{1, 0}}) {
        CAPTURE(current);
        Tensor::empty({1000}, DType::f32, Device::cuda(other));  // allocated and freed: a block cached on `other`
        cuda::use_device(current);
        REQUIRE(cuda::memory_stats().cached > 0);
        cuda::empty_cache();
        CHECK(cuda::memory_stats().cached == 0);
        int device = -1;
        REQUIRE(cudaGetDevice(&device) == cudaSuccess);
        CHECK(device == current);
    }
#endif
}

TEST_CASE("NCCL loads, makes communicator ids and fails with its own message, all without a GPU") {
#ifdef SWIRL_WITH_NCCL
    // The first call opens libnccl and looks up every function swirl calls; an id is a socket address, no GPU.
    const std::string first = cuda::unique_id(), second = cuda::unique_id();
    CHECK(first.size() == cuda::kUniqueIdBytes);
    CHECK(first.compare(second) != 0);  // (compared, not printed: the ids are binary)
    // A send on no communicator is refused before any device is touched: SWIRL_NCCL_CHECK's message carries the
    // code, NCCL's string for it, the call and NCCL's last error (which says what was wrong).
    const char byte = 0;
    std::string message;
    try {
        SWIRL_NCCL_CHECK(cuda::nccl().send(&byte, 1, ncclUint8, 0, nullptr, cudaStreamLegacy));
    } catch (const Error& e) {
        message = e.what();
    }
    MESSAGE(message);
    CHECK(message.find("NCCL error 4 (invalid argument") != std::string::npos);
    CHECK(message.find("in cuda::nccl().send(&byte, 1, ncclUint8, 0, nullptr, cudaStreamLegacy): ") != std::string::npos);
    CHECK(message.find("no message from NCCL") == std::string::npos);
#else
    MESSAGE("[skip] built without NCCL");
#endif
}

TEST_CASE("random draws on CUDA are reproducible and standard normal") {
    if (skip_without_cuda()) return;
    Generator a(5), b(5);
    const auto x = Tensor::randn({100001}, a, DType::f32, kCuda).to_vector();
    const auto y = Tensor::randn({100001}, b, DType::f32, kCuda).to_vector();
    CHECK(x == y);
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(x.size());
    for (double v : x) var += (v - mean) * (v - mean);
    var /= static_cast<double>(x.size());
    CHECK(std::abs(mean) < 0.02);
    CHECK(std::abs(var - 1.0) < 0.03);
}

TEST_CASE("TF32 is off by default, switchable, and within its precision when on") {
    if (skip_without_cuda()) return;
    Generator gen(6);
    const Tensor a64 = Tensor::randn({256, 512}, gen, DType::f64);
    const Tensor b64 = Tensor::randn({512, 128}, gen, DType::f64);
    const std::vector<double> exact = matmul(a64, b64).to_vector();
    const Tensor a = a64.to(DType::f32).to(kCuda), b = b64.to(DType::f32).to(kCuda);
    // ||c - exact|| / ||exact||: float32 products are ~1e-7 off, TF32 ones (10-bit mantissa inputs) ~1e-4.
    auto relative_error = [&](const Tensor& c) {
        const std::vector<double> got = c.to_vector();
        double diff = 0, norm = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            diff += (got[i] - exact[i]) * (got[i] - exact[i]);
            norm += exact[i] * exact[i];
        }
        return std::sqrt(diff / norm);
    };
    const std::vector<double> off = matmul(a, b).to_vector();
    CHECK(relative_error(matmul(a, b)) < 1e-6);
    double tf32_error = 0;
    std::vector<double> f64_with_tf32;
    {
        struct AllowTf32 {  // switched off again even if a product throws: later cases expect the default
            AllowTf32() { set_cuda_allow_tf32(true); }
            ~AllowTf32() { set_cuda_allow_tf32(false); }
        } allow;
        tf32_error = relative_error(matmul(a, b));
        f64_with_tf32 = matmul(a64.to(kCuda), b64.to(kCuda)).to_vector();
    }
    MESSAGE("relative error of a float32 product with TF32 allowed: " << tf32_error);
    CHECK(tf32_error < 2e-3);
    CHECK(tf32_error > 1e-5);  // the switch does something: TF32 inputs keep 10 mantissa bits, not 23
    SWIRL_CHECK_CLOSE(Tensor::from_vector(f64_with_tf32, {256, 128}, DType::f64), matmul(a64, b64), 1e-12, 1e-12);
    CHECK(matmul(a, b).to_vector() == off);  // switched off again: the same bits as before
}

TEST_CASE("index_add_rows_ on CUDA matches the CPU on many and long runs and repeats its bits") {
    if (skip_without_cuda()) return;
    // The CUDA scatter-add sorts rows by destination and sums runs in pieces of 256 sorted rows (tensor/cuda/
    // indexing.cu): 5000 rows into 300 destinations (a two-pass radix sort), a third of them into row 7 (a run
    // of ~7 pieces), and 1000 rows into a single row (the one-bit sort).
    Generator gen(7);
    for (const auto& shape : {std::pair<int64_t, int64_t>{5000, 300}, {1000, 1}}) {
        const int64_t rows = shape.first, destinations = shape.second;
        CAPTURE(rows);
        std::vector<int64_t> index(rows);
        const std::vector<double> draws = Tensor::rand({rows}, gen, DType::f64).to_vector();
        for (int64_t r = 0; r < rows; ++r)
            index[r] = r % 3 == 0 ? 7 % destinations : static_cast<int64_t>(draws[r] * destinations) % destinations;
        for (DType dtype : {DType::f64, DType::f32}) {
            CAPTURE(dtype_name(dtype));
            const Tensor base = Tensor::randn({destinations, 3}, gen, dtype), src = Tensor::randn({rows, 3}, gen, dtype);
            Tensor expected = base.clone();
            index_add_rows_(expected, Tensor::from_indices(index), src);
            auto on_gpu = [&] {
                Tensor out = base.to(kCuda);
                index_add_rows_(out, Tensor::from_indices(index, kCuda), src.to(kCuda));
                return out.to(Device::cpu());
            };
            const Tensor first = on_gpu();
            // Sums of up to ~1700 unit normal rows in another order than the CPU's: their rounding grows with the
            // square root of the count, hence the absolute tolerance.
            const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
            SWIRL_CHECK_CLOSE(first, expected, tol, tol * std::sqrt(static_cast<double>(rows)));
            CHECK(on_gpu().to_vector() == first.to_vector());
        }
    }
}

TEST_CASE("running out of device memory is one clear error, and the device stays usable") {
    if (skip_without_cuda()) return;
    CHECK_THROWS_WITH_AS(Tensor::empty({int64_t{1} << 42}, DType::f32, kCuda),  // 16 TiB
                         doctest::Contains("CUDA out of memory on cuda:0: cannot allocate 16777216.0 MiB"), Error);
    Tensor x = Tensor::ones({1000}, DType::f32, kCuda);
    CHECK(sum(x).item() == 1000.0);
}
