using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepSeek.Runtime.Checkpoints;

namespace DeepSeek.Runtime.Diagnostics;

/// <summary>What this machine can do, measured: streaming-read memory bandwidth and fp32 FMA peak.</summary>
/// <param name="BandwidthGBs">Read bandwidth over a buffer far larger than the last-level cache (10⁹ bytes/s).</param>
/// <param name="PeakGflops">fp32 FMA throughput with the widest hardware vectors (10⁹ FLOP/s; an FMA counts 2).</param>
/// <param name="Threads">Threads both used.</param>
/// <param name="VectorBits">Vector width of the FMA loop: 512, 256 or 128.</param>
public sealed record MachineLimits(double BandwidthGBs, double PeakGflops, int Threads, int VectorBits)
{
    /// <summary>Default buffer of the bandwidth probe: 256 MiB, 8× a 32 MiB L3 and past most servers' per-socket LLC.</summary>
    public const long DefaultBandwidthBufferBytes = 256L << 20;

    private static double _sink;

    /// <summary>
    /// Measures both limits on <paramref name="threads"/> threads (≤ 0: every core) for about <paramref name="duration"/> each
    /// (default 1 s), reading a buffer of <paramref name="bandwidthBufferBytes"/> (default <see cref="DefaultBandwidthBufferBytes"/>).
    /// </summary>
    public static MachineLimits Measure(int threads = 0, TimeSpan? duration = null, long bandwidthBufferBytes = DefaultBandwidthBufferBytes)
    {
        var n = threads > 0 ? threads : Environment.ProcessorCount;
        var time = duration ?? TimeSpan.FromSeconds(1);
        return new MachineLimits(MeasureBandwidthGBs(n, bandwidthBufferBytes, time), MeasurePeakGflops(n, time), n, HardwareVectorBits);
    }

    /// <summary>Width of the widest hardware-accelerated vector the FMA probe uses.</summary>
    public static int HardwareVectorBits => Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    /// <summary>
    /// Streaming read: each thread sums its own contiguous slice of a <paramref name="bufferBytes"/> buffer with vector loads
    /// (four independent accumulators), pass after pass, until <paramref name="duration"/> is over. Bytes read ÷ wall time.
    /// </summary>
    public static double MeasureBandwidthGBs(int threads, long bufferBytes, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferBytes, 1L << 20);
        var floats = checked((int)(bufferBytes / sizeof(float)));
        var buffer = GC.AllocateUninitializedArray<float>(floats);
        // Touch every page first (and with distinct values), so the timed passes measure reads, not page faults.
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var (start, length) = Slice(floats, threads, t);
            buffer.AsSpan(start, length).Fill(t + 1);
        });
        var bytes = new long[threads];
        var seconds = RunTimed(threads, duration, (t, deadline, clock) =>
        {
            var (start, length) = Slice(floats, threads, t);
            var sum = 0f;
            do
            {
                sum += Sum(buffer.AsSpan(start, length));
                bytes[t] += (long)length * sizeof(float);
            }
            while (clock.Elapsed < deadline);
            return sum;
        });
        return bytes.Sum() / seconds / 1e9;
    }

    /// <summary>
    /// Register-resident FMA loop: each thread updates twelve independent vector accumulators (enough to hide FMA latency
    /// on two pipes) until <paramref name="duration"/> is over. 2 FLOPs per lane per FMA ÷ wall time.
    /// </summary>
    public static double MeasurePeakGflops(int threads, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        const int block = 1 << 16;
        var fmas = new long[threads];
        var seconds = RunTimed(threads, duration, (t, deadline, clock) =>
        {
            var sum = 0f;
            do
            {
                sum += HardwareVectorBits switch { 512 => Fma512(block), 256 => Fma256(block), _ => Fma128(block) };
                fmas[t] += block * 12L * (HardwareVectorBits / 32);
            }
            while (clock.Elapsed < deadline);
            return sum;
        });
        return 2.0 * fmas.Sum() / seconds / 1e9;
    }

    /// <summary>
    /// Streaming read of every tensor of <paramref name="checkpoint"/> where it lies — in the page cache, through the
    /// checkpoint's own read-only mapping — the bytes each thread owns (an equal contiguous share of all tensor data, in
    /// address order) summed as integers pass after pass until <paramref name="duration"/> is over. Bytes read ÷ wall time.
    /// </summary>
    /// <remarks>
    /// This is the roofline of decode, which streams exactly these bytes: on the 2-core Zen 4 machines of issue 5 a
    /// 256 MiB anonymous buffer read at 25–45 GB/s from run to run (buffers of about 1 GiB even read faster than the
    /// DRAM can deliver, some host-side cache), while a mapped 4.5 GB checkpoint reads at a steady ~30 GB/s — 4 KiB pages
    /// of the page cache, where the hardware prefetcher restarts at every page. One untimed pass first pages in what the
    /// page cache lacks, so the timed passes measure memory, not the disk. For a checkpoint small enough to stay in
    /// cache this is the cache's bandwidth, which is then the honest bound for its decode.
    /// </remarks>
    public static unsafe double MeasureMappedBandwidthGBs(Checkpoint checkpoint, int threads, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var regions = checkpoint.Tensors
            .Select(t => (Address: (nint)t.File.DataPointer(t.Name), Length: t.Info.ByteLength))
            .Where(r => r.Length > 0)
            .OrderBy(r => r.Address)
            .ToArray();
        var total = regions.Sum(r => r.Length);
        if (total == 0) throw new ArgumentException($"checkpoint '{checkpoint.Directory}' holds no tensor bytes", nameof(checkpoint));
        var shares = Enumerable.Range(0, threads).Select(t => Share(regions, total * t / threads, total * (t + 1) / threads)).ToArray();
        foreach (var share in shares) _sink += ReadAll(share);
        var bytes = new long[threads];
        var seconds = RunTimed(threads, duration, (t, deadline, clock) =>
        {
            var share = shares[t];
            var length = share.Sum(r => r.Length);
            var sum = 0f;
            do
            {
                sum += ReadAll(share);
                bytes[t] += length;
            }
            while (clock.Elapsed < deadline);
            return sum;
        });
        return bytes.Sum() / seconds / 1e9;
    }

    /// <summary>The parts of <paramref name="regions"/> (address order) between byte offsets [from, to) of their concatenation.</summary>
    internal static (nint Address, long Length)[] Share((nint Address, long Length)[] regions, long from, long to)
    {
        var parts = new List<(nint, long)>();
        long at = 0;
        foreach (var (address, length) in regions)
        {
            var start = Math.Max(from, at);
            var end = Math.Min(to, at + length);
            if (start < end) parts.Add((address + (nint)(start - at), end - start));
            at += length;
        }
        return [.. parts];
    }

    /// <summary>Sums every 32-bit word of the regions (integer adds: arbitrary weight bits are no slow float operands).</summary>
    private static unsafe float ReadAll((nint Address, long Length)[] regions)
    {
        var sum = Vector512<uint>.Zero;
        uint tail = 0;
        foreach (var (address, length) in regions)
        {
            var p = (byte*)address;
            long i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<uint> a = default, b = default, c = default, d = default;
                for (; i + 256 <= length; i += 256)
                {
                    a += Vector512.Load((uint*)(p + i));
                    b += Vector512.Load((uint*)(p + i + 64));
                    c += Vector512.Load((uint*)(p + i + 128));
                    d += Vector512.Load((uint*)(p + i + 192));
                }
                sum += a + b + c + d;
            }
            for (; i + 8 <= length; i += 8) tail += (uint)*(ulong*)(p + i);
            for (; i < length; i++) tail += p[i];
        }
        return Vector512.Sum(sum) + tail;
    }

    /// <summary>
    /// The AVX512-BF16 dot-product peak (vdpbf16ps: two multiply-adds per fp32 lane) on <paramref name="threads"/> threads,
    /// through the native CPU kernels' probe — the arithmetic peak of prefill when BF16 matmuls run on that GEMM; null where
    /// those kernels are unavailable (no library, no avx512bf16, or <c>DEEPSEEK_NATIVE_CPU=0</c>).
    /// </summary>
    public static double? MeasureBf16DotPeakGflops(int threads, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (!Compute.Cpu.NativeCpuKernels.IsAvailable) return null;
        const long block = 1 << 16;
        var calls = new long[threads];
        var seconds = RunTimed(threads, duration, (t, deadline, clock) =>
        {
            var sum = 0f;
            do
            {
                sum += Compute.Cpu.NativeCpuKernels.Bf16DotProbe(block);
                calls[t]++;
            }
            while (clock.Elapsed < deadline);
            return sum;
        });
        return 64.0 * 12 * block * calls.Sum() / seconds / 1e9;
    }

    /// <summary>Runs <paramref name="body"/> on dedicated threads released together; returns the wall time until the last one ends.</summary>
    private static double RunTimed(int threads, TimeSpan duration, Func<int, TimeSpan, Stopwatch, float> body)
    {
        using var start = new Barrier(threads + 1);
        var clock = new Stopwatch();
        var ends = new double[threads];
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            var index = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                var r = body(index, duration, clock);
                ends[index] = clock.Elapsed.TotalSeconds;
                _sink += r;   // keeps the loops observable so they are not optimised away (races are harmless)
            }) { IsBackground = true, Name = $"probe-{t}" };
            workers[t].Start();
        }
        clock.Start();
        start.SignalAndWait();
        foreach (var w in workers) w.Join();
        return Math.Max(ends.Max(), 1e-9);
    }

    private static (int Start, int Length) Slice(int total, int parts, int index)
    {
        // Vector-aligned slices (16 floats = 64 bytes) so every load is whole.
        var per = total / parts / 16 * 16;
        return (index * per, index == parts - 1 ? (total - (index * per)) / 16 * 16 : per);
    }

    private static float Sum(ReadOnlySpan<float> values)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var v = MemoryMarshal.Cast<float, Vector512<float>>(values);
            Vector512<float> a = default, b = default, c = default, d = default;
            var i = 0;
            for (; i + 4 <= v.Length; i += 4)
            {
                a += v[i];
                b += v[i + 1];
                c += v[i + 2];
                d += v[i + 3];
            }
            for (; i < v.Length; i++) a += v[i];
            return Vector512.Sum(a + b + c + d);
        }
        else
        {
            var v = MemoryMarshal.Cast<float, Vector256<float>>(values);
            Vector256<float> a = default, b = default, c = default, d = default;
            var i = 0;
            for (; i + 4 <= v.Length; i += 4)
            {
                a += v[i];
                b += v[i + 1];
                c += v[i + 2];
                d += v[i + 3];
            }
            for (; i < v.Length; i++) a += v[i];
            return Vector256.Sum(a + b + c + d);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma512(int iterations)
    {
        var m = Vector512.Create(0.999999f);
        var k = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (var i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, k);
            a1 = Vector512.FusedMultiplyAdd(a1, m, k);
            a2 = Vector512.FusedMultiplyAdd(a2, m, k);
            a3 = Vector512.FusedMultiplyAdd(a3, m, k);
            a4 = Vector512.FusedMultiplyAdd(a4, m, k);
            a5 = Vector512.FusedMultiplyAdd(a5, m, k);
            a6 = Vector512.FusedMultiplyAdd(a6, m, k);
            a7 = Vector512.FusedMultiplyAdd(a7, m, k);
            a8 = Vector512.FusedMultiplyAdd(a8, m, k);
            a9 = Vector512.FusedMultiplyAdd(a9, m, k);
            a10 = Vector512.FusedMultiplyAdd(a10, m, k);
            a11 = Vector512.FusedMultiplyAdd(a11, m, k);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma256(int iterations)
    {
        var m = Vector256.Create(0.999999f);
        var k = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (var i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, k);
            a1 = Vector256.FusedMultiplyAdd(a1, m, k);
            a2 = Vector256.FusedMultiplyAdd(a2, m, k);
            a3 = Vector256.FusedMultiplyAdd(a3, m, k);
            a4 = Vector256.FusedMultiplyAdd(a4, m, k);
            a5 = Vector256.FusedMultiplyAdd(a5, m, k);
            a6 = Vector256.FusedMultiplyAdd(a6, m, k);
            a7 = Vector256.FusedMultiplyAdd(a7, m, k);
            a8 = Vector256.FusedMultiplyAdd(a8, m, k);
            a9 = Vector256.FusedMultiplyAdd(a9, m, k);
            a10 = Vector256.FusedMultiplyAdd(a10, m, k);
            a11 = Vector256.FusedMultiplyAdd(a11, m, k);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Fma128(int iterations)
    {
        var m = Vector128.Create(0.999999f);
        var k = Vector128.Create(1e-7f);
        Vector128<float> a0 = Vector128.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (var i = 0; i < iterations; i++)
        {
            a0 = Vector128.FusedMultiplyAdd(a0, m, k);
            a1 = Vector128.FusedMultiplyAdd(a1, m, k);
            a2 = Vector128.FusedMultiplyAdd(a2, m, k);
            a3 = Vector128.FusedMultiplyAdd(a3, m, k);
            a4 = Vector128.FusedMultiplyAdd(a4, m, k);
            a5 = Vector128.FusedMultiplyAdd(a5, m, k);
            a6 = Vector128.FusedMultiplyAdd(a6, m, k);
            a7 = Vector128.FusedMultiplyAdd(a7, m, k);
            a8 = Vector128.FusedMultiplyAdd(a8, m, k);
            a9 = Vector128.FusedMultiplyAdd(a9, m, k);
            a10 = Vector128.FusedMultiplyAdd(a10, m, k);
            a11 = Vector128.FusedMultiplyAdd(a11, m, k);
        }
        return Vector128.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
