namespace DeepSeek.Benchmarks.Gpu;

/// <summary>gpu-bench's exit codes: distinct so a script can tell "no GPU here" from a failure.</summary>
public static class ExitCodes
{
    /// <summary>Every section ran and passed its correctness check.</summary>
    public const int Success = 0;

    /// <summary>An unexpected error (the message is printed).</summary>
    public const int Error = 1;

    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;

    /// <summary>No usable GPU: no NVIDIA driver, no device, or a device older than sm_80.</summary>
    public const int NoGpu = 3;

    /// <summary>A kernel disagreed with its CPU reference on the checked slice; nothing of that section was timed.</summary>
    public const int CheckFailed = 4;
}
