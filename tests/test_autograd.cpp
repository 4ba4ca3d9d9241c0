// Behaviour of the backward engine: accumulation, freed graphs, no-grad mode, leaves and seeds.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "helpers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
namespace ag = swirl::autograd;

TEST_CASE("gradients accumulate over fan-out: d(x*x + x)/dx = 2x + 1") {
    Generator gen(1);
    Variable x(Tensor::randn({4}, gen, DType::f64), true);
    ag::sum(ag::add(ag::mul(x, x), x)).backward();
    SWIRL_CHECK_CLOSE(x.grad(), add_scalar(scale(x.data(), 2.0), 1.0), 1e-15, 0.0);
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad") {
    Variable x(Tensor::from_vector({1, 2}, {2}, DType::f64), true);
    ag::sum(ag::scale(x, 3.0)).backward();
    ag::sum(ag::scale(x, 3.0)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{6, 6});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a leaf takes over a gradient only it holds, and copies one that is shared") {
    // add's backward hands the same tensor to both inputs: the first leaf must copy it, or the second leaf's
    // later accumulation would write into the first one's gradient.
    Variable a(Tensor::from_vector({1, 2}, {2}, DType::f64), true), b(Tensor::from_vector({3, 4}, {2}, DType::f64), true);
    ag::sum(ag::add(a, b)).backward();
    CHECK_FALSE(a.grad().same_storage(b.grad()));
    ag::sum(ag::scale(b, 5.0)).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{1, 1});
    CHECK(b.grad().to_vector() == std::vector<double>{6, 6});
    // A seed given to backward on a leaf stays the caller's: the leaf adds into a copy.
    Variable c(Tensor::from_vector({1, 2}, {2}, DType::f64), true);
    const Tensor seed = Tensor::from_vector({1, 1}, {2}, DType::f64);
    c.backward(seed);
    c.backward(seed);
    CHECK(seed.to_vector() == std::vector<double>{1, 1});
    CHECK(c.grad().to_vector() == std::vector<double>{2, 2});
}

TEST_CASE("a second backward through a freed graph throws a clear error") {
    Variable x(Tensor::from_vector({1, 2}, {2}, DType::f64), true);
    Variable loss = ag::sum(ag::exp(x));
    loss.backward();
    CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already freed"), Error);
}

TEST_CASE("under NoGradGuard ops record nothing") {
    Variable x(Tensor::from_vector({1, 2}, {2}, DType::f64), true);
    {
        NoGradGuard no_grad;
        Variable y = ag::exp(x);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn() == nullptr);
        CHECK_FALSE(ag::grad_mode_enabled());
    }
    CHECK(ag::grad_mode_enabled());
    CHECK(ag::exp(x).grad_fn() != nullptr);
}

TEST_CASE("ops on inputs that need no gradient record nothing and mixed inputs get only what they need") {
    Variable constant(Tensor::from_vector({1, 2}, {2}, DType::f64));
    CHECK(ag::exp(constant).grad_fn() == nullptr);
    Variable w(Tensor::from_vector({3, 4}, {2}, DType::f64), true);
    ag::sum(ag::mul(w, constant)).backward();
    CHECK(w.grad().to_vector() == std::vector<double>{1, 2});
    CHECK_FALSE(constant.grad().defined());
}

TEST_CASE("backward without a seed needs a one-element output and a seed must match the output's shape") {
    Variable x(Tensor::from_vector({1, 2}, {2}, DType::f64), true);
    CHECK_THROWS_WITH_AS(ag::exp(x).backward(), doctest::Contains("one element"), Error);
    CHECK_THROWS_WITH_AS(ag::exp(x).backward(Tensor::ones({3}, DType::f64)), doctest::Contains("[3]"), Error);
    ag::exp(x).backward(Tensor::from_vector({1, 0}, {2}, DType::f64));
    CHECK(x.grad().at(0) == doctest::Approx(std::exp(1.0)));
    CHECK(x.grad().at(1) == 0.0);
}

TEST_CASE("chunk splits columns into views whose gradients land in the right columns") {
    Variable x(Tensor::from_vector({1, 2, 3, 4}, {1, 4}, DType::f64), true);
    auto parts = ag::chunk(x, 2);
    CHECK(parts[1].data().to_vector() == std::vector<double>{3, 4});
    ag::sum(ag::scale(parts[1], 5.0)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 5, 5});
}

TEST_CASE("the operators compute the functions beside them, and a Variable's functions are found without ag::") {
    Generator gen(11);
    const Tensor a = Tensor::randn({3, 4}, gen, DType::f64), b = Tensor::randn({4}, gen, DType::f64);
    const Variable x(a), y(b);
    SWIRL_CHECK_CLOSE((x + y).data(), swirl::add(a, b), 0, 0);
    SWIRL_CHECK_CLOSE((x - y).data(), swirl::sub(a, b), 0, 0);
    SWIRL_CHECK_CLOSE((x * y).data(), swirl::mul(a, b), 0, 0);
    SWIRL_CHECK_CLOSE((x / y).data(), swirl::div(a, b), 0, 0);
    SWIRL_CHECK_CLOSE((-x).data(), swirl::neg(a), 0, 0);
    SWIRL_CHECK_CLOSE((x + 0.5).data(), swirl::add_scalar(a, 0.5), 0, 0);
    SWIRL_CHECK_CLOSE((0.5 + x).data(), swirl::add_scalar(a, 0.5), 0, 0);
    SWIRL_CHECK_CLOSE((x - 0.5).data(), swirl::add_scalar(a, -0.5), 0, 0);
    SWIRL_CHECK_CLOSE((0.5 - x).data(), swirl::add_scalar(swirl::neg(a), 0.5), 0, 0);
    SWIRL_CHECK_CLOSE((x * 3.0).data(), swirl::scale(a, 3.0), 0, 0);
    SWIRL_CHECK_CLOSE((3.0 * x).data(), swirl::scale(a, 3.0), 0, 0);
    SWIRL_CHECK_CLOSE((x / 4.0).data(), swirl::scale(a, 0.25), 0, 0);
    // Argument-dependent lookup: exp of a Variable is autograd::exp (it records a node), of a Tensor the tensor op.
    const Variable w(a, true);
    CHECK(exp(w).grad_fn()->name == "exp");
    const double expected = swirl::sum(swirl::square(swirl::add_scalar(a, -1.0))).item() / 12.0;
    CHECK(mean(square(w - 1.0)).data().item() == doctest::Approx(expected).epsilon(1e-14));
}
