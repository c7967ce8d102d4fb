// Sampling helpers over logits [rows, vocab]: temperature softmax and argmax (ties to the lower id, as the host
// Sampler does). One 256-thread block per row.
#include "common.cuh"

// probs = softmax(logits / temperature), in fp32 with the row max subtracted.
DS_KERNEL void softmax_rows(const float* logits, long long ldl, float* probs, long long ldp, int vocab, float temperature)
{
    __shared__ float scratch[32];
    const float* l = logits + (long long)blockIdx.x * ldl;
    float* p = probs + (long long)blockIdx.x * ldp;
    float inv_t = 1.0f / temperature;
    float m = -3.402823466e38f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, l[i] * inv_t);
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float e = expf(l[i] * inv_t - m);
        p[i] = e;
        s += e;
    }
    s = block_sum(s, scratch);
    float inv = 1.0f / s;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) p[i] *= inv;
}

// ids[row] = argmax logits[row] (lowest index among equal maxima; NaN never wins).
DS_KERNEL void argmax_rows(const float* logits, long long ldl, int* ids, int vocab)
{
    __shared__ float best_v[256];
    __shared__ int best_i[256];
    const float* l = logits + (long long)blockIdx.x * ldl;
    float bv = -3.402823466e38f;
    int bi = 0x7FFFFFFF;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float v = l[i];
        if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
    }
    best_v[threadIdx.x] = bv;
    best_i[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1)
    {
        if (threadIdx.x < s)
        {
            float ov = best_v[threadIdx.x + s];
            int oi = best_i[threadIdx.x + s];
            if (ov > best_v[threadIdx.x] || (ov == best_v[threadIdx.x] && oi < best_i[threadIdx.x]))
            {
                best_v[threadIdx.x] = ov;
                best_i[threadIdx.x] = oi;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) ids[blockIdx.x] = best_i[0] == 0x7FFFFFFF ? 0 : best_i[0];
}
