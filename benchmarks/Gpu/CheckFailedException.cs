namespace DeepSeek.Benchmarks.Gpu;

/// <summary>A kernel disagreed with its CPU reference on the checked slice (the message names kernel, shape and element).</summary>
public sealed class CheckFailedException(string message) : Exception(message);
