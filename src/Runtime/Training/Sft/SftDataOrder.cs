namespace DeepSeek.Runtime.Training.Sft;

/// <summary>
/// The example order of <see cref="SftTrainer"/>: file order, or a shuffle per epoch that depends only on (seed, epoch), so a
/// trainer can rebuild it from the epoch and cursor alone and parallel trainers see the single-process order.
/// </summary>
internal sealed class SftDataOrder(int count, bool shuffle, int seed, int epoch, int cursor)
{
    private int[] _indices = epoch == 0 ? [] : Permutation(count, shuffle, seed, epoch - 1);

    /// <summary>Epochs started.</summary>
    public int Epoch { get; private set; } = epoch;

    /// <summary>Examples taken in the current epoch.</summary>
    public int Cursor { get; private set; } = cursor;

    /// <summary>The next example's index.</summary>
    public int Next()
    {
        if (Epoch == 0 || Cursor == count)
        {
            _indices = Permutation(count, shuffle, seed, Epoch++);
            Cursor = 0;
        }
        return _indices[Cursor++];
    }

    private static int[] Permutation(int count, bool shuffle, int seed, int epoch)
    {
        var indices = Enumerable.Range(0, count).ToArray();
        if (shuffle) new Random(unchecked(seed * 1_000_003 + epoch)).Shuffle(indices);
        return indices;
    }
}
