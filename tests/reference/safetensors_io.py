"""Minimal safetensors writer/reader and the Hugging Face shard index, written from the format description:
u64 little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}} plus
"__metadata__" (string map), padded with spaces to a multiple of 8, then the tensor bytes back to back
(offsets relative to the start of the data section, in file order, no holes).
"""
import json
import os
import struct

import numpy as np

from fp8 import bf16_bits, bf16_from_bits

# dtype name -> (numpy storage dtype, bytes per element)
_STORAGE = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "BF16": np.dtype("<u2"),      # raw bf16 bit patterns
    "F8_E4M3": np.dtype("u1"),    # raw E4M3FN codes
    "U8": np.dtype("u1"),
}


class Tensor:
    """A tensor to write: dtype name + numpy array holding the storage (bits for BF16/F8)."""

    def __init__(self, dtype, array):
        assert dtype in _STORAGE, dtype
        self.dtype = dtype
        self.array = np.ascontiguousarray(array, dtype=_STORAGE[dtype])

    @staticmethod
    def f32(a):
        return Tensor("F32", np.asarray(a, dtype=np.float32))

    @staticmethod
    def bf16(a):
        """a must already be bf16-representable (fp8.bf16_round)."""
        return Tensor("BF16", bf16_bits(a))

    @staticmethod
    def i32(a):
        return Tensor("I32", np.asarray(a, dtype=np.int32))

    @property
    def nbytes(self):
        return self.array.nbytes


def write_file(path, tensors, metadata=None):
    """tensors: dict name -> Tensor, written in the dict's order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, t in tensors.items():
        header[name] = {"dtype": t.dtype, "shape": list(t.array.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for t in tensors.values():
            f.write(t.array.tobytes(order="C"))
    os.replace(tmp, path)


def read_file(path):
    """-> (dict name -> (dtype, numpy storage array), metadata dict). Validates offsets cover the data exactly."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    expect = 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        assert b == expect, f"{path}: {name} begins at {b}, expected {expect}"
        dt = _STORAGE[e["dtype"]]
        count = int(np.prod(e["shape"], dtype=np.int64))
        assert end - b == count * dt.itemsize, f"{path}: {name} byte length mismatch"
        out[name] = (e["dtype"], np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"]).copy())
        expect = end
    assert expect == len(data), f"{path}: data section has {len(data) - expect} trailing bytes"
    return out, meta


def as_float32(dtype, storage):
    """Storage array of a float tensor -> float32 values (F8 is returned as raw code values, unscaled)."""
    if dtype == "F32":
        return storage.astype(np.float32)
    if dtype == "BF16":
        return bf16_from_bits(storage)
    if dtype == "F8_E4M3":
        from fp8 import e4m3_decode
        return e4m3_decode(storage)
    raise ValueError(dtype)


def write_sharded(folder, tensors, shards, metadata=None):
    """Split tensors (ordered dict) into `shards` files of roughly equal bytes, named model-0000i-of-0000n.safetensors,
    plus model.safetensors.index.json. A single shard is written as model.safetensors with no index."""
    os.makedirs(folder, exist_ok=True)
    if shards == 1:
        write_file(os.path.join(folder, "model.safetensors"), tensors, metadata)
        return ["model.safetensors"]
    total = sum(t.nbytes for t in tensors.values())
    target = total / shards
    groups = [dict() for _ in range(shards)]
    acc, gi = 0, 0
    for name, t in tensors.items():
        if acc >= target * (gi + 1) and gi < shards - 1:
            gi += 1
        groups[gi][name] = t
        acc += t.nbytes
    assert all(groups), "a shard came out empty; use fewer shards"
    files, weight_map = [], {}
    for i, g in enumerate(groups):
        fn = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_file(os.path.join(folder, fn), g, metadata)
        files.append(fn)
        for name in g:
            weight_map[name] = fn
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files


def read_folder(folder):
    """All tensors of a checkpoint folder (index or single file) -> dict name -> (dtype, storage)."""
    idx = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        out = {}
        for fn in sorted(set(wm.values())):
            part, _ = read_file(os.path.join(folder, fn))
            for name in part:
                assert wm[name] == fn, f"{name} is in {fn} but the index says {wm[name]}"
            out.update(part)
        assert set(out) == set(wm)
        return out
    part, _ = read_file(os.path.join(folder, "model.safetensors"))
    return part
