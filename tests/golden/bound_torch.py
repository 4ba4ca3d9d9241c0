#!/usr/bin/env python3
"""The paper's bound K (Sohl-Dickstein et al. 2015, eq. 14) for a swirl checkpoint, computed independently of
swirl in PyTorch (float64): its own reader (check_swirl_checkpoint.py), its own schedule, parametrizations and
Gaussian KL, and its own held-out swiss roll (numpy). Used to check `swirl eval` and to make the golden file of
test_diffusion.cpp's K test (make_golden_diffusion.py).

Usage: bound_torch.py CHECKPOINT [--n 20000] [--seed 1234]   prints one JSON object (bits per point)
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_swirl_checkpoint import read_safetensors  # noqa: E402

LN2 = math.log(2.0)


def seed_betas(meta, T):
    x = torch.linspace(float(meta['sigmoid_start']), float(meta['sigmoid_end']), T, dtype=torch.float64)
    return torch.sigmoid(x) * (float(meta['beta_max']) - float(meta['beta_min'])) + float(meta['beta_min'])


def load(path):
    """The checkpoint as (state dict of float64 tensors, metadata, betas [T] float64)."""
    tensors, meta = read_safetensors(path)
    state = {k: torch.tensor(v[2], dtype=torch.float64).reshape(v[1]) for k, v in tensors.items()}
    T = int(meta['steps'])
    betas = state['schedule.betas'] if meta['schedule'] == 'learned' else seed_betas(meta, T)
    return state, meta, betas


def network(state, x, t):
    """The seed's MLP: head, then tail t - 1 (1-based t), Linear = x W^T + b."""
    lin = lambda h, name: h @ state[name + '.weight'].T + state[name + '.bias']
    h = torch.relu(lin(torch.relu(lin(x, 'network_head.0')), 'network_head.2'))
    return lin(torch.relu(lin(h, f'network_tail.{t - 1}.0')), f'network_tail.{t - 1}.2')


def bound(state, meta, betas, x0_raw, noise):
    """K in bits per point on x0_raw [n, d] with forward noise noise[t - 2] for t = 2..T; and the KL of each step."""
    T, d = len(betas), x0_raw.shape[1]
    scale = float(meta.get('data_scale', 1.0))
    param, variance = meta.get('param', 'mean'), meta.get('variance', 'free')
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    x0 = x0_raw * scale
    kls = []
    for t in range(2, T + 1):
        i = t - 1
        beta, alpha, ab, ab_prev = betas[i], alphas[i], abar[i], abar[i - 1]
        xt = torch.sqrt(ab) * x0 + torch.sqrt(1 - ab) * noise[t - 2]
        var_q = (1 - ab_prev) / (1 - ab) * beta
        mean_q = torch.sqrt(ab_prev) * beta / (1 - ab) * x0 + torch.sqrt(alpha) * (1 - ab_prev) / (1 - ab) * xt
        out = network(state, xt, t)
        a, b = out[:, :d], out[:, d:2 * d]
        mean_p = a if param == 'mean' else (xt - beta / torch.sqrt(1 - ab) * a) / torch.sqrt(alpha)
        if variance == 'free':
            log_var_p = b
        else:
            log_var_p = torch.log(var_q) + torch.sigmoid(b) * (torch.log(beta) - torch.log(var_q))
        if variance == 'full':
            # Sigma = R diag(exp(log_var)) R^T with R the rotation by the third column's angle; KL of two full
            # Gaussians: 0.5 (tr(Sigma^-1) var_q + delta^T Sigma^-1 delta - d + log det Sigma - d log var_q).
            angle = out[:, 2 * d]
            c, s = torch.cos(angle), torch.sin(angle)
            R = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)  # [n, 2, 2]
            sigma = R @ torch.diag_embed(torch.exp(log_var_p)) @ R.transpose(1, 2)
            inverse = torch.linalg.inv(sigma)
            delta = (mean_q - mean_p).unsqueeze(2)
            kl = 0.5 * (torch.diagonal(inverse, dim1=1, dim2=2).sum(1) * var_q
                        + (delta.transpose(1, 2) @ inverse @ delta).reshape(-1) - d
                        + torch.logdet(sigma) - d * torch.log(var_q))
            kls.append(kl.mean().item())
            continue
        kl = 0.5 * (log_var_p - torch.log(var_q) + (var_q + (mean_q - mean_p) ** 2) / torch.exp(log_var_p) - 1)
        kls.append(kl.sum(1).mean().item())
    gauss = d / 2 * (1 + math.log(2 * math.pi))
    H_q_T = gauss + d / 2 * math.log(1 - abar[-1].item())
    H_q_1 = gauss + d / 2 * math.log(betas[0].item())
    K_nats = -sum(kls) + H_q_T - H_q_1 - gauss + d * math.log(scale)
    return K_nats / LN2, [k / LN2 for k in kls]


def swiss_roll(n, rng):
    t = 1.5 * np.pi * (1 + 2 * rng.random(n))
    return np.stack([t * np.sin(t), -t * np.cos(t)], 1) / 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--n', type=int, default=20000)
    parser.add_argument('--seed', type=int, default=1234)
    args = parser.parse_args()
    state, meta, betas = load(args.checkpoint)
    rng = np.random.default_rng(args.seed)
    x0 = torch.tensor(swiss_roll(args.n, rng))
    noise = [torch.tensor(rng.standard_normal(x0.shape)) for _ in range(len(betas) - 1)]
    with torch.no_grad():
        K_bits, kl_bits = bound(state, meta, betas, x0, noise)
    d = x0.shape[1]
    data_std = math.sqrt(((x0 - x0.mean(0)) ** 2).mean().item())
    K_unit = K_bits + d * math.log2(data_std)
    L_null = -d / 2 * (math.log2(2 * math.pi) + 1 / LN2)
    print(json.dumps({'K_bits': K_bits, 'K_unit_bits': K_unit, 'L_null_bits': L_null,
                      'K_minus_L_null_bits': K_unit - L_null, 'n': args.n, 'kl_per_step_bits': kl_bits}))


if __name__ == '__main__':
    main()
