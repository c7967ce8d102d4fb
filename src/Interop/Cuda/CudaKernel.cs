namespace DeepSeek.Interop.Cuda;

/// <summary>Grid or block dimensions of a launch.</summary>
/// <param name="X">First dimension (≥ 1).</param>
/// <param name="Y">Second dimension (≥ 1).</param>
/// <param name="Z">Third dimension (≥ 1).</param>
public readonly record struct LaunchDims(uint X, uint Y = 1, uint Z = 1)
{
    /// <summary>A one-dimensional size.</summary>
    public static implicit operator LaunchDims(int x) => new(checked((uint)x));

    /// <summary>X·Y·Z.</summary>
    public ulong Total => (ulong)X * Y * Z;

    /// <inheritdoc/>
    public override string ToString() => $"({X}, {Y}, {Z})";
}

/// <summary>
/// One kernel of a loaded module, launched with a <see cref="KernelArguments"/> list that is checked against the
/// kernel's PTX signature first: a wrong argument count or size is an <see cref="ArgumentException"/> naming the
/// kernel, not a GPU fault.
/// </summary>
public sealed class CudaKernel
{
    private readonly CudaContext _context;

    internal CudaKernel(CudaContext context, CudaModule module, string name, nint function, PtxEntry? signature)
    {
        _context = context;
        Module = module;
        Name = name;
        Function = function;
        Signature = signature;
    }

    /// <summary>The module the kernel lives in.</summary>
    public CudaModule Module { get; }

    /// <summary>Entry name.</summary>
    public string Name { get; }

    /// <summary>Parameters the PTX declares (null when the PTX did not parse for this entry).</summary>
    public PtxEntry? Signature { get; }

    internal nint Function { get; }

    /// <summary>Queues the kernel on <paramref name="stream"/> (null: the legacy default stream).</summary>
    /// <exception cref="ArgumentException">The arguments do not match the PTX signature.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is 0 or a block has more than 1024 threads.</exception>
    /// <exception cref="CudaException">The driver refused the launch.</exception>
    public void Launch(LaunchDims grid, LaunchDims block, KernelArguments arguments, int sharedBytes = 0, CudaStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0 || grid.Y > 65535 || grid.Z > 65535 || grid.X > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(grid), $"kernel '{Name}': grid {grid} outside [1, 2^31−1] × [1, 65535] × [1, 65535]");
        if (block.X == 0 || block.Y == 0 || block.Z == 0 || block.Total > 1024)
            throw new ArgumentOutOfRangeException(nameof(block), $"kernel '{Name}': block {block} must have 1 … 1024 threads");
        ArgumentOutOfRangeException.ThrowIfNegative(sharedBytes);
        if (Signature is not null) arguments.Validate(Signature);
        _context.MakeCurrent();
        var streamHandle = stream?.Handle.Value ?? 0;
        var moduleRef = false;
        Module.Handle.DangerousAddRef(ref moduleRef);
        try
        {
            var r = arguments.WithPointers(p => _context.Driver.LaunchKernel(Function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedBytes, streamHandle, p, 0));
            _context.LastLaunch = $"{Name} grid {grid} block {block}";
            _context.Driver.Check(r, "cuLaunchKernel", $"kernel '{Name}' of module '{Module.Name}', grid {grid}, block {block}");
        }
        finally
        {
            if (moduleRef) Module.Handle.DangerousRelease();
        }
    }
}
