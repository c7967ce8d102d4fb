using System.Diagnostics;
using System.Globalization;
using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Distributed;

// All-reduce and all-to-all bandwidth over MPI (or in-process ranks with --inproc N).
//   mpirun -np 2 dotnet benchmarks/Parallel/bin/Release/net10.0/parallel-bench.dll
// Bus bandwidth follows NCCL's convention so numbers compare across rank counts:
//   all-reduce busbw = bytes/t · 2(P−1)/P;  all-to-all busbw = bytes/t · (P−1)/P  (bytes = one rank's buffer).
var inproc = args.Length == 2 && args[0] == "--inproc" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
if (inproc > 0)
{
    InProcessCommunicator.Run(inproc, c => { Measure(c, "in-process"); return 0; });
    return 0;
}
var world = MpiCommunicator.InitializeWorld();
Measure(world, $"Open MPI (thread level {MpiCommunicator.ThreadLevel})");
world.Dispose();
return 0;

static void Measure(ICommunicator c, string transport)
{
    int p = c.Size;
    if (c.Rank == 0)
    {
        Console.WriteLine($"{transport}, {p} ranks, {Environment.ProcessorCount} cores; median of timed repetitions after one warm-up");
        Console.WriteLine($"{"bytes/rank",12} {"all-reduce GB/s (bus)",22} {"all-to-all GB/s (bus)",22} {"all-reduce µs",14} {"all-to-all µs",14}");
    }
    foreach (var bytes in new[] { 4 << 10, 64 << 10, 1 << 20, 8 << 20, 64 << 20 })
    {
        var n = bytes / sizeof(float);
        n -= n % p;
        var buffer = new float[n];
        var send = new float[n];
        var receive = new float[n];
        new Random(c.Rank).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(send.AsSpan()));
        for (var i = 0; i < n; i++) send[i] = i % 7;
        var reps = bytes >= 8 << 20 ? 5 : 20;
        var allReduce = Time(c, reps, () => c.AllReduce<float>(buffer));
        var allToAll = Time(c, reps, () => c.AllToAll<float>(send, receive));
        if (c.Rank == 0)
        {
            var ar = (double)n * sizeof(float) / allReduce / 1e9 * 2 * (p - 1) / p;
            var aa = (double)n * sizeof(float) / allToAll / 1e9 * (p - 1) / p;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n * sizeof(float),12} {ar,22:F2} {aa,22:F2} {allReduce * 1e6,14:F1} {allToAll * 1e6,14:F1}"));
        }
    }
}

static double Time(ICommunicator c, int reps, Action op)
{
    op();
    var times = new double[reps];
    for (var r = 0; r < reps; r++)
    {
        c.Barrier();
        var clock = Stopwatch.StartNew();
        op();
        times[r] = clock.Elapsed.TotalSeconds;
    }
    // The slowest rank decides a collective's time.
    c.AllReduce<double>(times, ReduceOp.Max);
    Array.Sort(times);
    return times[reps / 2];
}
