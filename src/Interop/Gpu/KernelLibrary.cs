using DeepSeek.Interop.Cuda;

namespace DeepSeek.Interop.Gpu;

/// <summary>A kernel by name and specialisation: entry <c>Name</c> or <c>Name_Specialisation</c> (e.g. <c>gemm_w</c> + <c>bf16</c>).</summary>
/// <param name="Name">Kernel family.</param>
/// <param name="Specialisation">Weight dtype or other variant, or null.</param>
public readonly record struct KernelKey(string Name, string? Specialisation = null)
{
    /// <summary>The PTX entry name.</summary>
    public string Entry => Specialisation is null ? Name : $"{Name}_{Specialisation}";

    /// <inheritdoc/>
    public override string ToString() => Entry;
}

/// <summary>
/// The shipped kernels on one context: modules are JIT-compiled on first use of one of their kernels (for the
/// target <see cref="PtxLibrary.SelectTarget"/> picks), then kept; kernels are cached by <see cref="KernelKey"/>.
/// </summary>
public sealed class KernelLibrary : IDisposable
{
    private readonly CudaContext _context;
    private readonly Dictionary<string, CudaModule> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<KernelKey, CudaKernel> _kernels = [];

    /// <summary>Uses <paramref name="context"/>'s device to choose the PTX target.</summary>
    public KernelLibrary(CudaContext context)
    {
        _context = context ?? throw new ArgumentNullException(nameof(context));
        Target = PtxLibrary.SelectTarget(context.Device.ComputeCapability);
    }

    /// <summary>The PTX target loaded (80, 89 or 90).</summary>
    public int Target { get; }

    /// <summary>Modules loaded so far.</summary>
    public IReadOnlyCollection<CudaModule> LoadedModules => _modules.Values;

    /// <summary>The kernel for <paramref name="key"/>, loading its module if needed.</summary>
    /// <exception cref="ArgumentException">No shipped module declares the entry.</exception>
    /// <exception cref="CudaModuleLoadException">The driver could not JIT the module.</exception>
    public CudaKernel Get(KernelKey key)
    {
        if (_kernels.TryGetValue(key, out var kernel)) return kernel;
        if (!PtxLibrary.EntryModules(Target).TryGetValue(key.Entry, out var moduleName))
            throw new ArgumentException($"no shipped PTX module declares kernel '{key.Entry}' for sm_{Target}", nameof(key));
        if (!_modules.TryGetValue(moduleName, out var module))
        {
            module = _context.LoadModule($"{moduleName}.sm_{Target}", PtxLibrary.Read(moduleName, Target));
            _modules[moduleName] = module;
        }
        kernel = module.GetKernel(key.Entry);
        _kernels[key] = kernel;
        return kernel;
    }

    /// <summary>Unloads every module.</summary>
    public void Dispose()
    {
        foreach (var m in _modules.Values) m.Dispose();
        _modules.Clear();
        _kernels.Clear();
    }
}
