using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Nccl;

/// <summary>
/// NCCL's <c>ncclUniqueId</c>: <c>struct { char internal[NCCL_UNIQUE_ID_BYTES]; }</c> with
/// <c>NCCL_UNIQUE_ID_BYTES</c> = 128, passed by value to <c>ncclCommInitRank</c>. Rank 0 creates it
/// (<see cref="NcclCommunicator.CreateUniqueId"/>) and hands the bytes to every other rank out of band (MPI, a file, …).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
public unsafe struct NcclUniqueId : IEquatable<NcclUniqueId>
{
    /// <summary><c>NCCL_UNIQUE_ID_BYTES</c>.</summary>
    public const int Bytes = 128;

    private fixed byte _internal[Bytes];

    /// <summary>The id from its 128 bytes (e.g. as broadcast from rank 0).</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> is not 128 bytes long.</exception>
    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Bytes) throw new ArgumentException($"An ncclUniqueId is {Bytes} bytes, not {bytes.Length}.", nameof(bytes));
        var id = default(NcclUniqueId);
        bytes.CopyTo(new Span<byte>(id._internal, Bytes));
        return id;
    }

    /// <summary>The 128 bytes of the id.</summary>
    public readonly byte[] ToArray()
    {
        fixed (byte* p = _internal) return new ReadOnlySpan<byte>(p, Bytes).ToArray();
    }

    /// <inheritdoc/>
    public readonly bool Equals(NcclUniqueId other)
    {
        fixed (byte* p = _internal) return new ReadOnlySpan<byte>(p, Bytes).SequenceEqual(new ReadOnlySpan<byte>(other._internal, Bytes));
    }

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is NcclUniqueId other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode()
    {
        var hash = new HashCode();
        fixed (byte* p = _internal) hash.AddBytes(new ReadOnlySpan<byte>(p, Bytes));
        return hash.ToHashCode();
    }

    /// <summary>Byte-wise equality.</summary>
    public static bool operator ==(NcclUniqueId left, NcclUniqueId right) => left.Equals(right);

    /// <summary>Byte-wise inequality.</summary>
    public static bool operator !=(NcclUniqueId left, NcclUniqueId right) => !left.Equals(right);
}
