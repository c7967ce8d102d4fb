using System.Text;
using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Gpu;

/// <summary>
/// The PTX modules shipped in this assembly (built from <c>native/ptx</c> by its <c>build.sh</c>), one per kernel
/// source and target: <c>ptx/&lt;module&gt;.sm_&lt;target&gt;.ptx</c>. The driver JIT-compiles the highest target not above
/// the GPU's compute capability (PTX runs on its own and every later architecture).
/// </summary>
public static class PtxLibrary
{
    private static readonly Lazy<IReadOnlyList<string>> s_resources = new(() =>
        typeof(PtxLibrary).Assembly.GetManifestResourceNames().Where(n => n.StartsWith("ptx/", StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray());

    private static readonly Dictionary<int, IReadOnlyDictionary<string, string>> s_entryModules = [];

    /// <summary>Targets every module is built for (compute capability × 10).</summary>
    public static IReadOnlyList<int> Targets { get; } = [80, 89, 90];

    /// <summary>Embedded resource names (<c>ptx/gemm.sm_90.ptx</c>, …).</summary>
    public static IReadOnlyList<string> ResourceNames => s_resources.Value;

    /// <summary>Module names (<c>gemm</c>, <c>attention</c>, …).</summary>
    public static IReadOnlyList<string> Modules =>
        ResourceNames.Select(n => n["ptx/".Length..n.IndexOf(".sm_", StringComparison.Ordinal)]).Distinct().ToArray();

    /// <summary>The target to load on a GPU of compute capability <paramref name="computeCapability"/> (e.g. 90).</summary>
    /// <exception cref="NotSupportedException">The GPU is older than sm_80.</exception>
    public static int SelectTarget(int computeCapability)
    {
        var fit = Targets.Where(t => t <= computeCapability).DefaultIfEmpty(-1).Max();
        return fit > 0 ? fit : throw new NotSupportedException(
            $"GPU compute capability {computeCapability / 10}.{computeCapability % 10} is older than sm_80 (Ampere), the oldest target of the shipped PTX; use the CPU backend.");
    }

    /// <summary>The PTX text of <paramref name="module"/> for <paramref name="target"/>.</summary>
    /// <exception cref="ArgumentException">No such module or target is embedded.</exception>
    public static byte[] Read(string module, int target)
    {
        var name = $"ptx/{module}.sm_{target}.ptx";
        using var stream = typeof(PtxLibrary).Assembly.GetManifestResourceStream(name)
            ?? throw new ArgumentException($"PTX module '{module}' for sm_{target} is not embedded in DeepSeek.Interop (have: {string.Join(", ", ResourceNames)})", nameof(module));
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Which module declares each kernel entry, for <paramref name="target"/>.</summary>
    public static IReadOnlyDictionary<string, string> EntryModules(int target)
    {
        lock (s_entryModules)
        {
            if (s_entryModules.TryGetValue(target, out var map)) return map;
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var module in Modules)
                foreach (var entry in PtxEntryPoints.Parse(Encoding.UTF8.GetString(Read(module, target))).Keys)
                    result[entry] = module;
            s_entryModules[target] = result;
            return result;
        }
    }
}
