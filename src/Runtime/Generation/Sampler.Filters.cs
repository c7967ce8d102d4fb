using System.Diagnostics;

namespace DeepSeek.Runtime.Generation;

// Candidate selection: top-k by partial selection (O(vocab) expected), top-p by selection by mass among the tokens
// above a threshold that provably holds the nucleus; nothing is fully sorted.
public sealed partial class Sampler
{
    /// <summary>Every id with a finite or +∞ logit, in id order.</summary>
    private int GatherAll(ReadOnlySpan<float> logits)
    {
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] > float.NegativeInfinity)
                _candidates[n++].Id = i;
        }
        return n;
    }

    /// <summary>
    /// Ids whose logit is at least the k-th largest, in id order. Like HF's <c>TopKLogitsWarper</c>
    /// (<c>scores &lt; topk(scores)[-1]</c> is removed) ties with the k-th value are kept, so more than k may survive.
    /// </summary>
    private int GatherTopK(ReadOnlySpan<float> logits, int k)
    {
        logits.CopyTo(_scratch);
        float kth = KthLargest(_scratch, k);
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (l >= kth && l > float.NegativeInfinity)
                _candidates[n++].Id = i;
        }
        return n;
    }

    /// <summary>The k-th largest value (1-based) by quickselect with a three-way partition (Hoare 1961; Dijkstra's flag).</summary>
    /// <remarks>Reorders <paramref name="a"/>. Expected O(n); the three-way split keeps runs of equal values linear.</remarks>
    internal static float KthLargest(Span<float> a, int k)
    {
        Debug.Assert(k >= 1 && k <= a.Length);
        int lo = 0, hi = a.Length - 1, target = k - 1;
        while (lo < hi)
        {
            float pivot = MedianOfThree(a[lo], a[lo + ((hi - lo) >> 1)], a[hi]);
            // Invariant: [lo, lt) > pivot, [lt, i) == pivot, (gt, hi] < pivot.
            int lt = lo, i = lo, gt = hi;
            while (i <= gt)
            {
                float v = a[i];
                if (v > pivot)
                {
                    a[i++] = a[lt];
                    a[lt++] = v;
                }
                else if (v < pivot)
                {
                    a[i] = a[gt];
                    a[gt--] = v;
                }
                else
                {
                    i++;
                }
            }
            if (target < lt)
                hi = lt - 1;
            else if (target > gt)
                lo = gt + 1;
            else
                return pivot;
        }
        return a[lo];
    }

    private static float MedianOfThree(float a, float b, float c) =>
        a < b ? (b < c ? b : Math.Max(a, c)) : (a < c ? a : Math.Max(b, c));

    /// <summary>
    /// Nucleus filter (Holtzman et al. 2020, §3.1) with HF's boundary rule: walking tokens from most to least probable,
    /// a token is kept while the mass strictly before it is below <paramref name="topP"/>, so the token that crosses
    /// the threshold stays. Ties are ordered by lowest id. Leaves the survivors (unordered) first in <paramref name="c"/>.
    /// </summary>
    /// <returns>How many survive (at least 1).</returns>
    private static int ApplyTopP(Span<Candidate> c, double z, double topP)
    {
        // Tokens with w < t hold less than n·t = (1 − p)·z/2 of the mass, so those with w ≥ t hold more than p·z:
        // the nucleus lies among them.
        double t = (1.0 - topP) * z / (2.0 * c.Length);
        int m = 0;
        for (int j = 0; j < c.Length; j++)
        {
            if (c[j].Weight >= t)
                c[m++] = c[j];
        }
        return NucleusSize(c[..m], topP * z);
    }

    /// <summary>
    /// Quickselect by mass instead of by rank: partitions around a pivot in the order (weight desc, id asc) and
    /// recurses into the side where the cumulative mass reaches <paramref name="limit"/>. Expected O(n), no sort.
    /// </summary>
    internal static int NucleusSize(Span<Candidate> c, double limit)
    {
        int lo = 0, hi = c.Length;
        double before = 0; // mass of c[..lo], all kept
        while (lo < hi)
        {
            int p = Partition(c, lo, hi);
            double high = 0;
            for (int j = lo; j < p; j++)
                high += c[j].Weight;
            if (before + high >= limit)
            {
                // The pivot already has at least `limit` before it: the nucleus ends inside c[lo..p).
                hi = p;
            }
            else
            {
                before += high + c[p].Weight;
                lo = p + 1;
                if (before >= limit)
                    return lo;
            }
        }
        return lo;
    }

    /// <summary>Lomuto partition of c[lo..hi) around its middle element; returns the pivot's final index.</summary>
    private static int Partition(Span<Candidate> c, int lo, int hi)
    {
        int mid = lo + ((hi - lo) >> 1);
        (c[mid], c[hi - 1]) = (c[hi - 1], c[mid]);
        Candidate pivot = c[hi - 1];
        int store = lo;
        for (int j = lo; j < hi - 1; j++)
        {
            if (Precedes(c[j], pivot))
            {
                (c[store], c[j]) = (c[j], c[store]);
                store++;
            }
        }
        (c[store], c[hi - 1]) = (c[hi - 1], c[store]);
        return store;
    }

    /// <summary>The nucleus order: more probable first, then lower id.</summary>
    private static bool Precedes(Candidate a, Candidate b) => a.Weight > b.Weight || (a.Weight == b.Weight && a.Id < b.Id);
}
