// DeepSeekMoE routing on the GPU: the gate (scores, correction bias, group-limited top-k, normalisation, scaling —
// MODEL.md "Mixture of experts", the same rules and tie-breaking as the host Gate) and the token permutation into
// the contiguous per-expert layout the grouped FP8 GEMM consumes, and back.
#include "common.cuh"

#define MOE_MAX_EXPERTS 512
#define MOE_MAX_GROUPS 64
#define MOE_MAX_TOPK 16

// Indices of the k largest of v[0, n), best first, ties to the lower index (Gate.TopKIndices).
__device__ void topk_indices(const float* v, int n, int* result, int k)
{
    for (int i = 0; i < k; i++)
    {
        int best = -1;
        for (int e = 0; e < n; e++)
        {
            bool taken = false;
            for (int j = 0; j < i; j++) taken |= result[j] == e;
            if (taken) continue;
            if (best < 0 || v[e] > v[best]) best = e;
        }
        result[i] = best;
    }
}

// logits [T, E] fp32 → ids [T, k], weights [T, k]. scoring: 0 softmax, 1 sigmoid; method: 0 greedy,
// 1 group_limited_greedy (group score = max), 2 noaux_tc (bias [E] added for the choice only, group score = sum of
// the top-2 biased scores). One thread per token: E ≤ 512, k ≤ 16, groups ≤ 64 (checked on the host).
// Serial per token on purpose (routing is a few hundred flops per token); a tuned version puts one warp per token.
DS_KERNEL void moe_gate(const float* logits, const float* bias, int T, int E, int scoring, int method, int n_group,
    int topk_group, int k, int norm_topk, float routed_scaling, int* ids, float* weights)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    float scores[MOE_MAX_EXPERTS], choice[MOE_MAX_EXPERTS];
    const float* l = logits + (long long)t * E;
    if (scoring == 1)
    {
        for (int e = 0; e < E; e++) scores[e] = 1.0f / (1.0f + expf(-l[e]));
    }
    else
    {
        float m = -3.402823466e38f, s = 0.0f;
        for (int e = 0; e < E; e++) m = fmaxf(m, l[e]);
        for (int e = 0; e < E; e++) { scores[e] = expf(l[e] - m); s += scores[e]; }
        for (int e = 0; e < E; e++) scores[e] /= s;
    }
    for (int e = 0; e < E; e++) choice[e] = scores[e] + (method == 2 ? bias[e] : 0.0f);
    if (method != 0 && n_group > 1)
    {
        int size = E / n_group;
        float group_score[MOE_MAX_GROUPS];
        int kept[MOE_MAX_GROUPS], top2[2];
        for (int g = 0; g < n_group; g++)
        {
            const float* members = choice + g * size;
            if (method == 2)
            {
                topk_indices(members, size, top2, 2);
                group_score[g] = members[top2[0]] + members[top2[1]];
            }
            else
            {
                float m = members[0];
                for (int e = 1; e < size; e++) m = fmaxf(m, members[e]);
                group_score[g] = m;
            }
        }
        topk_indices(group_score, n_group, kept, topk_group);
        for (int g = 0; g < n_group; g++)
        {
            bool keep = false;
            for (int j = 0; j < topk_group; j++) keep |= kept[j] == g;
            if (!keep)
                for (int e = 0; e < size; e++) choice[g * size + e] = -__int_as_float(0x7F800000);
        }
    }
    int chosen[MOE_MAX_TOPK];
    topk_indices(choice, E, chosen, k);
    double sum = 0.0;
    for (int i = 0; i < k; i++) sum += scores[chosen[i]];
    double norm = (norm_topk && k > 1) ? 1.0 / (sum + 1e-20) : 1.0;
    for (int i = 0; i < k; i++)
    {
        ids[(long long)t * k + i] = chosen[i];
        weights[(long long)t * k + i] = (float)((double)scores[chosen[i]] * norm * (double)routed_scaling);
    }
}

// Plans the contiguous layout: for the n = T·k (token, slot) pairs of ids, offsets [E+1] (rows of expert e are
// [offsets[e], offsets[e+1])) and perm_row [n] (the permuted row of pair j). Rows of one expert keep (token, slot)
// order, so the plan is deterministic. One block (any size); serial prefix sum (E ≤ a few hundred).
DS_KERNEL void moe_permute_plan(const int* ids, int n, int E, int* offsets, int* perm_row)
{
    for (int e = threadIdx.x; e < E; e += blockDim.x)
    {
        int count = 0;
        for (int j = 0; j < n; j++) count += ids[j] == e;
        offsets[e + 1] = count;
    }
    __syncthreads();
    if (threadIdx.x == 0)
    {
        offsets[0] = 0;
        for (int e = 0; e < E; e++) offsets[e + 1] += offsets[e];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x)
    {
        int pos = offsets[e];
        for (int j = 0; j < n; j++)
            if (ids[j] == e) perm_row[j] = pos++;
    }
}

// out row perm_row[j] = x row j / k (dispatch each token to its k expert slots).
DS_KERNEL void moe_permute(const float* x, long long ldx, const int* perm_row, int n, int k, int cols, float* out, long long ldo)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)n * cols) return;
    int j = (int)(e / cols), c = (int)(e % cols);
    out[(long long)perm_row[j] * ldo + c] = x[(long long)(j / k) * ldx + c];
}

// out[t] += Σ_s weights[t,s] · y[perm_row[t·k+s]] (combine; slots summed in order, no atomics).
DS_KERNEL void moe_unpermute(const float* y, long long ldy, const int* perm_row, const float* weights, int T, int k, int cols, float* out, long long ldo)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long)T * cols) return;
    int t = (int)(e / cols), c = (int)(e % cols);
    float acc = out[(long long)t * ldo + c];
    for (int s = 0; s < k; s++)
        acc = fmaf(weights[(long long)t * k + s], y[(long long)perm_row[t * k + s] * ldy + c], acc);
    out[(long long)t * ldo + c] = acc;
}
