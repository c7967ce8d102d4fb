namespace DeepSeek.Runtime.Checkpoints;

/// <summary>
/// A checkpoint file or folder is damaged or inconsistent. The message names the file and, where known,
/// the tensor and the byte offset, so the user can tell which download to repeat.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> says what was wrong.</summary>
    public CheckpointFormatException(string message, string? file = null, string? tensor = null, long? offset = null, Exception? inner = null)
        : base(Compose(message, file, tensor, offset), inner)
    {
        File = file;
        Tensor = tensor;
        Offset = offset;
    }

    /// <summary>The file that was wrong, if one.</summary>
    public string? File { get; }

    /// <summary>The tensor that was wrong, if one.</summary>
    public string? Tensor { get; }

    /// <summary>The byte offset in <see cref="File"/> where the fault was found, if known.</summary>
    public long? Offset { get; }

    private static string Compose(string message, string? file, string? tensor, long? offset)
    {
        var where = new List<string>(3);
        if (file is not null) where.Add($"file '{file}'");
        if (tensor is not null) where.Add($"tensor '{tensor}'");
        if (offset is not null) where.Add($"byte offset {offset}");
        return where.Count == 0 ? message : $"{message} ({string.Join(", ", where)})";
    }
}
