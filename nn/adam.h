// Adam, with torch.optim.Adam's semantics: per-parameter step counts, bias correction, eps added after the
// square root, optional L2 weight decay; parameters without a gradient are skipped (their state is untouched).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "tensor/backend.h"
#include "tensor/io/safetensors.h"

namespace swirl::nn {

using AdamOptions = swirl::AdamOptions;  // lr, beta1, beta2, eps, weight_decay (tensor/backend.h)

class Adam {
public:
    Adam(std::vector<Variable> parameters, AdamOptions options = {});

    void step();       // one update of every parameter that has a gradient
    void zero_grad();  // drops every parameter's gradient

    const AdamOptions& options() const { return options_; }
    void set_lr(double lr) { options_.lr = lr; }

    // Optimiser state as tensors named "<prefix><i>.exp_avg", "<prefix><i>.exp_avg_sq", "<prefix><i>.step"
    // (i = parameter index), for checkpoints; load_state checks every name and shape.
    NamedTensors state(const std::string& prefix) const;
    void load_state(const SafetensorsContents& file, const std::string& prefix);

private:
    struct ParameterState {
        Tensor exp_avg, exp_avg_sq;
        int64_t step = 0;
    };
    std::vector<Variable> parameters_;
    std::vector<ParameterState> states_;
    AdamOptions options_;
};

}  // namespace swirl::nn
