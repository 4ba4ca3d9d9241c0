#!/usr/bin/env python3
"""Reads a checkpoint written by swirl with a safetensors reader written from the spec (pure Python: struct and
json), and checks that it is what PyTorch's load_state_dict of the seed's MLP expects: every key of the seed's
state_dict with the right shape and dtype F32, the data ranges tiling the file. With PyTorch installed it also
loads the weights into the seed's model (strict=True). Usage: check_swirl_checkpoint.py FILE
"""
import json
import math
import struct
import sys
import zlib


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop('__metadata__', {})
    sizes = {'F32': 4, 'F64': 8, 'I64': 8}
    formats = {'F32': 'f', 'F64': 'd', 'I64': 'q'}
    tensors, end_of_data = {}, 0
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        begin, end = entry['data_offsets']
        count = 1
        for d in entry['shape']:
            count *= d
        assert begin == end_of_data, f'{name}: gap or overlap at {begin}'
        assert end - begin == count * sizes[entry['dtype']], f'{name}: byte count does not match its shape'
        values = struct.unpack(f'<{count}{formats[entry["dtype"]]}', data[8 + n + begin:8 + n + end])
        tensors[name] = (entry['dtype'], entry['shape'], values)
        end_of_data = end
    assert 8 + n + end_of_data == len(data), 'trailing bytes after the last tensor'
    return tensors, metadata


def seed_state_dict_shapes(T, H, d=2, out=None):
    """The seed's state_dict shapes; out: a tail's output width (2d, or 2d + 1 with the full covariance's angle)."""
    out = 2 * d if out is None else out
    shapes = {'network_head.0.weight': [H, d], 'network_head.0.bias': [H],
              'network_head.2.weight': [H, H], 'network_head.2.bias': [H]}
    for t in range(T):
        shapes.update({f'network_tail.{t}.0.weight': [H, H], f'network_tail.{t}.0.bias': [H],
                       f'network_tail.{t}.2.weight': [out, H], f'network_tail.{t}.2.bias': [out]})
    return shapes


def main(path):
    tensors, metadata = read_safetensors(path)
    assert metadata['format'] == 'swirl.diffusion', metadata
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert f"{zlib.crc32(raw[8 + n:]):08x}" == metadata['swirl.data_crc32'], 'data CRC-32 mismatch'
    token = b'"swirl.header_crc32":"'
    at = raw.index(token, 8) + len(token)
    blank = raw[8:at] + b'00000000' + raw[at + 8:8 + n]
    assert f"{zlib.crc32(blank):08x}" == metadata['swirl.header_crc32'], 'header CRC-32 mismatch'

    T, H = int(metadata['steps']), int(metadata['hidden'])
    expected = seed_state_dict_shapes(T, H, out=5 if metadata.get('variance') == 'full' else 4)
    for name, shape in expected.items():
        assert name in tensors, f'missing {name}'
        dtype, got, values = tensors[name]
        assert dtype == 'F32' and got == shape, f'{name}: {dtype} {got}, expected F32 {shape}'
        assert all(math.isfinite(v) for v in values), f'{name}: holds NaN or infinite values'
    model_keys = [k for k in tensors if not k.startswith(('optimizer.', 'schedule.'))]
    assert sorted(model_keys) == sorted(expected), 'unexpected model keys'
    try:
        import torch
    except ImportError:
        print(f'OK: {path} parses; {len(expected)} tensors match the seed state_dict (PyTorch not installed)')
        return
    sys.path.insert(0, __file__.rsplit('/', 1)[0])
    from make_golden_diffusion import MLP
    model = MLP(T, hidden_dim=H)
    state = {k: torch.tensor(tensors[k][2], dtype=torch.float32).reshape(tensors[k][1]) for k in expected}
    model.load_state_dict(state, strict=True)
    print(f'OK: {path} loads into the seed MLP with load_state_dict(strict=True)')


if __name__ == '__main__':
    main(sys.argv[1])
