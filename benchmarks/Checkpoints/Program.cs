// Checkpoint and codec speed, as fractions of this machine's measured limits.
//
//   dotnet run -c Release --project benchmarks/Checkpoints [-- --gib 6 --runs 9]
//
// 1. Opening a sharded checkpoint of many GiB (sparse files: no disk cost) — milliseconds, resident memory growth.
// 2. BF16 → F32 and FP8 → F32 decoding throughput against the measured single-thread copy bandwidth.
using System.Diagnostics;
using System.Text;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Tensors;

var gib = ArgInt("--gib", 6);
var runs = ArgInt("--runs", 9);

var dir = Path.Combine(Path.GetTempPath(), "dsrt-bench-" + Environment.ProcessId);
try
{
    WriteSparseCheckpoint(dir, gib);
    using (Checkpoint.Open(dir)) { }                       // warm-up: JIT, page cache of the headers
    GC.Collect();
    var rssBefore = Process.GetCurrentProcess().WorkingSet64;
    var times = new List<double>();
    for (var r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew();
        using var ckpt = Checkpoint.Open(dir);
        sw.Stop();
        times.Add(sw.Elapsed.TotalMilliseconds);
    }
    var rssGrowth = Process.GetCurrentProcess().WorkingSet64 - rssBefore;
    Console.WriteLine($"open {gib} GiB in 3 shards: median {Median(times):F2} ms (min {times.Min():F2}, max {times.Max():F2}) over {runs} runs; resident growth {rssGrowth / (1 << 20)} MiB");
}
finally
{
    Directory.Delete(dir, recursive: true);
}

// Codec throughput over 64 MiB of output, single thread, against a plain copy of the same bytes.
const int N = 16 << 20;                                     // 16 Mi elements → 64 MiB of F32
var f32 = new float[N];
var bf16 = new ushort[N];
var fp8 = new byte[N];
var rng = new Random(1);
for (var i = 0; i < N; i++) { f32[i] = (float)(rng.NextDouble() * 2 - 1); bf16[i] = BFloat16Codec.FromSingle(f32[i]); }
Float8E4M3Codec.FromSingle(f32, fp8);
var copyDst = new float[N];

var copy = Bench(() => f32.AsSpan().CopyTo(copyDst), 2L * N * sizeof(float));
var bfDecode = Bench(() => BFloat16Codec.ToSingle(bf16, f32), (long)N * (2 + 4));
var f8Decode = Bench(() => Float8E4M3Codec.ToSingle(fp8, f32), (long)N * (1 + 4));
Console.WriteLine($"copy (read+write)   {copy:F2} GB/s  (the single-thread bandwidth limit here)");
Console.WriteLine($"BF16 → F32 decode   {bfDecode:F2} GB/s  = {bfDecode / copy:P0} of copy bandwidth");
Console.WriteLine($"FP8  → F32 decode   {f8Decode:F2} GB/s  = {f8Decode / copy:P0} of copy bandwidth");
return 0;

double Bench(Action body, long bytes)
{
    body();
    var gbs = new List<double>();
    for (var r = 0; r < runs; r++)
    {
        var sw = Stopwatch.StartNew();
        body();
        gbs.Add(bytes / sw.Elapsed.TotalSeconds / 1e9);
    }
    return Median(gbs);
}

static double Median(List<double> xs)
{
    var s = xs.Order().ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
}

int ArgInt(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}

// Three shards of 1 GiB U8 tensors, data left as holes so the files take no disk space.
static void WriteSparseCheckpoint(string dir, int gib)
{
    Directory.CreateDirectory(dir);
    const long tensorBytes = 1L << 30;
    var weightMap = new StringBuilder();
    for (var s = 0; s < 3; s++)
    {
        var shard = $"model-{s + 1:D5}-of-00003.safetensors";
        var count = gib / 3 + (s < gib % 3 ? 1 : 0);
        var header = new StringBuilder("{");
        for (var t = 0; t < count; t++)
        {
            if (t > 0) header.Append(',');
            header.Append($"\"blob.{s}.{t}\":{{\"dtype\":\"U8\",\"shape\":[{tensorBytes}],\"data_offsets\":[{t * tensorBytes},{(t + 1) * tensorBytes}]}}");
            weightMap.Append(weightMap.Length > 0 ? "," : "").Append($"\"blob.{s}.{t}\":\"{shard}\"");
        }
        var json = Encoding.UTF8.GetBytes(header.Append('}').ToString());
        using var stream = File.Create(Path.Combine(dir, shard));
        stream.Write(BitConverter.GetBytes((ulong)json.Length));
        stream.Write(json);
        stream.SetLength(8 + json.Length + count * tensorBytes);
    }
    File.WriteAllText(Path.Combine(dir, SafeTensorsIndex.FileName), $"{{\"weight_map\":{{{weightMap}}}}}");
    File.Copy(Path.Combine(AppContext.BaseDirectory, "config.json"), Path.Combine(dir, "config.json"));
}
