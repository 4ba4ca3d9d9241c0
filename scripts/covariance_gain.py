#!/usr/bin/env python3
"""What a full reverse covariance can gain over a diagonal one, for a checkpoint's schedule, on the swiss roll.

The true reverse step q(x_{t-1} | x_t) is a mixture over the data points x_0 that could have led to x_t. Of all
Gaussians with its mean and covariance C, the best diagonal one loses KL = -1/2 log(1 - rho^2) nats to the best
full one (rho: C's correlation). This script estimates that loss by Monte Carlo for every step of the
checkpoint's schedule (its data scale too), with C = sigma_t^2 I + c0^2 Cov(x_0 | x_t) from a fine grid of the
curve, and prints it per step and summed, in bits per point. numpy and PyTorch (for the checkpoint reader);
about three minutes on 2 cores.
Usage: scripts/covariance_gain.py CHECKPOINT [--points 300]
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'golden'))
from bound_torch import load  # noqa: E402


def curve(s):  # the seed's swiss roll: (s sin s, -s cos s) / 10, s ~ U[1.5 pi, 4.5 pi]
    return np.stack([s * np.sin(s), -s * np.cos(s)], 1) / 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--points', type=int, default=300, help='x_t drawn per step')
    args = parser.parse_args()
    _, meta, betas = load(args.checkpoint)
    betas = np.asarray(betas, dtype=np.float64)
    grid = curve(np.linspace(1.5 * np.pi, 4.5 * np.pi, 200001)) * float(meta.get('data_scale', 1.0))
    abar = np.cumprod(1 - betas)
    rng = np.random.default_rng(0)
    per_step = []
    for t in range(2, len(betas) + 1):
        ab, ab_prev, beta = abar[t - 1], abar[t - 2], betas[t - 1]
        c0 = math.sqrt(ab_prev) * beta / (1 - ab)
        var_q = (1 - ab_prev) / (1 - ab) * beta
        x0 = grid[rng.integers(0, len(grid), args.points)]
        xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * rng.standard_normal(x0.shape)
        loss = 0.0
        for point in xt:
            d2 = ((math.sqrt(ab) * grid - point) ** 2).sum(1)
            w = np.exp(-(d2 - d2.min()) / (2 * (1 - ab)))
            w /= w.sum()
            mean = w @ grid
            cov = ((grid - mean) * w[:, None]).T @ (grid - mean)
            C = var_q * np.eye(2) + c0 * c0 * cov
            loss += -0.5 * math.log(1 - C[0, 1] ** 2 / (C[0, 0] * C[1, 1]))
        per_step.append(loss / args.points / math.log(2))
    print('bits per step, t = 2..T:', ' '.join(f'{b:.3f}' for b in per_step))
    print(f'a full covariance can gain at most {sum(per_step):.3f} bits per point over a diagonal one '
          f'({args.points} points a step)')


if __name__ == '__main__':
    main()
