using System.Text.RegularExpressions;

namespace DeepSeek.Interop.Cuda;

/// <summary>One kernel parameter as PTX declares it: byte size and alignment.</summary>
/// <param name="Type">PTX type as written (<c>.u64</c>, <c>.f32</c>, <c>.b8[32]</c>).</param>
/// <param name="Size">Bytes.</param>
/// <param name="Alignment">Bytes.</param>
public readonly record struct PtxParameter(string Type, int Size, int Alignment);

/// <summary>A <c>.visible .entry</c> of a PTX module with its parameter list.</summary>
/// <param name="Name">Entry (kernel) name.</param>
/// <param name="Parameters">Parameters in order.</param>
public sealed record PtxEntry(string Name, IReadOnlyList<PtxParameter> Parameters);

/// <summary>Reads a PTX module's header (<c>.version</c>, <c>.target</c>) and kernel signatures, so launches can be checked against them before the driver sees them.</summary>
public static partial class PtxEntryPoints
{
    /// <summary>The module's entries by name.</summary>
    /// <exception cref="FormatException">An entry's parameter list cannot be read.</exception>
    public static IReadOnlyDictionary<string, PtxEntry> Parse(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        var entries = new Dictionary<string, PtxEntry>(StringComparer.Ordinal);
        foreach (Match m in EntryRegex().Matches(ptx))
        {
            var name = m.Groups[1].Value;
            var parameters = new List<PtxParameter>();
            foreach (var raw in m.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var p = ParamRegex().Match(raw);
                if (!p.Success) throw new FormatException($"PTX entry '{name}': cannot read parameter '{raw}'");
                var align = p.Groups[1].Success ? int.Parse(p.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
                var type = p.Groups[2].Value;
                var elem = ScalarSize(type) ?? throw new FormatException($"PTX entry '{name}': unknown parameter type '{type}'");
                var count = p.Groups[3].Success ? int.Parse(p.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : 1;
                parameters.Add(new PtxParameter(count == 1 ? type : $"{type}[{count}]", elem * count, align > 0 ? align : elem));
            }
            entries[name] = new PtxEntry(name, parameters);
        }
        return entries;
    }

    /// <summary>The <c>.target</c> of a module (e.g. <c>sm_90</c>), or null.</summary>
    public static string? Target(string ptx) => TargetRegex().Match(ptx) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>The PTX ISA <c>.version</c> of a module (e.g. <c>7.8</c>), or null.</summary>
    public static string? Version(string ptx) => VersionRegex().Match(ptx) is { Success: true } m ? m.Groups[1].Value : null;

    private static int? ScalarSize(string type) => type switch
    {
        ".u8" or ".s8" or ".b8" => 1,
        ".u16" or ".s16" or ".b16" or ".f16" => 2,
        ".u32" or ".s32" or ".b32" or ".f32" => 4,
        ".u64" or ".s64" or ".b64" or ".f64" => 8,
        _ => null,
    };

    [GeneratedRegex(@"\.entry\s+([A-Za-z_$][\w$]*)\s*\(([^)]*)\)", RegexOptions.CultureInvariant)]
    private static partial Regex EntryRegex();

    [GeneratedRegex(@"^\.param\s+(?:\.align\s+(\d+)\s+)?(\.[a-z]\d+)\s+[\w$]+(?:\[(\d+)\])?$", RegexOptions.CultureInvariant)]
    private static partial Regex ParamRegex();

    [GeneratedRegex(@"^\s*\.target\s+(sm_\w+)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex TargetRegex();

    [GeneratedRegex(@"^\s*\.version\s+(\d+\.\d+)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex VersionRegex();
}
