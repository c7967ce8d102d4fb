// Row-wise and element-wise ops of the forward pass over fp32 activations [rows, cols] with a row stride (the
// backend's tensors may be column slices of a wider buffer). One thread per element unless stated.
#include "common.cuh"

// out[r] = x[r] · rsqrt(mean(x[r]²) + eps) · w (w fp32 [cols]); one 256-thread block per row.
DS_KERNEL void rms_norm(const float* x, long long ldx, const float* w, float eps, float* out, long long ldo, int rows, int cols)
{
    __shared__ float scratch[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + (long long)r * ldx;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) ss = fmaf(xr[c], xr[c], ss);
    ss = block_sum(ss, scratch);
    float inv = rsqrtf(ss / (float)cols + eps);
    float* orow = out + (long long)r * ldo;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) orow[c] = xr[c] * inv * w[c];
}

// Rotates, in place, dims [offset, offset + 2·half) of each head of width head_dim in row r by angle θ_i·positions[r]:
// interleaved pairs (x[2i], x[2i+1]) (MLA) or half-split (x[i], x[i+half]) (dense models). cos/sin [max_pos, half]
// come from the host (RopeTable, YaRN already folded in). Grid rows, block threads loop over heads × half.
DS_KERNEL void rope(float* x, long long ldx, int heads, int head_dim, int offset, const int* positions,
    const float* cos_table, const float* sin_table, int half, int interleaved)
{
    int r = blockIdx.x;
    int p = positions[r];
    float* row = x + (long long)r * ldx;
    for (int e = threadIdx.x; e < heads * half; e += blockDim.x)
    {
        int h = e / half, i = e % half;
        float* v = row + h * head_dim + offset;
        int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        float c = cos_table[(long long)p * half + i], s = sin_table[(long long)p * half + i];
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

// out = silu(gate) ⊙ up.
DS_KERNEL void swiglu(const float* g, long long ldg, const float* u, long long ldu, float* out, long long ldo, int rows, int cols)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)rows * cols) return;
    int r = (int)(e / cols), c = (int)(e % cols);
    float z = g[(long long)r * ldg + c];
    out[(long long)r * ldo + c] = z / (1.0f + expf(-z)) * u[(long long)r * ldu + c];
}

// acc += v.
DS_KERNEL void add_inplace(float* acc, long long lda, const float* v, long long ldv, int rows, int cols)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)rows * cols) return;
    int r = (int)(e / cols), c = (int)(e % cols);
    acc[(long long)r * lda + c] += v[(long long)r * ldv + c];
}

// dst = src (strided 2-D copy).
DS_KERNEL void copy2d(const float* src, long long lds, float* dst, long long ldd, int rows, int cols)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)rows * cols) return;
    int r = (int)(e / cols), c = (int)(e % cols);
    dst[(long long)r * ldd + c] = src[(long long)r * lds + c];
}

// dst row i = src row rows[i] (MoE dispatch).
DS_KERNEL void gather_rows(const float* src, long long lds, const int* rows, float* dst, long long ldd, int count, int cols)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)count * cols) return;
    int i = (int)(e / cols), c = (int)(e % cols);
    dst[(long long)i * ldd + c] = src[(long long)rows[i] * lds + c];
}

// dst row rows[i] += scales[i] · src row i (MoE combine). One thread per column walks i in order, so repeated rows
// never race and the sum order is the CPU backend's.
DS_KERNEL void scatter_add_rows(const float* src, long long lds, const int* rows, const float* scales, float* dst, long long ldd, int count, int cols)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int i = 0; i < count; i++)
    {
        float* d = dst + (long long)rows[i] * ldd + c;
        *d = fmaf(src[(long long)i * lds + c], scales[i], *d);
    }
}

// cache row slots[3i] = source row i (slots are (cache_row, first_row, position) triples).
DS_KERNEL void write_cache(const float* src, long long lds, float* cache, long long ldc, const int* slots, int count, int cols)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)count * cols) return;
    int i = (int)(e / cols), c = (int)(e % cols);
    cache[(long long)slots[3 * i] * ldc + c] = src[(long long)i * lds + c];
}

// out row i = table row ids[i], decoded from its stored dtype (ids checked on the host).
template <int DT>
__device__ __forceinline__ void embedding(const int* ids, WeightRef w, float* out, long long ldo, int count)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)count * w.cols) return;
    int i = (int)(e / w.cols), c = (int)(e % w.cols);
    out[(long long)i * ldo + c] = load_weight<DT>(w, ids[i], c);
}

#define DS_EMBEDDING(SUFFIX, DT)                                                                                       \
    DS_KERNEL void embedding_##SUFFIX(const int* ids, const void* w, const float* w_scale, int w_cols, int w_scale_cols, \
        int w_block_rows, int w_block_cols, float* out, long long ldo, int count)                                        \
    {                                                                                                                  \
        WeightRef ref = {w, w_scale, w_cols, w_scale_cols, w_block_rows, w_block_cols};                                \
        embedding<DT>(ids, ref, out, ldo, count);                                                                      \
    }

DS_EMBEDDING(f32, DS_W_F32)
DS_EMBEDDING(bf16, DS_W_BF16)
DS_EMBEDDING(f16, DS_W_F16)
DS_EMBEDDING(fp8, DS_W_FP8)
