using DeepSeek.Interop.Nccl;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Tests.Nccl;

/// <summary>
/// NCCL on a real GPU, one rank (NCCL refuses two ranks on one GPU, and these machines have one): every call moves data
/// from the staging send buffer to a distinct receive buffer, so a wrong signature, count or type shows as wrong values.
/// </summary>
public sealed class NcclDeviceTests
{
    [NcclFact]
    public void A_one_rank_communicator_moves_data_through_every_collective()
    {
        Assert.True(NcclCommunicator.Version >= 2_700, $"NCCL version code {NcclCommunicator.Version}");
        var id = NcclCommunicator.CreateUniqueId();
        Assert.NotEqual(default, id);
        using var comm = NcclCommunicator.InitRank(1, id, 0);
        Assert.Equal((0, 1), (comm.Rank, comm.Size));
        Assert.Equal(NcclResult.Success, comm.AsyncError);

        var rng = new Random(5);
        var values = Enumerable.Range(0, 1000).Select(_ => (float)rng.NextDouble()).ToArray();
        var buffer = values.ToArray();
        comm.AllReduce<float>(buffer, ReduceOp.Max);
        Assert.Equal(values, buffer);
        var doubles = values.Select(v => (double)v * 3).ToArray();
        comm.AllReduce<double>(doubles);
        Assert.Equal(values.Select(v => (double)v * 3), doubles);

        var gathered = new float[values.Length];
        comm.AllGather<float>(values, gathered);
        Assert.Equal(values, gathered);

        var scattered = new long[7];
        comm.ReduceScatter<long>(new long[] { 1, -2, 3, long.MaxValue, 5, 6, 7 }, scattered);
        Assert.Equal(new long[] { 1, -2, 3, long.MaxValue, 5, 6, 7 }, scattered);

        var bytes = Enumerable.Range(0, 333).Select(i => (byte)i).ToArray();
        var received = new byte[333];
        comm.AllToAllV<byte>(bytes, [333], received, [333]);
        Assert.Equal(bytes, received);

        var broadcast = values.ToArray();
        comm.Broadcast<float>(broadcast, root: 0);
        Assert.Equal(values, broadcast);
        comm.Barrier();
        comm.AllReduceAsync<float>(buffer).AsTask().Wait(TimeSpan.FromSeconds(60));
        Assert.Equal(values, buffer);

        using var sub = comm.Split(color: 0, key: 0);
        Assert.Equal((0, 1), (sub.Rank, sub.Size));
        var small = new int[] { 4, 5, 6 };
        sub.AllReduce<int>(small, ReduceOp.Min);
        Assert.Equal(new[] { 4, 5, 6 }, small);
    }

    [NcclFact]
    public void Bad_arguments_are_typed_errors_and_leave_the_communicator_usable()
    {
        using var comm = NcclCommunicator.InitRank(1, NcclCommunicator.CreateUniqueId(), 0);
        Assert.Throws<ArgumentException>(() => comm.AllGather<float>(new float[3], new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => comm.Broadcast<float>(new float[3], root: 1));
        Assert.Throws<NotSupportedException>(() => comm.AllReduce<byte>(new byte[3]));
        // A null device pointer is NCCL's own ncclInvalidArgument, named with the call.
        var e = Assert.Throws<NcclException>(() => comm.AllReduce(0, 0, 16, NcclDataType.Float32, NcclRedOp.Sum, 0));
        Assert.Equal("ncclAllReduce", e.Call);
        Assert.Equal(NcclResult.InvalidArgument, e.Result);
        var ok = new float[] { 1, 2 };
        comm.AllReduce<float>(ok);
        Assert.Equal(new float[] { 1, 2 }, ok);
    }
}
