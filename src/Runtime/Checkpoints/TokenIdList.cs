using System.Collections;

namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// An immutable list of token ids with value equality, so that <see cref="ModelConfig"/>'s synthesized
/// record equality compares <see cref="ModelConfig.EosTokenIds"/> by content.
/// </summary>
internal sealed class TokenIdList : IReadOnlyList<int>, IEquatable<TokenIdList>
{
    private readonly int[] _ids;

    public static TokenIdList Empty { get; } = new([]);

    private TokenIdList(int[] ids) => _ids = ids;

    public static TokenIdList From(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return ids as TokenIdList ?? new TokenIdList([.. ids]);
    }

    public int Count => _ids.Length;

    public int this[int index] => _ids[index];

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_ids).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(TokenIdList? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    public override bool Equals(object? obj) => Equals(obj as TokenIdList);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (int id in _ids)
            hash.Add(id);
        return hash.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _ids) + "]";
}
