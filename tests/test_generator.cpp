// Behaviour of the random generator: reproducible, thread-count independent, and statistically sound.
#include <doctest/doctest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>

#include "tensor/error.h"
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

TEST_CASE("rows of a draw filled alone equal those rows of the whole draw and leave the generator where it would") {
    for (DType dtype : {DType::f32, DType::f64}) {
        for (bool normal : {false, true}) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(normal);
            Generator whole_gen(21), part_gen(21);
            Tensor whole = Tensor::empty({37, 3}, dtype);
            // Rows 5..17: element 15 first, not on a Philox block's boundary of four float normals.
            Tensor part = Tensor::empty({13, 3}, dtype);
            if (normal) {
                normal_(whole, whole_gen, 0.5, 2.0);
                normal_rows_(part, part_gen, 37, 5, 0.5, 2.0);
            } else {
                uniform_(whole, whole_gen, -1.0, 3.0);
                uniform_rows_(part, part_gen, 37, 5, -1.0, 3.0);
            }
            CHECK(part.to_vector() == whole.rows(5, 18).to_vector());
            CHECK(part_gen.offset() == whole_gen.offset());
        }
    }
    // No rows of a draw: the generator still moves past the whole draw.
    Generator gen(1);
    Tensor none = Tensor::empty({0, 2});
    uniform_rows_(none, gen, 4, 4);
    CHECK(gen.offset() == 8);
    Tensor x = Tensor::empty({4, 2});
    CHECK_THROWS_WITH_AS(normal_rows_(x, gen, 5, 2), doctest::Contains("normal_: rows [2, 6) lie outside a draw of 5 rows"),
                         Error);
}

TEST_CASE("float normals are standard normal in mean and variance and quantiles") {
    Generator gen(3);
    auto z = Tensor::randn({400000}, gen, DType::f32).to_vector();
    double mean = 0, var = 0, largest = 0;
    int64_t below_one = 0, below_minus_two = 0;
    for (double v : z) {
        mean += v;
        below_one += v < 1.0 ? 1 : 0;
        below_minus_two += v < -2.0 ? 1 : 0;
        largest = std::max(largest, std::abs(v));
    }
    const double n = static_cast<double>(z.size());
    mean /= n;
    for (double v : z) var += (v - mean) * (v - mean);
    var /= n;
    CHECK(std::abs(mean) < 0.01);
    CHECK(std::abs(var - 1.0) < 0.015);
    // Phi(1) = 0.84134, Phi(-2) = 0.02275; five standard errors of a proportion over 400000 draws.
    CHECK(std::abs(static_cast<double>(below_one) / n - 0.84134) < 0.0029);
    CHECK(std::abs(static_cast<double>(below_minus_two) / n - 0.02275) < 0.0012);
    CHECK(largest < 6.0);  // radius uniforms from 2^-24: |z| <= sqrt(-2 log 2^-24) = 5.77
}
