"""Number formats the checkpoints store: BF16 (round-to-nearest-even) and FP8 E4M3FN with 128x128 block scales.

Written from the format definitions (MODEL.md), not from torch: torch 1.13 has no float8 dtype.
E4M3FN: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, subnormals (exponent field 0 -> m/8 * 2^-6),
no infinities, 0x7F / 0xFF are NaN, largest finite 448 (0x7E). Encoding rounds to nearest, ties to the even code,
and saturates to +-448.
"""
import math

import numpy as np

E4M3_MAX = 448.0
BLOCK = 128


def e4m3_decode(codes):
    """uint8 codes (any shape) -> float32 values. NaN codes (0x7F, 0xFF) give NaN."""
    c = np.asarray(codes, dtype=np.uint8).astype(np.int64)
    sign = np.where(c & 0x80, -1.0, 1.0)
    exp = (c >> 3) & 0xF
    man = c & 0x7
    mag = np.where(exp == 0, man / 8.0 * 2.0 ** -6, (1.0 + man / 8.0) * np.exp2(exp - 7.0))
    mag = np.where((c & 0x7F) == 0x7F, np.nan, mag)
    return (sign * mag).astype(np.float32)


# The 127 non-negative finite magnitudes, indexed by code 0x00..0x7E (strictly increasing).
_POS_VALUES = e4m3_decode(np.arange(0x7F, dtype=np.uint8)).astype(np.float64)


def e4m3_encode(values):
    """float values (any shape) -> uint8 E4M3FN codes: round to nearest, ties to even code, saturate to +-448.

    Sign is kept (-0.0 -> 0x80). NaN -> 0x7F.
    """
    x = np.asarray(values, dtype=np.float64)
    neg = np.signbit(x)
    a = np.minimum(np.abs(x), E4M3_MAX)
    # index of the largest representable value <= a
    lo = np.searchsorted(_POS_VALUES, a, side="right") - 1
    lo = np.clip(lo, 0, 0x7E)
    hi = np.minimum(lo + 1, 0x7E)
    dlo = a - _POS_VALUES[lo]
    dhi = _POS_VALUES[hi] - a
    take_hi = (dhi < dlo) | ((dhi == dlo) & (hi != lo) & (lo % 2 == 1))
    code = np.where(take_hi, hi, lo).astype(np.int64)
    code = np.where(neg, code | 0x80, code)
    code = np.where(np.isnan(x), 0x7F, code)
    return code.astype(np.uint8)


def bf16_round(values):
    """float32 values -> float32 values rounded to bfloat16 (round to nearest even). Finite inputs only."""
    f = np.ascontiguousarray(values, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u.astype(np.uint32) << 16).view(np.float32).reshape(f.shape)


def bf16_bits(values):
    """float32 values already on the bf16 grid -> uint16 bit patterns (the bytes a BF16 tensor stores)."""
    f = np.ascontiguousarray(values, dtype=np.float32)
    u = f.view(np.uint32)
    assert np.all((u & 0xFFFF) == 0), "value is not bf16-representable; call bf16_round first"
    return (u >> 16).astype(np.uint16)


def bf16_from_bits(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def quantize_blocks(w):
    """[out, in] float weight -> (uint8 codes [out, in], float32 scale_inv [ceil(out/128), ceil(in/128)]).

    scale_inv of a block = amax(|w| in block) / 448 (float32); code = E4M3(w / scale_inv).
    Edge blocks are partial. The real value a checkpoint means is dequantize_blocks(codes, scale_inv).
    """
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    br, bc = math.ceil(rows / BLOCK), math.ceil(cols / BLOCK)
    scale = np.zeros((br, bc), dtype=np.float32)
    codes = np.zeros((rows, cols), dtype=np.uint8)
    for i in range(br):
        for j in range(bc):
            blk = w[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK]
            amax = float(np.max(np.abs(blk)))
            s = np.float32(max(amax, 1e-12) / E4M3_MAX)
            scale[i, j] = s
            codes[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK] = e4m3_encode(blk.astype(np.float64) / np.float64(s))
    return codes, scale


def dequantize_blocks(codes, scale_inv):
    """codes [out, in] uint8, scale_inv [ceil(out/128), ceil(in/128)] -> float32 [out, in]: code value x block scale,
    one float32 multiply (exact code value times float32 scale, rounded once)."""
    vals = e4m3_decode(codes)
    rows, cols = vals.shape
    s = np.repeat(np.repeat(np.asarray(scale_inv, dtype=np.float32), BLOCK, axis=0), BLOCK, axis=1)[:rows, :cols]
    return (vals * s).astype(np.float32)


def self_check():
    codes = np.arange(256, dtype=np.uint8)
    vals = e4m3_decode(codes)
    nan = (codes & 0x7F) == 0x7F
    assert np.all(np.isnan(vals[nan])) and nan.sum() == 2
    back = e4m3_encode(vals)
    assert np.array_equal(back[~nan], codes[~nan]), "E4M3 decode->encode must round-trip all 254 finite codes"
    assert np.all(back[nan] == 0x7F)
    assert vals[0x7E] == 448.0 and vals[0x01] == 2.0 ** -9 and vals[0x08] == 2.0 ** -6
    # midpoints round to the even code; beyond 448 saturates
    pos = _POS_VALUES
    for c in range(0x7E):
        mid = (pos[c] + pos[c + 1]) / 2
        want = c if c % 2 == 0 else c + 1
        assert e4m3_encode(mid) == want, (c, mid)
        assert e4m3_encode(-mid) == (want | 0x80)
    assert e4m3_encode(1e6) == 0x7E and e4m3_encode(-1e6) == 0xFE and e4m3_encode(464.0) == 0x7E
    assert e4m3_encode(2.0 ** -10) == 0x00 and e4m3_encode(2.0 ** -10 * 1.0001) == 0x01
    # bf16: ties to even
    x = np.array([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -8 + 2.0 ** -20], dtype=np.float32)
    assert np.array_equal(bf16_round(x), np.array([1.0, 1.0 + 2.0 ** -6, 1.0 + 2.0 ** -7], dtype=np.float32))
    # block quantisation of a partial-block matrix reproduces within E4M3 precision
    rng = np.random.default_rng(0)
    w = rng.standard_normal((130, 200)).astype(np.float32)
    c, s = quantize_blocks(w)
    assert s.shape == (2, 2)
    d = dequantize_blocks(c, s)
    assert np.max(np.abs(d - w) / (np.abs(w) + s.max() * 2.0 ** -6)) < 0.07


if __name__ == "__main__":
    self_check()
    print("fp8 ok")
