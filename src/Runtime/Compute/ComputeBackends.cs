using System.Reflection;
using System.Runtime.ExceptionServices;
using DeepSeek.Runtime.Compute.Cpu;

namespace DeepSeek.Runtime.Compute;

/// <summary>Creates a compute backend named in a backend option (<c>cpu</c>, <c>cuda</c>).</summary>
public interface IComputeBackendFactory
{
    /// <summary>Backend name.</summary>
    string Name { get; }

    /// <summary>Throws the backend's own typed exception when it cannot run on this machine (e.g. no NVIDIA driver).</summary>
    void EnsureAvailable();

    /// <summary>Creates the backend; <paramref name="threads"/> is the host thread count (0 = all cores) where it matters.</summary>
    IComputeBackend Create(int threads);
}

/// <summary>
/// The backends a name can select. <c>cpu</c> is built in; <c>cuda</c> lives in <c>DeepSeek.Interop</c>, found by type
/// name when that assembly is deployed beside this one, so the runtime has no compile-time dependency on native
/// interop and CPU-only users never load it.
/// </summary>
public static class ComputeBackends
{
    /// <summary>Type of the CUDA factory in DeepSeek.Interop.</summary>
    public const string CudaFactoryTypeName = "DeepSeek.Interop.Gpu.CudaBackendFactory, DeepSeek.Interop";

    /// <summary>Every backend name an option may hold.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cpu", "cuda"];

    /// <summary>The factory for <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is not a backend.</exception>
    /// <exception cref="NotSupportedException"><c>cuda</c> without DeepSeek.Interop deployed.</exception>
    public static IComputeBackendFactory Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (name.ToLowerInvariant())
        {
            case "cpu":
                return CpuFactory.Instance;
            case "cuda":
                Type? type;
                try
                {
                    type = Type.GetType(CudaFactoryTypeName, throwOnError: false);
                }
                catch (Exception e) when (e is FileLoadException or BadImageFormatException)
                {
                    type = null;
                }
                if (type is null || Activator.CreateInstance(type) is not IComputeBackendFactory factory)
                    throw new NotSupportedException("Backend 'cuda' is not available: it needs the DeepSeek.Interop assembly beside DeepSeek.Runtime (reference the DeepSeek.Interop project or package); use \"cpu\" otherwise.");
                return factory;
            default:
                throw new ArgumentException($"unknown backend '{name}'; use one of {string.Join(", ", Names)}", nameof(name));
        }
    }

    /// <summary>Creates the backend <paramref name="name"/>, letting its typed start-up exception through unwrapped.</summary>
    public static IComputeBackend Create(string name, int threads)
    {
        var factory = Find(name);
        try
        {
            factory.EnsureAvailable();
            return factory.Create(threads);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private sealed class CpuFactory : IComputeBackendFactory
    {
        public static readonly CpuFactory Instance = new();

        public string Name => "cpu";

        public void EnsureAvailable()
        {
        }

        public IComputeBackend Create(int threads) => new CpuBackend(threads);
    }
}
