namespace DeepSeek.Interop.Cuda;

/// <summary><c>cuModuleLoadDataEx</c> rejected a PTX module; <see cref="ErrorLog"/> is the JIT compiler's own output.</summary>
public sealed class CudaModuleLoadException : CudaException
{
    /// <summary>Creates the exception.</summary>
    public CudaModuleLoadException(string module, CuResult result, string? errorName, string? errorString, string errorLog, string infoLog)
        : base("cuModuleLoadDataEx", result, errorName, errorString,
            $"module '{module}'" + (string.IsNullOrWhiteSpace(errorLog) ? ", no JIT error log" : $", JIT error log: {errorLog.Trim()}"))
    {
        Module = module;
        ErrorLog = errorLog;
        InfoLog = infoLog;
    }

    /// <summary>Name of the module that failed.</summary>
    public string Module { get; }

    /// <summary>The JIT compiler's error log (empty when it wrote none).</summary>
    public string ErrorLog { get; }

    /// <summary>The JIT compiler's info log.</summary>
    public string InfoLog { get; }
}
