namespace DeepSeek.Interop.Nccl;

/// <summary>Result checking apart from <see cref="NcclNative"/>, so it can be exercised where the library is absent.</summary>
internal static class NcclErrors
{
    /// <summary>Throws <see cref="NcclException"/> naming <paramref name="call"/>, with the text <paramref name="describe"/> gives, unless <paramref name="result"/> is <c>ncclSuccess</c>.</summary>
    public static void Check(NcclResult result, string call, Func<NcclResult, string> describe)
    {
        if (result != NcclResult.Success) throw new NcclException(call, result, describe(result));
    }
}
