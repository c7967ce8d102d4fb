namespace DeepSeek.Cli.Commands;

/// <summary>What <c>deepseek serve</c> was asked for, parsed once and shared by the single-process and expert-parallel paths.</summary>
internal sealed record ServeSettings(string ModelDirectory, string ModelId, string Urls, string? ApiKey, int Threads, string Backend, int ContextLength, int MaxConcurrent);
