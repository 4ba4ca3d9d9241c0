#!/usr/bin/env python3
"""swirl's PyTorch reference: the seed's training step written in plain PyTorch, for speed comparisons.

The model, schedule and objective are the seed's (the PyTorch notebook swirl reproduces): a head
Linear(2,64) ReLU Linear(64,64) ReLU, one tail Linear(64,64) ReLU Linear(64,4) per step, the sigmoid betas,
the Gaussian KL between the forward posterior and the reverse step, Adam. Data: the swiss roll drawn on the
host with numpy and copied to the device each step, as the seed does (--gpu-data draws it on the device).
--per-sample-t draws one t per sample and runs each step's tail on its rows (the rows sorted by t), as
`swirl train --t-sampling sample`; the default is the seed's one t per batch, as `swirl bench`.

Needs Debian's python3-torch and libopenblas0-pthread; run with /usr/bin/python3.
Usage: /usr/bin/python3 scripts/torch_reference.py [--batch 4096] [--steps 200] [--threads 2] [--device cpu]
       [--per-sample-t] [--gpu-data] [--json]
Prints the timed steps' throughput (steps/s, samples/s) and their mean loss.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

T = 40  # diffusion steps


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--steps', type=int, default=200, help='timed steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first, at least')
    parser.add_argument('--warmup-seconds', type=float, default=0.5,
                        help='and untimed steps until this long has passed (as swirl bench)')
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--gpu-data', action='store_true', help='draw the swiss roll on the device')
    parser.add_argument('--per-sample-t', action='store_true', help='one t per sample instead of one per batch')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true')
    return parser.parse_args()


class ReverseModel(nn.Module):
    """The seed's MLP: the same parameter names (network_head.*, network_tail.<t>.*)."""

    def __init__(self, hidden=64, data_dim=2):
        super().__init__()
        self.network_head = nn.Sequential(nn.Linear(data_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.network_tail = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2 * data_dim)) for _ in range(T))


def swiss_roll(n, on_device, device):
    """n points (t sin t, -t cos t) / 10 with t uniform in [1.5 pi, 4.5 pi]."""
    if on_device:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, device=device))
        return torch.stack([t * torch.sin(t), -t * torch.cos(t)], 1) / 10
    t = 1.5 * math.pi * (1 + 2 * np.random.rand(n))
    points = np.stack([t * np.sin(t), -t * np.cos(t)], 1) / 10
    return torch.from_numpy(points).to(dtype=torch.float32, device=device)


class Objective:
    """The KL objective with the seed's schedule; step_index is t - 1 (0-based), t in 2..T."""

    def __init__(self, model, device):
        self.model = model
        self.betas = (torch.sigmoid(torch.linspace(-18, 10, T)) * (3e-1 - 1e-5) + 1e-5).to(device)
        self.alphas = 1 - self.betas
        self.alphas_bar = torch.cumprod(self.alphas, 0)

    def posterior(self, x0, step_index):
        """x_t drawn from q(x_t | x_0) and q(x_{t-1} | x_t, x_0)'s mean and std; step_index a tensor of any shape."""
        abar, abar_prev = self.alphas_bar[step_index], self.alphas_bar[step_index - 1]
        beta, alpha = self.betas[step_index], self.alphas[step_index]
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * torch.randn_like(x0)
        mean = (abar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - abar_prev) * xt) / (1 - abar)
        std = ((1 - abar_prev) / (1 - abar) * beta).sqrt()
        return xt, mean, std

    @staticmethod
    def kl(mean_q, std_q, out):
        mean_p, log_var_p = out.chunk(2, dim=1)
        std_p = log_var_p.exp().sqrt()
        return (std_p.log() - std_q.log() + (std_q ** 2 + (mean_q - mean_p) ** 2) / (2 * std_p ** 2) - 0.5).mean()

    def loss_per_batch(self, x0):
        step_index = int(torch.randint(1, T, (1,)))
        xt, mean_q, std_q = self.posterior(x0, torch.tensor(step_index, device=x0.device))
        return self.kl(mean_q, std_q, self.model.network_tail[step_index](self.model.network_head(xt)))

    def loss_per_sample(self, x0):
        step_index, _ = torch.randint(1, T, (x0.shape[0],), device=x0.device).sort()
        xt, mean_q, std_q = self.posterior(x0, step_index[:, None])
        h = self.model.network_head(xt)
        counts = torch.bincount(step_index, minlength=T).tolist()
        outs = [self.model.network_tail[k](rows) for k, rows in enumerate(h.split(counts)) if counts[k] > 0]
        return self.kl(mean_q, std_q, torch.cat(outs))


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = ReverseModel().to(args.device)
    objective = Objective(model, args.device)
    loss_of = objective.loss_per_sample if args.per_sample_t else objective.loss_per_batch
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    def step():
        loss = loss_of(swiss_roll(args.batch, args.gpu_data, args.device))
        # The seed ran on PyTorch >= 2.4, whose zero_grad() sets the gradients to None, so Adam skips a tail no row
        # used (as swirl does). Debian's 1.13 would zero them instead, and Adam would then update every tail ever
        # used on every step: 20 times the parameters with one t per batch.
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    warmup_steps, warmup_start = 0, time.perf_counter()
    while warmup_steps < args.warmup or time.perf_counter() - warmup_start < args.warmup_seconds:
        step()
        if args.device != 'cpu':
            torch.cuda.synchronize()
        warmup_steps += 1
    start = time.perf_counter()
    losses = [step() for _ in range(args.steps)]  # read back after the clock stops, as swirl bench
    if args.device != 'cpu':
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    report = {'impl': 'pytorch-' + torch.__version__, 'device': args.device, 'threads': args.threads,
              'batch': args.batch, 'steps': args.steps, 'warmup_steps': warmup_steps, 'seconds': seconds,
              't_sampling': 'sample' if args.per_sample_t else 'batch',
              'steps_per_s': args.steps / seconds, 'samples_per_s': args.steps * args.batch / seconds,
              'loss_mean': float(torch.stack(losses).mean())}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"torch_reference: batch {args.batch}, {args.steps} steps in {seconds:.2f} s: "
              f"{report['steps_per_s']:.2f} steps/s, {report['samples_per_s']:.0f} samples/s, "
              f"mean loss {report['loss_mean']:.5f}")


if __name__ == '__main__':
    main()
