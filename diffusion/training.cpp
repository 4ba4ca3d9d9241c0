// The training step and its FLOP count.
#include "diffusion/training.h"

#include <algorithm>

#include "autograd/functions.h"
#include "diffusion/swiss_roll.h"
#include "tensor/distributed/distributed.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/instruments/profile.h"

namespace swirl::diffusion {

namespace {

// The groups' rows that fall in [begin, end), renumbered from 0: one shard's steps.
std::vector<StepGroup> groups_in_rows(const std::vector<StepGroup>& groups, int64_t begin, int64_t end) {
    std::vector<StepGroup> inside;
    for (const StepGroup& g : groups) {
        const int64_t first = std::max(g.begin, begin), last = std::min(g.end, end);
        if (first < last) inside.push_back({g.t, first - begin, last - begin});
    }
    return inside;
}

}  // namespace

void check_shards(int64_t shards, int64_t batch, int ranks) {
    SWIRL_CHECK(shards >= 1 && (shards & (shards - 1)) == 0, "--shards must be a power of two, got {}", shards);
    SWIRL_CHECK(batch >= shards, "--batch {} is smaller than --shards {}: every shard needs a row", batch, shards);
    SWIRL_CHECK(ranks >= 1 && (ranks & (ranks - 1)) == 0 && shards % ranks == 0,
                "{} ranks cannot share the batch's {} shard{}: the ranks must be a power of two that divides --shards "
                "(give --shards {} or a multiple; the result depends on --shards, not on the ranks)",
                ranks, shards, shards == 1 ? "" : "s", ranks);
}

namespace {

// One step's data: rows [begin, end) of the batch's swiss-roll points and noise, and every row's step (the groups
// need all of them), drawn as one process draws the whole batch (the generator moves past all of it).
struct Batch {
    Tensor x0, eps;
    std::vector<StepGroup> groups;
};

Batch draw_batch(ReverseModel& model, int64_t batch, int64_t begin, int64_t end, TSampling t_sampling, Generator& gen) {
    profile::Scope phase("data");
    const Tensor& like = model.like();
    Batch b;
    b.x0 = sample_swiss_roll_rows(batch, begin, end - begin, gen, 0.0, like.dtype(), like.device());
    if (model.config().data_scale != 1.0) b.x0 = scale(b.x0, model.config().data_scale);
    b.groups = draw_steps(batch, model.config().steps, t_sampling, gen);
    b.eps = Tensor::empty(b.x0.shape(), b.x0.dtype(), b.x0.device());
    normal_rows_(b.eps, gen, batch, begin);
    return b;
}

Tensor sharded_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                    int64_t batch, TSampling t_sampling, Generator& gen, int64_t shards);

}  // namespace

// One process's step. The sharded step (below) computes the same loss and gradients shard by shard.
Tensor training_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                     int64_t batch, TSampling t_sampling, Generator& gen, int64_t shards) {
    if (shards != 1 || distributed::size() != 1)
        return sharded_step(model, optimizer, schedule, learned, batch, t_sampling, gen, shards);
    const Batch data = draw_batch(model, batch, 0, batch, t_sampling, gen);
    Variable loss;
    if (learned == nullptr) {
        loss = kl_objective(model, schedule, data.x0, data.groups, data.eps);
    } else {
        Variable table, entropy;  // the learned schedule's constants (float64 on the CPU) and its entropy term
        {
            profile::Scope phase("schedule");
            table = learned->coefficient_table();
            entropy = final_entropy_term(table);
        }
        const Variable kl = kl_objective(model, autograd::to(table, data.x0.dtype(), data.x0.device()), data.x0,
                                         data.groups, data.eps);
        loss = autograd::add(kl, autograd::to(entropy, data.x0.dtype(), data.x0.device()));
    }
    optimizer.zero_grad();
    {
        profile::Scope phase("backward");
        loss.backward();
    }
    {
        profile::Scope phase("Adam");
        optimizer.step();
    }
    return loss.data();
}

namespace {

// Data parallel: this rank's shards, each a forward and backward of its rows, their gradients (and the loss, as one
// more part) summed in the fixed tree, then over the ranks (tensor/distributed/distributed.h).
Tensor sharded_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                    int64_t batch, TSampling t_sampling, Generator& gen, int64_t shards) {
    const int ranks = distributed::size();
    check_shards(shards, batch, ranks);
    const int64_t per_rank = shards / ranks, first = distributed::rank() * per_rank;
    const int64_t rows_begin = first * batch / shards, rows_end = (first + per_rank) * batch / shards;
    const Batch data = draw_batch(model, batch, rows_begin, rows_end, t_sampling, gen);
    std::vector<Variable> parameters = model.parameters();
    if (learned != nullptr) parameters.push_back(learned->logits());
    distributed::TreeSum tree;
    for (int64_t s = first; s < first + per_rank; ++s) {
        const int64_t begin = s * batch / shards, end = (s + 1) * batch / shards;
        const std::vector<StepGroup> shard_groups = groups_in_rows(data.groups, begin, end);
        const Tensor x0_rows = data.x0.rows(begin - rows_begin, end - rows_begin);
        const Tensor eps_rows = data.eps.rows(begin - rows_begin, end - rows_begin);
        // The shard's mean KL times its share of the batch: the shards' losses add up to the batch's mean.
        Variable kl = learned == nullptr
                          ? kl_objective(model, schedule, x0_rows, shard_groups, eps_rows)
                          : kl_objective(model, autograd::to(learned->coefficient_table(), x0_rows.dtype(), x0_rows.device()),
                                         x0_rows, shard_groups, eps_rows);
        const Variable loss = kl * (static_cast<double>(end - begin) / static_cast<double>(batch));
        optimizer.zero_grad();
        {
            profile::Scope phase("backward");
            loss.backward();
        }
        profile::Scope phase("gradient sum");
        std::vector<Tensor> leaf;
        for (Variable& p : parameters) leaf.push_back(std::move(p.grad()));
        leaf.push_back(loss.data().reshape({1}));
        tree.add(std::move(leaf));
    }
    std::vector<Tensor> sum;
    {
        profile::Scope phase("gradient sum");
        sum = tree.take();
        distributed::sum_over_ranks_(sum);
    }
    optimizer.zero_grad();
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].grad() = std::move(sum[i]);
    Tensor loss = sum.back();
    if (learned != nullptr) {
        // The final entropy term is the batch's, not a shard's: once, on every rank alike, after the sum.
        const Variable entropy = final_entropy_term(learned->coefficient_table());
        entropy.backward();
        loss = add(loss, entropy.data().reshape({1}).to(loss.dtype()).to(loss.device()));
    }
    profile::Scope phase("Adam");
    optimizer.step();
    return loss.reshape({});
}

}  // namespace

double training_flops_per_sample(const ModelConfig& config) {
    const double d = static_cast<double>(config.data_dim), h = static_cast<double>(config.hidden);
    const double out = static_cast<double>(output_width(config.data_dim, config.variance_param));  // 2d (+ 1)
    // Multiply-adds of the four layers d->H, H->H (head), H->H, H->out (one tail).
    const double forward = d * h + h * h + h * h + h * out;
    // Backward: weight gradients of all four layers, input gradients of all but the first (x needs none).
    const double backward = forward + (h * h + h * h + h * out);
    return 2.0 * (forward + backward);
}

}  // namespace swirl::diffusion
