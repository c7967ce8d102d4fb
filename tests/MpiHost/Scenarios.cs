using DeepSeek.Runtime.Distributed;

namespace DeepSeek.MpiHost;

internal static partial class Scenarios
{
    public static void Run(string name, ICommunicator world, string[] args)
    {
        switch (name)
        {
            case "collectives": Collectives(world); break;
            case "kill": Kill(world); break;
            case "throw": Throw(world); break;
            case "pipeline": Pipeline(world, args); break;
            default: throw new ArgumentException($"unknown scenario '{name}'");
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException("check failed: " + what);
    }

    /// <summary>Rank r's test data; every rank can compute every other rank's, so results are checked exactly.</summary>
    private static float[] Values(int rank, int n, int salt = 0)
    {
        var random = new Random(1000 * rank + salt);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static void Collectives(ICommunicator c)
    {
        var n = 1000;
        var size = c.Size;

        var buffer = Values(c.Rank, n);
        c.AllReduce<float>(buffer);
        var expected = new double[n];
        for (var r = 0; r < size; r++) { var x = Values(r, n); for (var i = 0; i < n; i++) expected[i] += x[i]; }
        Check(Enumerable.Range(0, n).All(i => Math.Abs(buffer[i] - expected[i]) <= 1e-5), "AllReduce sum");
        var gathered = new float[size * n];
        c.AllGather<float>(buffer, gathered);
        for (var r = 0; r < size; r++) Check(gathered.AsSpan(r * n, n).SequenceEqual(buffer), "AllReduce gives every rank the same bits");

        var max = new[] { c.Rank, -c.Rank };
        c.AllReduce<int>(max, ReduceOp.Max);
        Check(max[0] == size - 1 && max[1] == 0, "AllReduce max");
        var min = new[] { (double)c.Rank };
        c.AllReduce<double>(min, ReduceOp.Min);
        Check(min[0] == 0, "AllReduce min");
        var longs = new[] { 1L << 40 };
        c.AllReduce<long>(longs);
        Check(longs[0] == size * (1L << 40), "AllReduce long");

        var scattered = new float[n];
        c.ReduceScatter<float>(Values(c.Rank, size * n, 5), scattered);
        var full = new double[size * n];
        for (var r = 0; r < size; r++) { var x = Values(r, size * n, 5); for (var i = 0; i < full.Length; i++) full[i] += x[i]; }
        Check(Enumerable.Range(0, n).All(i => Math.Abs(scattered[i] - full[c.Rank * n + i]) <= 1e-5), "ReduceScatter");

        var send = Enumerable.Range(0, size * 3).Select(i => 100 * c.Rank + i).ToArray();
        var exchanged = new int[size * 3];
        c.AllToAll<int>(send, exchanged);
        Check(Enumerable.Range(0, size).All(r => exchanged.AsSpan(r * 3, 3).SequenceEqual(new[] { 100 * r + 3 * c.Rank, 100 * r + 3 * c.Rank + 1, 100 * r + 3 * c.Rank + 2 })), "AllToAll");

        var sendCounts = Enumerable.Range(0, size).Select(j => (c.Rank + 2 * j) % 4).ToArray();
        var payload = Enumerable.Range(0, size).SelectMany(j => Enumerable.Range(0, sendCounts[j]).Select(k => c.Rank * 1e4 + j * 100 + k)).ToArray();
        var receiveCounts = new int[size];
        c.AllToAll<int>(sendCounts, receiveCounts);
        var received = new double[receiveCounts.Sum()];
        c.AllToAllV<double>(payload, sendCounts, received, receiveCounts);
        var want = Enumerable.Range(0, size).SelectMany(r => Enumerable.Range(0, (r + 2 * c.Rank) % 4).Select(k => r * 1e4 + c.Rank * 100 + k)).ToArray();
        Check(received.SequenceEqual(want), "AllToAllV");

        var broadcast = c.Rank == size - 1 ? new[] { 3.5f, -1f } : new float[2];
        c.Broadcast<float>(broadcast, size - 1);
        Check(broadcast.SequenceEqual(new[] { 3.5f, -1f }), "Broadcast");

        var next = (c.Rank + 1) % size;
        var previous = (c.Rank + size - 1) % size;
        for (var i = 0; i < 50; i++) c.Send<int>([c.Rank, i], next, tag: i % 2);
        var message = new int[4];
        foreach (var tag in new[] { 1, 0 })
            for (var i = tag; i < 50; i += 2)
                Check(c.Receive<int>(message, previous, tag) == 2 && message[0] == previous && message[1] == i, "Send/Receive order per (source, tag)");

        using (var sub = c.Split(c.Rank % 2, -c.Rank))
        {
            var s = new[] { c.Rank };
            sub.AllReduce<int>(s);
            var members = Enumerable.Range(0, size).Where(r => r % 2 == c.Rank % 2).ToArray();
            Check(s[0] == members.Sum() && sub.Size == members.Length && sub.Rank == members.Length - 1 - Array.IndexOf(members, c.Rank), "Split");
        }

        AsyncCollectives(c).GetAwaiter().GetResult();
        c.Barrier();
    }

    private static async Task AsyncCollectives(ICommunicator c)
    {
        var sum = new[] { 1.0f, c.Rank };
        await c.AllReduceAsync<float>(sum);
        Check(sum[0] == c.Size && sum[1] == c.Size * (c.Size - 1) / 2, "AllReduceAsync");
        var receive = c.ReceiveAsync<int>(new int[1], (c.Rank + c.Size - 1) % c.Size, 77).AsTask();
        await c.SendAsync<int>(new[] { c.Rank }, (c.Rank + 1) % c.Size, 77);
        Check(await receive == 1, "Send/ReceiveAsync");
        var gathered = new int[c.Size];
        await c.AllGatherAsync<int>(new[] { c.Rank * 7 }, gathered);
        Check(gathered.SequenceEqual(Enumerable.Range(0, c.Size).Select(r => r * 7)), "AllGatherAsync");
        await c.BarrierAsync();
    }

    /// <summary>Rank 1 dies by SIGKILL in the middle of a step while rank 0 waits in an all-reduce.</summary>
    private static void Kill(ICommunicator c)
    {
        c.AllReduce<float>(new float[16]);
        if (c.Rank == 1) System.Diagnostics.Process.GetCurrentProcess().Kill();
        c.AllReduce<float>(new float[16]);
        throw new InvalidOperationException("the all-reduce after a rank died returned");
    }

    /// <summary>Rank 1 throws in the middle of a step; the host aborts the job (what the CLI does too).</summary>
    private static void Throw(ICommunicator c)
    {
        c.AllReduce<float>(new float[16]);
        if (c.Rank == 1) throw new InvalidOperationException("simulated failure on rank 1");
        c.AllReduce<float>(new float[16]);
        throw new InvalidOperationException("the all-reduce after a rank failed returned");
    }
}
