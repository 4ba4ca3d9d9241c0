#!/usr/bin/python3
"""Writes the PyTorch golden files that swirl's parity tests read (tests/golden/*.safetensors).

Run with Debian's PyTorch:  apt-get install -y python3-torch  &&  /usr/bin/python3 tests/golden/make_golden.py
The files are committed, so CI never needs PyTorch. Each file holds inputs and PyTorch's outputs, float32 or
float64, in safetensors format, written by the small writer below (no safetensors package needed).
"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {np.dtype('float32'): 'F32', np.dtype('float64'): 'F64', np.dtype('int64'): 'I64'}


def write_safetensors(path, tensors, metadata=None, swirl_checksums=False):
    """tensors: dict name -> torch tensor or numpy array, written in insertion order. swirl_checksums adds
    swirl's CRC-32s (swirl.data_crc32 of the data section, swirl.header_crc32 of the header bytes with its own
    8 digits zeroed), which swirl requires in a checkpoint."""
    header, blobs, offset = {}, [], 0
    if metadata or swirl_checksums:
        header['__metadata__'] = {k: str(v) for k, v in (metadata or {}).items()}
    for name, value in tensors.items():
        array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
        array = np.ascontiguousarray(array)
        blob = array.astype(array.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[array.dtype], 'shape': list(array.shape),
                        'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if swirl_checksums:
        header['__metadata__']['swirl.data_crc32'] = f'{zlib.crc32(b"".join(blobs)):08x}'
        header['__metadata__']['swirl.header_crc32'] = '00000000'
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    if swirl_checksums:
        token = b'"swirl.header_crc32":"'
        at = text.index(token) + len(token)
        text = text[:at] + f'{zlib.crc32(text):08x}'.encode() + text[at + 8:]
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def linear_golden():
    """Linear forward and backward, plain and followed by ReLU, for a fixed upstream gradient."""
    torch.manual_seed(1)
    layer = torch.nn.Linear(3, 4)
    x = torch.randn(5, 3)
    grad_out = torch.randn(5, 4)
    tensors = {'x': x, 'weight': layer.weight.detach(), 'bias': layer.bias.detach(), 'grad_out': grad_out}
    for prefix, activation in (('', lambda y: y), ('relu_', torch.relu)):
        layer.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_(True)
        y = activation(layer(xi))
        y.backward(grad_out)
        tensors.update({prefix + 'y': y.detach(), prefix + 'grad_x': xi.grad,
                        prefix + 'grad_weight': layer.weight.grad.clone(), prefix + 'grad_bias': layer.bias.grad.clone()})
    write_safetensors(os.path.join(HERE, 'linear.safetensors'), tensors)


def adam_golden(name, weight_decay):
    """20 Adam steps on a small MLP fitting a fixed batch; initial weights, losses and final weights."""
    torch.manual_seed(2)
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    x = torch.randn(16, 3)
    target = torch.randn(16, 2)
    tensors = {f'init.{k}': v.detach().clone() for k, v in mlp.state_dict().items()}
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    losses = []
    for _ in range(20):
        loss = ((mlp(x) - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    tensors.update({'x': x, 'target': target, 'losses': torch.tensor(losses, dtype=torch.float64)})
    tensors.update({f'final.{k}': v.detach().clone() for k, v in mlp.state_dict().items()})
    write_safetensors(os.path.join(HERE, name), tensors,
                      {'lr': 1e-2, 'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-8, 'weight_decay': weight_decay,
                       'torch': torch.__version__})


if __name__ == '__main__':
    generators = {'linear': linear_golden,
                  'adam': lambda: adam_golden('adam.safetensors', 0.0),
                  'adam_wd': lambda: adam_golden('adam_weight_decay.safetensors', 0.01)}
    extra = os.path.join(HERE, 'make_golden_diffusion.py')
    if os.path.exists(extra):
        sys.path.insert(0, HERE)
        import make_golden_diffusion
        generators.update(make_golden_diffusion.GENERATORS)
    for name in sys.argv[1:] or generators:
        generators[name]()
        print('wrote', name)
