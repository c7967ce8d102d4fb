// Attention over the KV cache. slots is [T, 3] ints (cache_row, first_row, position): token t attends to cache
// rows first_row … first_row + position. Online softmax (running max and sum), so no score buffer is needed.
// Correctness first: one 128-thread block per (token, head), a block-wide reduction per cached row. A tuned decode
// kernel splits the cache across blocks (flash-decoding), keeps q in registers and streams rows with cp.async.
#include "common.cuh"

#define ATT_THREADS 128
#define ATT_MAX_PER_THREAD 8  // head / latent dims up to 1024

// q [T, heads·qk_dim]; keys [rows, kv_heads·qk_dim]; values [rows, kv_heads·v_dim]; out [T, heads·v_dim].
DS_KERNEL void attention(const float* q, long long ldq, const float* keys, long long ldk, const float* values, long long ldv,
    const int* slots, int heads, int kv_heads, int qk_dim, int v_dim, float scale, float* out, long long ldo)
{
    __shared__ float scratch[32];
    int t = blockIdx.x / heads, h = blockIdx.x % heads, kh = h / (heads / kv_heads);
    int first = slots[3 * t + 1], n = slots[3 * t + 2] + 1;
    const float* qh = q + (long long)t * ldq + h * qk_dim;
    float o[ATT_MAX_PER_THREAD];
#pragma unroll
    for (int i = 0; i < ATT_MAX_PER_THREAD; i++) o[i] = 0.0f;
    float m = -__int_as_float(0x7F800000), l = 0.0f;
    for (int j = 0; j < n; j++)
    {
        const float* kr = keys + (long long)(first + j) * ldk + kh * qk_dim;
        float part = 0.0f;
        for (int d = threadIdx.x; d < qk_dim; d += ATT_THREADS) part = fmaf(qh[d], kr[d], part);
        float s = block_sum(part, scratch) * scale;
        float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p;
        m = m_new;
        const float* vr = values + (long long)(first + j) * ldv + kh * v_dim;
#pragma unroll
        for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
        {
            int d = threadIdx.x + i * ATT_THREADS;
            if (d < v_dim) o[i] = o[i] * corr + p * vr[d];
        }
    }
    float* oh = out + (long long)t * ldo + h * v_dim;
#pragma unroll
    for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
    {
        int d = threadIdx.x + i * ATT_THREADS;
        if (d < v_dim) oh[d] = o[i] / l;
    }
}

// MLA absorbed form, step 1: q_latent[t,h] = W_UKᵀ · q_nope[t,h], with W_UK rows h·(nope+v) … +nope of kv_b_proj
// [heads·(nope+v), latent]. Grid (T·heads, ceil(latent/128)), one latent column per thread (coalesced over W rows).
template <int DT>
__device__ __forceinline__ void mla_q_absorb(const float* q, long long ldq, WeightRef w, float* ql, int heads, int nope, int rope, int v_dim, int latent)
{
    int th = blockIdx.x, t = th / heads, h = th % heads;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= latent) return;
    const float* qh = q + (long long)t * ldq + h * (nope + rope);
    long long row0 = (long long)h * (nope + v_dim);
    float s = 0.0f;
    for (int i = 0; i < nope; i++) s = fmaf(load_weight<DT>(w, row0 + i, c), qh[i], s);
    ql[(long long)th * latent + c] = s;
}

// Step 2: scores (q_latent·c_kv + q_pe·k_pe)·scale over the latent cache [rows, latent + rope], online softmax,
// o_latent[t,h] = Σ p·c_kv. One 128-thread block per (token, head); latent ≤ 1024.
DS_KERNEL void mla_attend(const float* ql, const float* q, long long ldq, const float* cache, long long ldc, const int* slots,
    int heads, int nope, int rope, int latent, float scale, float* ol)
{
    __shared__ float scratch[32];
    int th = blockIdx.x, t = th / heads, h = th % heads;
    int first = slots[3 * t + 1], n = slots[3 * t + 2] + 1;
    const float* qlh = ql + (long long)th * latent;
    const float* qpe = q + (long long)t * ldq + h * (nope + rope) + nope;
    float qreg[ATT_MAX_PER_THREAD], o[ATT_MAX_PER_THREAD];
#pragma unroll
    for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
    {
        int c = threadIdx.x + i * ATT_THREADS;
        qreg[i] = c < latent ? qlh[c] : 0.0f;
        o[i] = 0.0f;
    }
    float m = -__int_as_float(0x7F800000), l = 0.0f;
    for (int j = 0; j < n; j++)
    {
        const float* row = cache + (long long)(first + j) * ldc;
        float part = 0.0f;
#pragma unroll
        for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
        {
            int c = threadIdx.x + i * ATT_THREADS;
            if (c < latent) part = fmaf(qreg[i], row[c], part);
        }
        for (int r = threadIdx.x; r < rope; r += ATT_THREADS) part = fmaf(qpe[r], row[latent + r], part);
        float s = block_sum(part, scratch) * scale;
        float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p;
        m = m_new;
#pragma unroll
        for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
        {
            int c = threadIdx.x + i * ATT_THREADS;
            if (c < latent) o[i] = o[i] * corr + p * row[c];
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_MAX_PER_THREAD; i++)
    {
        int c = threadIdx.x + i * ATT_THREADS;
        if (c < latent) ol[(long long)th * latent + c] = o[i] / l;
    }
}

// Step 3: out[t, h·v + i] = W_UV[i] · o_latent[t,h], W_UV rows h·(nope+v)+nope … +v. Grid (T·heads, ceil(v/128)).
template <int DT>
__device__ __forceinline__ void mla_out_absorb(const float* ol, WeightRef w, float* out, long long ldo, int heads, int nope, int v_dim, int latent)
{
    int th = blockIdx.x, t = th / heads, h = th % heads;
    int i = blockIdx.y * blockDim.x + threadIdx.x;
    if (i >= v_dim) return;
    const float* o = ol + (long long)th * latent;
    long long row = (long long)h * (nope + v_dim) + nope + i;
    float s = 0.0f;
    for (int c = 0; c < latent; c++) s = fmaf(load_weight<DT>(w, row, c), o[c], s);
    out[(long long)t * ldo + h * v_dim + i] = s;
}

#define DS_MLA(SUFFIX, DT)                                                                                             \
    DS_KERNEL void mla_q_absorb_##SUFFIX(const float* q, long long ldq, const void* w, const float* w_scale, int w_cols,\
        int w_scale_cols, int w_block_rows, int w_block_cols, float* ql, int heads, int nope, int rope, int v_dim)      \
    {                                                                                                                  \
        WeightRef ref = {w, w_scale, w_cols, w_scale_cols, w_block_rows, w_block_cols};                                \
        mla_q_absorb<DT>(q, ldq, ref, ql, heads, nope, rope, v_dim, w_cols);                                           \
    }                                                                                                                  \
    DS_KERNEL void mla_out_absorb_##SUFFIX(const float* ol, const void* w, const float* w_scale, int w_cols,           \
        int w_scale_cols, int w_block_rows, int w_block_cols, float* out, long long ldo, int heads, int nope, int v_dim) \
    {                                                                                                                  \
        WeightRef ref = {w, w_scale, w_cols, w_scale_cols, w_block_rows, w_block_cols};                                \
        mla_out_absorb<DT>(ol, ref, out, ldo, heads, nope, v_dim, w_cols);                                             \
    }

DS_MLA(f32, DS_W_F32)
DS_MLA(bf16, DS_W_BF16)
DS_MLA(f16, DS_W_F16)
DS_MLA(fp8, DS_W_FP8)
