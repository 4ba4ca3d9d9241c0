"""Golden files for the diffusion layer, made with the seed's own PyTorch code (imported by make_golden.py).

schedule.safetensors: the seed's betas / alphas / alphas_bar (float64 and the seed's float32) and the forward
  process constants of its forward_process() for t = 2..T.
interop_checkpoint.safetensors: a small seed MLP (T=4, H=8) saved from PyTorch's state_dict() in swirl's
  checkpoint layout; interop_expected.safetensors: inputs x_t and the seed model's (mu, std) for t = 2..4.
bound_checkpoint.safetensors: the seed's architecture (T=40, H=8) with param eps, bounded variance, a learned
  schedule and unit-variance data; bound_expected.safetensors: held-out points, the forward noise of each step,
  and K with the KL of each step, from bound_torch.py (an implementation of eq. 14 independent of swirl's).
bound_full_checkpoint.safetensors, bound_full_expected.safetensors: the same with the full covariance (a fifth
  output per tail, the angle of its axes), whose KL bound_torch.py computes with 2x2 matrices.
"""
import math
import os

import numpy as np

import torch
import torch.nn as nn

from make_golden import HERE, write_safetensors


class MLP(nn.Module):
    """The seed's reverse model, verbatim."""

    def __init__(self, T, data_dim=2, hidden_dim=64):
        super().__init__()
        self.network_head = nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.ReLU(),
                                          nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.network_tail = nn.ModuleList([nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                                         nn.Linear(hidden_dim, 2 * data_dim)) for _ in range(T)])

    def forward(self, xt, t):
        h = self.network_head(xt)
        out = self.network_tail[t](h)
        mu, var = out.chunk(2, dim=1)
        return mu, torch.sqrt(torch.exp(var))


def schedule_golden():
    T = 40
    tensors = {}
    for name, dtype in (('f64', torch.float64), ('f32', torch.float32)):
        betas = torch.sigmoid(torch.linspace(-18, 10, T, dtype=dtype)) * (3e-1 - 1e-5) + 1e-5
        alphas = 1 - betas
        alphas_bar = torch.cumprod(alphas, 0)
        tensors.update({f'{name}.betas': betas, f'{name}.alphas': alphas, f'{name}.alphas_bar': alphas_bar})
        # The seed's forward_process constants, 1-based t = 2..T (index t - 1 after its `t = t - 1`).
        rows = []
        for t in range(2, T + 1):
            i = t - 1
            rows.append(torch.stack([
                torch.sqrt(alphas_bar[i]), torch.sqrt(1 - alphas_bar[i]),
                torch.sqrt(alphas_bar[i - 1]) * betas[i] / (1 - alphas_bar[i]),
                torch.sqrt(alphas[i]) * (1 - alphas_bar[i - 1]) / (1 - alphas_bar[i]),
                torch.sqrt(((1 - alphas_bar[i - 1]) / (1 - alphas_bar[i])) * betas[i])]))
        tensors[f'{name}.posterior'] = torch.stack(rows)  # [T - 1, 5]: signal, noise, x0 coef, xt coef, std
    write_safetensors(os.path.join(HERE, 'schedule.safetensors'), tensors)


def interop_golden():
    torch.manual_seed(3)
    T, H = 4, 8
    model = MLP(T, hidden_dim=H)
    metadata = {'format': 'swirl.diffusion', 'format_version': 1, 'steps': T, 'data_dim': 2, 'hidden': H,
                'schedule': 'sigmoid', 'sigmoid_start': -18, 'sigmoid_end': 10, 'beta_min': 1e-5, 'beta_max': 0.3,
                'step': 0, 'generator_seed': 0, 'generator_offset': 0}
    write_safetensors(os.path.join(HERE, 'interop_checkpoint.safetensors'), dict(model.state_dict()), metadata,
                      swirl_checksums=True)
    xt = torch.randn(5, 2)
    expected = {'xt': xt}
    with torch.no_grad():
        for t in range(2, T + 1):
            mu, std = model(xt, t - 1)  # the seed's reverse_process(xt, t) calls mlp_model(xt, t - 1)
            expected[f't{t}.mu'], expected[f't{t}.std'] = mu, std
    write_safetensors(os.path.join(HERE, 'interop_expected.safetensors'), expected)


def bound_golden(variance='bounded'):
    from bound_torch import bound, seed_betas, swiss_roll
    torch.manual_seed(4)
    rng = np.random.default_rng(4)
    T, H = 40, 8
    model = MLP(T, hidden_dim=H)
    if variance == 'full':  # each tail's last layer has a fifth output, the covariance's angle
        for tail in model.network_tail:
            tail[2] = nn.Linear(H, 5)
            with torch.no_grad():  # angles over the whole circle
                tail[2].bias[4] = 3 * (2 * torch.rand(()) - 1)
                tail[2].weight[4] *= 5
    meta = {'sigmoid_start': -18, 'sigmoid_end': 10, 'beta_min': 1e-5, 'beta_max': 0.3}
    betas = seed_betas(meta, T)
    logits = torch.logit(betas[1:]) + 0.3 * torch.randn(T - 1, dtype=torch.float64)
    betas = torch.cat([betas[:1], torch.sigmoid(logits)])
    # swirl's swiss_roll_std() in closed form: t ~ U[1.5 pi, 4.5 pi], points (t sin t, -t cos t) / 10.
    a, b = 1.5 * math.pi, 4.5 * math.pi
    m1 = ((math.sin(b) - b * math.cos(b)) - (math.sin(a) - a * math.cos(a))) / (b - a)
    m2 = -((math.cos(b) + b * math.sin(b)) - (math.cos(a) + a * math.sin(a))) / (b - a)
    mean_square = (b ** 3 - a ** 3) / 3 / (b - a)
    data_scale = 1 / math.sqrt((mean_square - m1 * m1 - m2 * m2) / 100 / 2)
    metadata = {'format': 'swirl.diffusion', 'format_version': 1, 'steps': T, 'data_dim': 2, 'hidden': H,
                'param': 'eps', 'variance': variance, 'data_scale': repr(data_scale), 'schedule': 'learned',
                'step': 0, 'generator_seed': 0, 'generator_offset': 0, **meta}
    tensors = dict(model.state_dict())
    tensors['schedule.betas'] = betas
    tensors['schedule.logits'] = logits
    stem = 'bound' if variance == 'bounded' else f'bound_{variance}'
    path = os.path.join(HERE, f'{stem}_checkpoint.safetensors')
    write_safetensors(path, tensors, metadata, swirl_checksums=True)
    x0 = torch.tensor(swiss_roll(64, rng))
    noise = [torch.tensor(rng.standard_normal((64, 2))) for _ in range(T - 1)]
    state = {k: v.detach().to(torch.float64) for k, v in tensors.items()}
    with torch.no_grad():
        K_bits, kl_bits = bound(state, {k: str(v) for k, v in metadata.items()}, betas, x0, noise)
    expected = {'x0': x0, 'noise': torch.stack(noise), 'K_bits': torch.tensor([K_bits], dtype=torch.float64),
                'kl_per_step_bits': torch.tensor(kl_bits, dtype=torch.float64)}
    write_safetensors(os.path.join(HERE, f'{stem}_expected.safetensors'), expected)


GENERATORS = {'schedule': schedule_golden, 'interop': interop_golden, 'bound': bound_golden,
              'bound_full': lambda: bound_golden('full')}
