namespace DeepSeek.Runtime.Tokenization;

/// <summary>
/// A <c>tokenizer.json</c> (or <c>tokenizer_config.json</c>) is malformed or uses a feature this tokenizer does not
/// support. <see cref="JsonPath"/> names the offending key (<c>pre_tokenizer.pretokenizers[1].pattern.Regex</c>) so
/// the user can tell which part of which file to fix.
/// </summary>
public sealed class TokenizerFormatException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> says what was wrong at <paramref name="jsonPath"/>.</summary>
    public TokenizerFormatException(string message, string? jsonPath = null, string? file = null, Exception? inner = null)
        : base(Compose(message, jsonPath, file), inner)
    {
        JsonPath = jsonPath;
        File = file;
    }

    /// <summary>The JSON path of the offending value, if known (empty for the document root).</summary>
    public string? JsonPath { get; }

    /// <summary>The file that was wrong, if read from disk.</summary>
    public string? File { get; }

    private static string Compose(string message, string? jsonPath, string? file)
    {
        var where = new List<string>(2);
        if (jsonPath is not null) where.Add($"at '{(jsonPath.Length == 0 ? "$" : jsonPath)}'");
        if (file is not null) where.Add($"file '{file}'");
        return where.Count == 0 ? message : $"{message} ({string.Join(", ", where)})";
    }
}
