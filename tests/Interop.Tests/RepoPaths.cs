namespace DeepSeek.Interop.Tests;

/// <summary>Finds committed files by walking up from the test binaries to the repository root.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DeepSeek.Runtime.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no DeepSeek.Runtime.sln above {AppContext.BaseDirectory}");
    });

    public static string Repo => Root.Value;

    /// <summary>A tiny test model folder under tests/TestData/models.</summary>
    public static string Model(string name) => Path.Combine(Repo, "tests", "TestData", "models", name);
}
