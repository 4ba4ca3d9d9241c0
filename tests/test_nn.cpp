// Behaviour of nn/: parameter names, initialisation, fusion, state dicts and Adam's bookkeeping.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/functions.h"
#include "helpers.h"
#include "nn/adam.h"
#include "nn/layers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
namespace ag = swirl::autograd;

namespace {
// The seed's reverse-model shape in miniature: a head Sequential and a ModuleList of tails.
struct TinyModel : nn::Module {
    std::shared_ptr<nn::Sequential> head;
    std::shared_ptr<nn::ModuleList<nn::Sequential>> tails;
    explicit TinyModel(Generator& gen) {
        head = register_module("network_head", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
                                                   std::make_shared<nn::Linear>(2, 3, gen), std::make_shared<nn::ReLU>()}));
        tails = register_module("network_tail", std::make_shared<nn::ModuleList<nn::Sequential>>());
        for (int t = 0; t < 2; ++t)
            tails->push_back(std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
                std::make_shared<nn::Linear>(3, 3, gen), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(3, 4, gen)}));
    }
};
}  // namespace

TEST_CASE("named_parameters uses PyTorch's dotted names in registration order") {
    Generator gen(0);
    TinyModel model(gen);
    std::vector<std::string> names;
    for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"network_head.0.weight", "network_head.0.bias", "network_tail.0.0.weight",
                                            "network_tail.0.0.bias", "network_tail.0.2.weight", "network_tail.0.2.bias",
                                            "network_tail.1.0.weight", "network_tail.1.0.bias", "network_tail.1.2.weight",
                                            "network_tail.1.2.bias"});
}

TEST_CASE("Linear initialises weight [out, in] and bias uniformly in +-1/sqrt(in), as torch.nn.Linear") {
    Generator gen(3);
    nn::Linear layer(16, 200, gen);
    CHECK(layer.weight.shape() == Shape{200, 16});
    CHECK(layer.bias.shape() == Shape{200});
    double lo = 1, hi = -1;
    for (double v : layer.weight.data().to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
    CHECK(lo >= -0.25);
    CHECK(hi <= 0.25);
    CHECK(lo < -0.24);  // 3200 draws reach close to both ends
    CHECK(hi > 0.24);
}

TEST_CASE("a Sequential of Linear and ReLU layers runs as one mlp and equals the layers one by one") {
    Generator gen(5);
    auto first = std::make_shared<nn::Linear>(3, 8, gen, DType::f64);
    auto second = std::make_shared<nn::Linear>(8, 2, gen, DType::f64);
    nn::Sequential fused({first, std::make_shared<nn::ReLU>(), second});
    Variable x(Tensor::randn({6, 3}, gen, DType::f64), true);
    Variable y = fused(x);
    CHECK(y.grad_fn()->name == "mlp");
    ag::sum(ag::square(y)).backward();
    const Tensor fused_weight_grad = first->weight.grad().clone(), fused_x_grad = x.grad().clone();
    fused.zero_grad();
    x.zero_grad();
    Variable reference = ag::linear(ag::relu(ag::linear(x, first->weight, first->bias)), second->weight, second->bias);
    SWIRL_CHECK_CLOSE(y.data(), reference.data(), 1e-14, 1e-14);
    ag::sum(ag::square(reference)).backward();
    SWIRL_CHECK_CLOSE(fused_weight_grad, first->weight.grad(), 1e-14, 1e-14);
    SWIRL_CHECK_CLOSE(fused_x_grad, x.grad(), 1e-14, 1e-14);
    // A ReLU that does not follow a Linear: layer by layer.
    nn::Sequential other({std::make_shared<nn::ReLU>(), first});
    CHECK(other(x).grad_fn()->name == "linear");
    // Fusion off: the same stack runs its layers' own forwards, the last one a Linear.
    nn::set_fusion_enabled(false);
    const Variable plain = fused(x);
    nn::set_fusion_enabled(true);
    CHECK(plain.grad_fn()->name == "linear");
    SWIRL_CHECK_CLOSE(plain.data(), y.data(), 1e-14, 1e-14);
}

TEST_CASE("a Sequential built from layers by value equals one built from shared pointers, in draw order") {
    Generator a(8), b(8);
    nn::Sequential by_value{nn::Linear(3, 5, a), nn::ReLU(), nn::Linear(5, 2, a)};
    nn::Sequential by_pointer({std::make_shared<nn::Linear>(3, 5, b), std::make_shared<nn::ReLU>(),
                               std::make_shared<nn::Linear>(5, 2, b)});
    const auto x = by_value.named_parameters(), y = by_pointer.named_parameters();
    REQUIRE(x.size() == 4);
    REQUIRE(y.size() == 4);
    for (std::size_t i = 0; i < x.size(); ++i) {
        CHECK(x[i].first == y[i].first);  // "0.weight", "0.bias", "2.weight", "2.bias"
        SWIRL_CHECK_CLOSE(x[i].second.data(), y[i].second.data(), 0, 0);
    }
    // The moved layers' parameters are the ones the Sequential registered: backward reaches them.
    Variable input(Tensor::randn({4, 3}, a));
    sum(square(by_value(input))).backward();
    CHECK(by_value.parameters().front().grad().defined());
}

TEST_CASE("load_state_dict copies matching tensors and names what does not match") {
    Generator gen(1);
    TinyModel a(gen), b(gen);
    b.load_state_dict(a.state_dict());
    for (std::size_t i = 0; i < a.parameters().size(); ++i)
        CHECK(a.parameters()[i].data().to_vector() == b.parameters()[i].data().to_vector());
    NamedTensors missing = a.state_dict();
    missing.pop_back();
    CHECK_THROWS_WITH_AS(b.load_state_dict(missing), doctest::Contains("missing parameter 'network_tail.1.2.bias'"), Error);
    NamedTensors wrong = a.state_dict();
    wrong[0].second = Tensor::zeros({5, 2});
    CHECK_THROWS_WITH_AS(b.load_state_dict(wrong), doctest::Contains("[5, 2]"), Error);
    NamedTensors extra = a.state_dict();
    extra.emplace_back("network_tail.2.0.weight", Tensor::zeros({3, 3}));
    CHECK_THROWS_WITH_AS(b.load_state_dict(extra), doctest::Contains("unexpected entry 'network_tail.2.0.weight'"), Error);
}

TEST_CASE("Adam skips parameters without a gradient and keeps a step count per parameter") {
    Generator gen(2);
    Variable used(Tensor::randn({3}, gen), true), unused(Tensor::randn({3}, gen), true);
    const auto unused_before = unused.data().to_vector();
    nn::Adam adam({used, unused}, {.lr = 0.1});
    for (int step = 0; step < 3; ++step) {
        adam.zero_grad();
        ag::sum(ag::square(used)).backward();
        adam.step();
    }
    CHECK(unused.data().to_vector() == unused_before);
    auto state = adam.state("optimizer.");
    CHECK(state[2].first == "optimizer.0.step");
    CHECK(state[2].second.to_indices()[0] == 3);
    CHECK(state[5].second.to_indices()[0] == 0);
}

TEST_CASE("Adam refuses nonsensical hyper-parameters") {
    Variable p(Tensor::zeros({1}), true);
    CHECK_THROWS_WITH_AS(nn::Adam({p}, {.lr = -1.0}), doctest::Contains("lr"), Error);
    CHECK_THROWS_WITH_AS(nn::Adam({p}, {.lr = 1e-3, .beta1 = 1.0}), doctest::Contains("betas"), Error);
}
