#!/usr/bin/env python3
"""The highest K any reverse model can reach on the seed's swiss roll with beta_1 fixed.

K = E log q(x_1) - KL(q(x_T) || p(x_T)) - sum_t E KL(q(x_{t-1} | x_t) || p(x_{t-1} | x_t)) <= E log q(x_1) = -H(X_1):
the reverse steps can at best undo the forward process, and the first forward step's noise (variance beta_1) is
never undone (the paper's edge term sets p(x_0 | x_1) from q). The data lie on a curve, so -H(X_1) is finite only
because of that noise. This script estimates -H(X_1) by Monte Carlo: log q(x_1) is the curve's density smoothed by
N(0, beta_1), integrated on a fine grid of the curve. Printed as K - L_null, the paper's Table 1 column, for data
on the seed's scale and scaled to unit variance before diffusion (--data seed / unit).
Usage: scripts/bound_ceiling.py [--points 3000] [--beta1 1e-5]   (numpy only; about a minute)
"""
import argparse
import math

import numpy as np


def curve(t):  # the seed's swiss roll: (t sin t, -t cos t) / 10, t ~ U[1.5 pi, 4.5 pi]
    return np.stack([t * np.sin(t), -t * np.cos(t)], 1) / 10


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--points', type=int, default=3000)
    parser.add_argument('--beta1', type=float, default=1e-5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    grid = curve(np.linspace(1.5 * np.pi, 4.5 * np.pi, 400001))  # spacing ~2e-5 along the curve, << sqrt(beta_1)
    x0 = curve(1.5 * np.pi * (1 + 2 * rng.random(args.points)))
    data_std = math.sqrt(((grid - grid.mean(0)) ** 2).mean())  # one constant for both dimensions
    L_null = -(math.log2(2 * math.pi) + 1 / math.log(2))     # d = 2
    b = args.beta1
    for name, scale in (('seed', 1.0), ('unit', 1 / data_std)):
        x1 = math.sqrt(1 - b) * x0 * scale + math.sqrt(b) * rng.standard_normal(x0.shape)
        centres = grid * scale * math.sqrt(1 - b)
        log_q = []
        for point in x1:
            d2 = ((centres - point) ** 2).sum(1)
            m = d2.min()
            log_q.append(math.log(np.mean(np.exp(-(d2 - m) / (2 * b)))) - m / (2 * b) - math.log(2 * math.pi * b))
        # -H(X_1) on the diffused scale, then for the unscaled data (p_x(x) = p(s x) s^d), then unit variance.
        K_max = (np.mean(log_q) + 2 * math.log(scale)) / math.log(2)
        K_unit = K_max + 2 * math.log2(data_std)
        se = np.std(log_q) / math.sqrt(len(log_q)) / math.log(2)
        print(f'--data {name}: K <= {K_max:.3f} bits, unit variance {K_unit:.3f}, '
              f'K - L_null <= {K_unit - L_null:.3f} bits (+- {se:.3f}, {args.points} points, beta_1 = {b:g})')


if __name__ == '__main__':
    main()
