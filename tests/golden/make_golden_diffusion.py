"""Golden files for the diffusion layer, made with the seed's own PyTorch code (imported by make_golden.py).

schedule.safetensors: the seed's betas / alphas / alphas_bar (float64 and the seed's float32) and the forward
  process constants of its forward_process() for t = 2..T.
interop_checkpoint.safetensors: a small seed MLP (T=4, H=8) saved from PyTorch's state_dict() in swirl's
  checkpoint layout; interop_expected.safetensors: inputs x_t and the seed model's (mu, std) for t = 2..4.
"""
import os

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


GENERATORS = {'schedule': schedule_golden, 'interop': interop_golden}
