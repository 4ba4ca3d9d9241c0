// Behaviour of the random generator: reproducible, thread-count independent, and statistically sound.
#include <doctest/doctest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>

#include "tensor/ops.h"

using namespace swirl;

TEST_CASE("the same seed gives the same numbers and different seeds differ") {
    Generator a(42), b(42), c(43);
    auto x = Tensor::randn({1000}, a), y = Tensor::randn({1000}, b), z = Tensor::randn({1000}, c);
    CHECK(x.to_vector() == y.to_vector());
    CHECK(x.to_vector() != z.to_vector());
    CHECK(a.offset() == 1000);
}

TEST_CASE("Philox matches the Random123 known-answer vector") {
    // Random123's kat_vectors: philox4x32_10, counter (0,0,0,0), key (0,0) -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
    auto words = philox4x32_10(0, 0);
    CHECK(words[0] == 0x6627e8d5u);
    CHECK(words[1] == 0xe169c58du);
    CHECK(words[2] == 0xbc57ac4cu);
    CHECK(words[3] == 0x9b00dbd8u);
}

TEST_CASE("draws do not depend on the OpenMP thread count") {
#ifdef _OPENMP
    const int saved = omp_get_max_threads();
    Generator one(7), two(7);
    omp_set_num_threads(1);
    auto x = Tensor::randn({200000}, one), u = Tensor::rand({200000}, one, DType::f64);
    omp_set_num_threads(2);
    auto y = Tensor::randn({200000}, two), w = Tensor::rand({200000}, two, DType::f64);
    omp_set_num_threads(saved);
    CHECK(x.to_vector() == y.to_vector());
    CHECK(u.to_vector() == w.to_vector());
#else
    MESSAGE("built without OpenMP: one thread only");
#endif
}

TEST_CASE("a draw split in two equals one draw of the whole (counters are consecutive)") {
    Generator whole(9), split(9);
    auto all = Tensor::rand({10}, whole, DType::f64).to_vector();
    auto first = Tensor::rand({4}, split, DType::f64).to_vector();
    auto rest = Tensor::rand({6}, split, DType::f64).to_vector();
    first.insert(first.end(), rest.begin(), rest.end());
    CHECK(all == first);
}

TEST_CASE("normal draws have mean 0 and variance 1 and uniform draws stay in their range") {
    Generator gen(1);
    auto n = Tensor::randn({400000}, gen, DType::f64).to_vector();
    double mean = 0, var = 0;
    for (double v : n) mean += v;
    mean /= static_cast<double>(n.size());
    for (double v : n) var += (v - mean) * (v - mean);
    var /= static_cast<double>(n.size());
    CHECK(std::abs(mean) < 0.01);  // 5 standard errors of 1/sqrt(400000)
    CHECK(std::abs(var - 1.0) < 0.015);
    auto u = Tensor::empty({100000}, DType::f64);
    uniform_(u, gen, -2.0, 3.0);
    auto uv = u.to_vector();
    double lo = 1e9, hi = -1e9, sum = 0;
    for (double v : uv) lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    CHECK(lo >= -2.0);
    CHECK(hi < 3.0);
    CHECK(sum / static_cast<double>(uv.size()) == doctest::Approx(0.5).epsilon(0.02));
}
