// PyTorch parity: swirl against outputs that tests/golden/make_golden.py recorded with PyTorch.
#include <doctest/doctest.h>

#include "autograd/functions.h"
#include "helpers.h"
#include "nn/adam.h"
#include "nn/layers.h"
#include "tensor/ops.h"

using namespace swirl;
namespace ag = swirl::autograd;

TEST_CASE("Linear forward and backward match PyTorch, plain and followed by ReLU") {
    const auto golden = read_safetensors(test::golden_path("linear.safetensors"));
    for (const std::string prefix : {"", "relu_"}) {
        CAPTURE(prefix);
        Variable x(golden.at("x"), true), weight(golden.at("weight"), true), bias(golden.at("bias"), true);
        Variable y = prefix.empty() ? ag::linear(x, weight, bias) : ag::linear_relu(x, weight, bias);
        y.backward(golden.at("grad_out"));
        SWIRL_CHECK_CLOSE(y.data(), golden.at(prefix + "y"), 1e-5, 1e-6);
        SWIRL_CHECK_CLOSE(x.grad(), golden.at(prefix + "grad_x"), 1e-5, 1e-6);
        SWIRL_CHECK_CLOSE(weight.grad(), golden.at(prefix + "grad_weight"), 1e-5, 1e-6);
        SWIRL_CHECK_CLOSE(bias.grad(), golden.at(prefix + "grad_bias"), 1e-5, 1e-6);
    }
}

TEST_CASE("a 20-step Adam trajectory on a small MLP matches torch.optim.Adam") {
    for (const char* file : {"adam.safetensors", "adam_weight_decay.safetensors"}) {
        CAPTURE(file);
        const auto golden = read_safetensors(test::golden_path(file));
        Generator gen(0);
        nn::Sequential mlp({std::make_shared<nn::Linear>(3, 8, gen), std::make_shared<nn::ReLU>(),
                            std::make_shared<nn::Linear>(8, 2, gen)});
        NamedTensors init, final_state;
        for (const auto& [name, tensor] : golden.tensors) {
            if (name.rfind("init.", 0) == 0) init.emplace_back(name.substr(5), tensor);
            if (name.rfind("final.", 0) == 0) final_state.emplace_back(name.substr(6), tensor);
        }
        mlp.load_state_dict(init);
        nn::Adam adam(mlp.parameters(), {.lr = std::stod(golden.metadata.at("lr")),
                                         .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                         .weight_decay = std::stod(golden.metadata.at("weight_decay"))});
        Variable x(golden.at("x")), target(golden.at("target"));
        std::vector<double> losses;
        for (int step = 0; step < 20; ++step) {
            Variable loss = ag::mean(ag::square(ag::sub(mlp(x), target)));
            adam.zero_grad();
            loss.backward();
            adam.step();
            losses.push_back(loss.data().item());
        }
        SWIRL_CHECK_CLOSE(Tensor::from_vector(losses, {20}, DType::f64), golden.at("losses"), 1e-5, 1e-7);
        const NamedTensors trained = mlp.state_dict();
        REQUIRE(trained.size() == final_state.size());
        for (std::size_t i = 0; i < trained.size(); ++i) {
            CAPTURE(trained[i].first);
            REQUIRE(trained[i].first == final_state[i].first);
            SWIRL_CHECK_CLOSE(trained[i].second, final_state[i].second, 1e-5, 1e-6);
        }
    }
}
