using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

// Single-thread encode throughput of BpeTokenizer on a multi-MB mixed corpus built from the reference vectors.
// Usage: dotnet run -c Release --project benchmarks/Tokenizer -- [--model DIR] [--corpus FILE] [--runs N] [--warmup N]
// The corpus file is written on first use; tests/reference/tokenizer/bench.mjs times the Rust tokenizer on the same file.

var model = Arg("--model") ?? FindUp(Path.Combine("tests", "TestData", "tokenizers", "deepseek-v3"));
var corpusPath = Arg("--corpus") ?? Path.Combine(Path.GetTempPath(), "deepseek-tokenizer-bench.txt");
var runs = int.Parse(Arg("--runs") ?? "7", CultureInfo.InvariantCulture);
var warmup = int.Parse(Arg("--warmup") ?? "2", CultureInfo.InvariantCulture);
var byLine = args.Contains("--lines"); // encode each line as its own document instead of one string

if (!File.Exists(corpusPath)) WriteCorpus(Path.Combine(model, "vectors.json"), corpusPath);
var text = File.ReadAllText(corpusPath, Encoding.UTF8);
var megabytes = Encoding.UTF8.GetByteCount(text) / 1e6;

var load = Stopwatch.StartNew();
var tokenizer = BpeTokenizer.FromDirectory(model);
Console.WriteLine($"tokenizer  {model} (loaded in {load.ElapsedMilliseconds} ms)");
Console.WriteLine($"corpus     {corpusPath}: {megabytes:F2} MB UTF-8, {text.Length:N0} chars");

var lines = text.Split('\n');
var ids = 0;
long checksum = 0;
for (var i = 0; i < warmup; i++) (ids, checksum) = EncodeAll();
var rates = new List<double>();
for (var i = 0; i < runs; i++)
{
    var sw = Stopwatch.StartNew();
    (ids, checksum) = EncodeAll();
    sw.Stop();
    rates.Add(megabytes / sw.Elapsed.TotalSeconds);
    Console.WriteLine($"run {i + 1}      {sw.Elapsed.TotalMilliseconds,8:F1} ms  {rates[^1],7:F2} MB/s");
}
rates.Sort();
Console.WriteLine($"ids        {ids:N0} (checksum {checksum}, mode {(byLine ? "lines" : "whole")})");
Console.WriteLine($"median     {rates[rates.Count / 2]:F2} MB/s (single thread, {runs} runs after {warmup} warm-up)");
return 0;

(int Count, long Checksum) EncodeAll()
{
    var all = new List<int>();
    if (byLine) foreach (var line in lines) all.AddRange(tokenizer.Encode(line));
    else all.AddRange(tokenizer.Encode(text));
    long sum = 0;
    for (var i = 0; i < all.Count; i++) sum = (sum * 31 + all[i]) % 1_000_000_007;
    return (all.Count, sum);
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string FindUp(string relative)
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, relative);
        if (Directory.Exists(candidate)) return candidate;
    }
    throw new DirectoryNotFoundException($"{relative} not found above {AppContext.BaseDirectory}; pass --model");
}

// Every valid corpus text once per round, newline-separated, rounds repeated up to 4 MB. Rounds rotate the start
// so the same document does not always follow the same neighbour.
static void WriteCorpus(string vectorsPath, string path)
{
    using var doc = JsonDocument.Parse(File.ReadAllText(vectorsPath));
    var texts = doc.RootElement.GetProperty("vectors").EnumerateArray()
        .Where(v => v.TryGetProperty("text", out _)).Select(v => v.GetProperty("text").GetString()!).ToList();
    var sb = new StringBuilder();
    for (var round = 0; Encoding.UTF8.GetByteCount(sb.ToString()) < 4_000_000; round++)
    {
        for (var i = 0; i < texts.Count; i++) sb.Append(texts[(i + round * 37) % texts.Count]).Append('\n');
    }
    File.WriteAllText(path, sb.ToString(), new UTF8Encoding(false));
}
