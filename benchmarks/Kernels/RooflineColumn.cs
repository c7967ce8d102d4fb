using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace DeepSeek.Benchmarks.Kernels;

/// <summary>
/// Throughput columns computed from a case's mean time and its <see cref="IKernelCost"/>: GB/s, GFLOP/s, and the fraction
/// of this machine's roofline reached — the larger of bytes/s ÷ bandwidth and FLOP/s ÷ FMA peak, tagged with the limit
/// that binds (decode-sized matmuls are bandwidth-bound, prefill-sized ones FLOP-bound).
/// </summary>
internal sealed class RooflineColumn : IColumn
{
    private enum Kind { Bandwidth, Flops, Fraction }

    public static readonly IColumn Bandwidth = new RooflineColumn(Kind.Bandwidth, "GB/s", "Bytes moved per second (10⁹)");
    public static readonly IColumn Flops = new RooflineColumn(Kind.Flops, "GFLOP/s", "Floating-point operations per second (10⁹; a multiply-add is 2)");
    public static readonly IColumn Fraction = new RooflineColumn(Kind.Fraction, "Roofline",
        "max(GB/s ÷ measured bandwidth, GFLOP/s ÷ measured FMA peak) and which limit binds (bw or fma)");

    private readonly Kind _kind;

    private RooflineColumn(Kind kind, string name, string legend) => (_kind, ColumnName, Legend) = (kind, name, legend);

    public string Id => $"{nameof(RooflineColumn)}.{_kind}";
    public string ColumnName { get; }
    public string Legend { get; }
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => (int)_kind;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;   // ns per call
        if (mean is not > 0 || CostOf(benchmarkCase) is not { } cost) return "-";
        var seconds = mean.Value * 1e-9;
        var gbs = cost.Bytes / seconds / 1e9;
        var gflops = cost.Flops / seconds / 1e9;
        var limits = KernelBenchConfig.Limits;
        var (bw, fma) = (gbs / limits.BandwidthGBs, gflops / limits.PeakGflops);
        return _kind switch
        {
            Kind.Bandwidth => gbs.ToString("F1", CultureInfo.InvariantCulture),
            Kind.Flops => gflops.ToString("F1", CultureInfo.InvariantCulture),
            _ => bw >= fma ? string.Create(CultureInfo.InvariantCulture, $"{bw:F2} bw") : string.Create(CultureInfo.InvariantCulture, $"{fma:F2} fma"),
        };
    }

    /// <summary>A fresh instance of the benchmark class with the case's parameters set, asked for its cost.</summary>
    private static KernelCost? CostOf(BenchmarkCase benchmarkCase)
    {
        if (Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IKernelCost instance) return null;
        foreach (var parameter in benchmarkCase.Parameters.Items)
            benchmarkCase.Descriptor.Type.GetProperty(parameter.Name)?.SetValue(instance, parameter.Value);
        return instance.CostOf(benchmarkCase.Descriptor.WorkloadMethod.Name);
    }
}
