using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DeepSeek.Interop.Nccl;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Tests.Nccl;

/// <summary>The ABI of our NCCL declarations against nccl.h (NCCL 2.x: src/nccl.h.in), with no GPU needed.</summary>
public sealed class NcclMarshallingTests
{
    [Fact]
    public void NcclResult_values_are_those_of_nccl_h()
    {
        // typedef enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
        //   ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6, ncclInProgress = 7, ncclNumResults = 8 } ncclResult_t;
        var header = new Dictionary<string, int>
        {
            ["ncclSuccess"] = 0, ["ncclUnhandledCudaError"] = 1, ["ncclSystemError"] = 2, ["ncclInternalError"] = 3,
            ["ncclInvalidArgument"] = 4, ["ncclInvalidUsage"] = 5, ["ncclRemoteError"] = 6, ["ncclInProgress"] = 7,
        };
        AssertSameEnum<NcclResult>(header, "nccl");
        Assert.Equal(sizeof(int), Unsafe.SizeOf<NcclResult>());
    }

    [Fact]
    public void NcclDataType_values_are_those_of_nccl_h()
    {
        var header = new Dictionary<string, int>
        {
            ["ncclInt8"] = 0, ["ncclUint8"] = 1, ["ncclInt32"] = 2, ["ncclUint32"] = 3, ["ncclInt64"] = 4, ["ncclUint64"] = 5,
            ["ncclFloat16"] = 6, ["ncclFloat32"] = 7, ["ncclFloat64"] = 8, ["ncclBfloat16"] = 9,
        };
        AssertSameEnum<NcclDataType>(header, "nccl");
        // Aliases of nccl.h: ncclChar = ncclInt8, ncclInt = ncclInt32, ncclHalf = ncclFloat16, ncclFloat = ncclFloat32, ncclDouble = ncclFloat64.
        Assert.Equal(4, NcclTypes.SizeOf(NcclDataType.Float32));
        Assert.Equal(2, NcclTypes.SizeOf(NcclDataType.Bfloat16));
        Assert.Equal(8, NcclTypes.SizeOf(NcclDataType.Uint64));
        Assert.Equal(1, NcclTypes.SizeOf(NcclDataType.Uint8));
        foreach (var type in Enum.GetValues<NcclDataType>()) Assert.InRange(NcclTypes.SizeOf(type), 1, 8);
    }

    [Fact]
    public void NcclRedOp_values_are_those_of_nccl_h()
    {
        var header = new Dictionary<string, int> { ["ncclSum"] = 0, ["ncclProd"] = 1, ["ncclMax"] = 2, ["ncclMin"] = 3, ["ncclAvg"] = 4 };
        AssertSameEnum<NcclRedOp>(header, "nccl");
    }

    [Fact]
    public void NcclUniqueId_is_128_bytes_and_round_trips()
    {
        Assert.Equal(128, NcclUniqueId.Bytes);
        Assert.Equal(128, Unsafe.SizeOf<NcclUniqueId>());
        Assert.Equal(128, Marshal.SizeOf<NcclUniqueId>());
        var bytes = Enumerable.Range(0, 128).Select(i => (byte)(i * 7 + 3)).ToArray();
        var id = NcclUniqueId.FromBytes(bytes);
        Assert.Equal(bytes, id.ToArray());
        Assert.Equal(id, NcclUniqueId.FromBytes(bytes));
        bytes[127] ^= 1;
        Assert.NotEqual(id, NcclUniqueId.FromBytes(bytes));
        var e = Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[127]));
        Assert.Contains("128 bytes, not 127", e.Message);
    }

    [Fact]
    public void Every_failing_result_becomes_an_NcclException_naming_the_call_and_the_error_string()
    {
        NcclErrors.Check(NcclResult.Success, "ncclAllReduce", _ => throw new InvalidOperationException("success needs no text"));
        foreach (var result in Enum.GetValues<NcclResult>().Where(r => r != NcclResult.Success))
        {
            var e = Assert.Throws<NcclException>(() => NcclErrors.Check(result, "ncclAllReduce", r => $"text of {(int)r}"));
            Assert.Equal(result, e.Result);
            Assert.Equal("ncclAllReduce", e.Call);
            Assert.Equal($"text of {(int)result}", e.ErrorString);
            Assert.StartsWith($"ncclAllReduce failed with nccl{result} ({(int)result}): text of {(int)result}.", e.Message);
            Assert.Contains(NcclException.Hint(result), e.Message);
            Assert.IsAssignableFrom<CommunicatorException>(e);
        }
        // Each known failure has its own hint; a code from a newer NCCL still gets a message.
        var hints = Enum.GetValues<NcclResult>().Where(r => r != NcclResult.Success).Select(NcclException.Hint).ToList();
        Assert.Equal(hints.Count, hints.Distinct().Count());
        var unknown = Assert.Throws<NcclException>(() => NcclErrors.Check((NcclResult)42, "ncclSend", _ => "new"));
        Assert.Contains("ncclResult_t 42", unknown.Message);
    }

    [Fact]
    public void Reductions_map_onto_nccl_types_and_ops()
    {
        Assert.Equal(NcclDataType.Float32, NcclTypes.ReductionType<float>("AllReduce"));
        Assert.Equal(NcclDataType.Float64, NcclTypes.ReductionType<double>("AllReduce"));
        Assert.Equal(NcclDataType.Int32, NcclTypes.ReductionType<int>("AllReduce"));
        Assert.Equal(NcclDataType.Int64, NcclTypes.ReductionType<long>("AllReduce"));
        var e = Assert.Throws<NotSupportedException>(() => NcclTypes.ReductionType<byte>("ReduceScatter"));
        Assert.Contains("ReduceScatter", e.Message);
        Assert.Equal(NcclRedOp.Sum, NcclTypes.ToNccl(ReduceOp.Sum));
        Assert.Equal(NcclRedOp.Max, NcclTypes.ToNccl(ReduceOp.Max));
        Assert.Equal(NcclRedOp.Min, NcclTypes.ToNccl(ReduceOp.Min));
        Assert.Throws<ArgumentOutOfRangeException>(() => NcclTypes.ToNccl((ReduceOp)9));
    }

    [Fact]
    public void A_missing_library_is_a_typed_error_naming_the_files_tried()
    {
        var (handle, failure) = NcclLibrary.Probe(["libnccl-missing.so.2", "/nonexistent/libnccl.so.2"]);
        Assert.Equal(0, handle);
        Assert.NotNull(failure);
        Assert.Contains("libnccl-missing.so.2 or /nonexistent/libnccl.so.2", failure);
        Assert.Contains(NcclLibrary.PathVariable, failure);
        Assert.Contains("libnccl2", failure);
        Assert.Contains("in-process communicator", failure);
        if (OperatingSystem.IsLinux()) Assert.Contains("libnccl.so.2", NcclLibrary.CandidateNames);
    }

    [NoNcclFact]
    public void Without_the_library_every_entry_point_throws_NcclUnavailableException()
    {
        var e = Assert.Throws<NcclUnavailableException>(() => NcclCommunicator.CreateUniqueId());
        Assert.StartsWith("NCCL is not available", e.Message);
        Assert.Throws<NcclUnavailableException>(() => NcclCommunicator.Version);
        Assert.Throws<NcclUnavailableException>(() => NcclCommunicator.InitRank(2, default, 0));
        Assert.IsAssignableFrom<CommunicatorException>(e);
    }

    [NoNcclFact]
    public void Without_the_library_creating_over_a_bootstrap_fails_on_every_rank_instead_of_hanging()
    {
        var ranks = InProcessCommunicator.Create(2, new InProcessCommunicatorOptions { OperationTimeout = TimeSpan.FromSeconds(30) });
        var outcomes = ranks.Select(c => Task.Run(() => NcclCommunicator.Create(c))).ToArray();
        var all = Task.WhenAll(outcomes);
        Assert.True(Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))).Result == all, "the ranks did not finish");
        var root = Assert.IsType<NcclUnavailableException>(outcomes[0].Exception!.InnerException);
        Assert.StartsWith("NCCL is not available", root.Message);
        var other = Assert.IsType<NcclUnavailableException>(outcomes[1].Exception!.InnerException);
        Assert.Contains("Rank 0 could not create an NCCL id", other.Message);
        foreach (var c in ranks) c.Dispose();
    }

    private static void AssertSameEnum<TEnum>(Dictionary<string, int> header, string prefix) where TEnum : struct, Enum
    {
        var ours = Enum.GetValues<TEnum>().ToDictionary(v => prefix + v, v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(header.OrderBy(p => p.Key), ours.OrderBy(p => p.Key));
    }
}
