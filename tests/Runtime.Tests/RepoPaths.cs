namespace DeepSeek.Runtime.Tests;

/// <summary>Finds committed test data by walking up from the test binaries to the repository root.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DeepSeek.Runtime.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no DeepSeek.Runtime.sln above {AppContext.BaseDirectory}");
    });

    /// <summary>The repository root.</summary>
    public static string Repo => Root.Value;

    /// <summary>A path under tests/TestData.</summary>
    public static string TestData(params string[] parts) => Path.Combine([Repo, "tests", "TestData", .. parts]);
}
