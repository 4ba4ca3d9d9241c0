#!/usr/bin/env python3
"""The paper's bound K (Sohl-Dickstein et al. 2015, eq. 14) for a binomial heartbeat checkpoint of swirl, computed
independently of swirl in numpy (float64): its own reader (check_swirl_checkpoint.py), data, forward chain,
posterior (Bayes' rule on the chain's transition matrices), reverse rates and Bernoulli KL, and its own held-out
sequences and noise. It reads each step's readout as network_tail.<t - 1>: with bumps those are the mixed
readouts swirl writes beside network_bumps, so this check also holds swirl's mixing to the file. With --exact it
scores the best reverse model that factorises over the bits instead of the checkpoint: the rate
E[q(x_{t-1} | x_t, x_0) | x_t] under the exact posterior over the five sequences.

Usage: heartbeat_bound.py CHECKPOINT [--n 2000] [--seed 7] [--exact]   prints one JSON object (bits per sequence)
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_swirl_checkpoint import read_safetensors  # noqa: E402

BINS, PERIOD = 20, 5


def sequences():
    s = np.zeros((PERIOD, BINS))
    for k in range(PERIOD):
        s[k, k::PERIOD] = 1.0
    return s


def chain(betas):
    """P(x_t = 1 | x_0 = 0) and P(x_t = 1 | x_0 = 1) for t = 0..T, by applying each step's transition matrix."""
    T = len(betas)
    p = np.zeros((T + 1, 2))
    p[0] = [0.0, 1.0]
    for t in range(1, T + 1):
        b = betas[t - 1]
        p[t] = p[t - 1] * (1 - b) + 0.5 * b
    return p


def posterior(betas, marg, t, xt, x0):
    """q(x_{t-1} = 1 | x_t, x_0) elementwise: Bayes' rule on q(x_t | x_{t-1}) q(x_{t-1} | x_0)."""
    b = betas[t - 1]
    m = np.where(x0 > 0.5, marg[t - 1, 1], marg[t - 1, 0])
    like1 = np.where(xt > 0.5, 1 - b + 0.5 * b, 0.5 * b)  # q(x_t | x_{t-1} = 1)
    like0 = np.where(xt > 0.5, 0.5 * b, 1 - 0.5 * b)      # q(x_t | x_{t-1} = 0)
    return m * like1 / (m * like1 + (1 - m) * like0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def model_rate(state, meta, betas, marg, t, xt):
    abar = marg[t, 1] - marg[t, 0]  # q(x_t = 1 | 1) - q(x_t = 1 | 0) = abar_t
    evidence = math.log((1 + abar) / (1 - abar))  # log q(x_t = 1 | x_0 = 1) / q(x_t = 1 | x_0 = 0)
    signed = np.where(xt > 0.5, evidence, -evidence)
    h = signed if meta['input'] == 'evidence' else xt
    for layer in ('network_head.0', 'network_head.2', 'network_head.4'):
        a = h @ state[layer + '.weight'].T + state[layer + '.bias']
        h = np.tanh(a) if meta['activation'] == 'tanh' else sigmoid(a)
    y = h @ state[f'network_tail.{t - 1}.weight'].T + state[f'network_tail.{t - 1}.bias']
    if meta['rate'] == 'sigmoid':
        return sigmoid(y)
    pi = sigmoid(y * (1 + evidence) + signed)
    zeros, ones = np.zeros_like(xt), np.ones_like(xt)
    return pi * posterior(betas, marg, t, xt, ones) + (1 - pi) * posterior(betas, marg, t, xt, zeros)


def exact_rate(betas, marg, t, xt):
    s = sequences()
    log_w = np.zeros((xt.shape[0], PERIOD))
    for k in range(PERIOD):
        p1 = np.where(s[k] > 0.5, marg[t, 1], marg[t, 0])
        log_w[:, k] = np.sum(np.where(xt > 0.5, np.log(p1), np.log(1 - p1)), axis=1)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    rate = np.zeros_like(xt)
    for k in range(PERIOD):
        rate += w[:, k:k + 1] * posterior(betas, marg, t, xt, np.broadcast_to(s[k], xt.shape))
    return rate


def binary_entropy(p):
    return -sum(v * math.log(v) for v in (p, 1 - p) if v > 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint')
    parser.add_argument('--n', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--exact', action='store_true')
    args = parser.parse_args()
    tensors, meta = read_safetensors(args.checkpoint)
    assert meta.get('kernel') == 'binomial', 'not a binomial checkpoint'
    state = {k: np.asarray(v[2], dtype=np.float64).reshape(v[1]) for k, v in tensors.items()}
    betas = state['schedule.betas']
    T = len(betas)
    marg = chain(betas)
    rng = np.random.default_rng(args.seed)
    x0 = sequences()[rng.integers(0, PERIOD, args.n)]
    kl_sum = np.zeros(args.n)
    for t in range(2, T + 1):
        xt = (rng.random(x0.shape) < np.where(x0 > 0.5, marg[t, 1], marg[t, 0])).astype(np.float64)
        q = posterior(betas, marg, t, xt, x0)
        p = exact_rate(betas, marg, t, xt) if args.exact else model_rate(state, meta, betas, marg, t, xt)
        with np.errstate(divide='ignore', invalid='ignore'):
            kl = q * (np.log(q) - np.log(p)) + (1 - q) * (np.log1p(-q) - np.log1p(-p))
        kl_sum += np.sum(np.nan_to_num(kl), axis=1)
    d = BINS
    entropy = d * binary_entropy(0.5 * (1 - (marg[T, 1] - marg[T, 0]))) - d * binary_entropy(0.5 * betas[0]) \
        - d * math.log(2.0)
    K = (-kl_sum + entropy) / math.log(2.0)
    L_null = -d * binary_entropy(1.0 / PERIOD) / math.log(2.0)
    print(json.dumps({'checkpoint': args.checkpoint, 'model': 'exact factorised' if args.exact else 'checkpoint',
                      'n': args.n, 'K_bits': K.mean(), 'K_se_bits': K.std(ddof=1) / math.sqrt(args.n),
                      'L_null_bits': L_null, 'K_minus_L_null_bits': K.mean() - L_null}))


if __name__ == '__main__':
    main()
