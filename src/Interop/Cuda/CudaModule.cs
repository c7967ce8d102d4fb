using System.Runtime.InteropServices;
using System.Text;

namespace DeepSeek.Interop.Cuda;

/// <summary>A PTX module JIT-compiled by the driver for the current GPU, with its kernels' signatures read from the PTX.</summary>
public sealed class CudaModule : IDisposable
{
    private const int LogBytes = 16 * 1024;
    private readonly CudaContext _context;
    private readonly Dictionary<string, CudaKernel> _kernels = new(StringComparer.Ordinal);

    private CudaModule(CudaContext context, string name, CudaModuleHandle handle, IReadOnlyDictionary<string, PtxEntry> entries, string infoLog)
    {
        _context = context;
        Name = name;
        Handle = handle;
        Entries = entries;
        InfoLog = infoLog;
    }

    /// <summary>Module name (for messages).</summary>
    public string Name { get; }

    /// <summary>The module's handle.</summary>
    public CudaModuleHandle Handle { get; }

    /// <summary>Kernels the PTX declares, with their parameters.</summary>
    public IReadOnlyDictionary<string, PtxEntry> Entries { get; }

    /// <summary>The JIT compiler's info log (register and spill counts, when it writes them).</summary>
    public string InfoLog { get; }

    internal static unsafe CudaModule Load(CudaContext context, string name, ReadOnlySpan<byte> ptx)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var text = Encoding.UTF8.GetString(ptx.IndexOf((byte)0) is var z and >= 0 ? ptx[..z] : ptx);
        var entries = PtxEntryPoints.Parse(text);
        // The driver wants a NUL-terminated image.
        var image = new byte[ptx.Length + 1];
        ptx.CopyTo(image);
        var info = new byte[LogBytes];
        var error = new byte[LogBytes];
        // CUjit_option: INFO_LOG_BUFFER 3, INFO_LOG_BUFFER_SIZE_BYTES 4, ERROR_LOG_BUFFER 5, ERROR_LOG_BUFFER_SIZE_BYTES 6, LOG_VERBOSE 12.
        // Sizes travel as the pointer-sized value itself; the driver writes back the bytes used.
        var options = stackalloc int[] { 3, 4, 5, 6, 12 };
        CuResult r;
        nint module;
        fixed (byte* img = image)
        fixed (byte* infoPtr = info)
        fixed (byte* errorPtr = error)
        {
            var values = stackalloc nint[] { (nint)infoPtr, LogBytes, (nint)errorPtr, LogBytes, 1 };
            context.MakeCurrent();
            r = context.Driver.ModuleLoadDataEx(out module, (nint)img, 5, (nint)options, (nint)values);
        }
        var infoLog = CString(info);
        if (r != CuResult.Success)
        {
            var e = context.Driver.Error(r, "cuModuleLoadDataEx");
            throw new CudaModuleLoadException(name, r, e.ErrorName, e.ErrorString, CString(error), infoLog);
        }
        return new CudaModule(context, name, new CudaModuleHandle(context.Driver, context.Handle, module), entries, infoLog);
    }

    /// <summary>The kernel <paramref name="entry"/> (looked up once, then cached).</summary>
    /// <exception cref="CudaException">The module has no such kernel (<c>CUDA_ERROR_NOT_FOUND</c>).</exception>
    public unsafe CudaKernel GetKernel(string entry)
    {
        ArgumentException.ThrowIfNullOrEmpty(entry);
        if (_kernels.TryGetValue(entry, out var kernel)) return kernel;
        var bytes = Encoding.ASCII.GetBytes(entry + "\0");
        nint function;
        CuResult r;
        fixed (byte* p = bytes)
        {
            _context.MakeCurrent();
            r = _context.Driver.ModuleGetFunction(out function, Handle.Value, (nint)p);
        }
        _context.Driver.Check(r, "cuModuleGetFunction", $"kernel '{entry}' in module '{Name}'");
        kernel = new CudaKernel(_context, this, entry, function, Entries.GetValueOrDefault(entry));
        _kernels[entry] = kernel;
        return kernel;
    }

    /// <summary>Unloads the module (once; it stays loaded while a launch holds it).</summary>
    public void Dispose() => Handle.Dispose();

    private static string CString(byte[] buffer)
    {
        var n = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, n < 0 ? buffer.Length : n);
    }
}
