namespace DeepSeek.Runtime.Model;

/// <summary>
/// Named intermediates of one forward pass, for comparing against a reference (llama.cpp's habit): each block's
/// output hidden state and each MoE layer's chosen experts (ids sorted ascending, weights in the same order).
/// </summary>
public sealed class ForwardTrace
{
    /// <summary>Output of block l: [T × hidden] row-major.</summary>
    public Dictionary<int, float[]> Hidden { get; } = [];

    /// <summary>Chosen experts of MoE layer l: ids [T × k] sorted ascending per row, weights matching.</summary>
    public Dictionary<int, (int[] Ids, float[] Weights)> Experts { get; } = [];

    internal void RecordExperts(int layer, int tokens, int k, int[] ids, float[] weights)
    {
        var sortedIds = new int[ids.Length];
        var sortedWeights = new float[weights.Length];
        for (var t = 0; t < tokens; t++)
        {
            var order = Enumerable.Range(0, k).OrderBy(i => ids[t * k + i]).ToArray();
            for (var i = 0; i < k; i++)
            {
                sortedIds[t * k + i] = ids[t * k + order[i]];
                sortedWeights[t * k + i] = weights[t * k + order[i]];
            }
        }
        Experts[layer] = (sortedIds, sortedWeights);
    }
}
