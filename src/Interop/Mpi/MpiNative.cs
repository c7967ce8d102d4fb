using System.Text;

namespace DeepSeek.Interop.Mpi;

/// <summary>
/// The MPI functions and handles we call, resolved from <see cref="MpiLibrary"/> once. Handles (<c>MPI_Comm</c>,
/// <c>MPI_Datatype</c>, <c>MPI_Op</c>, <c>MPI_Request</c>, <c>MPI_Errhandler</c>) are pointers in Open MPI.
/// Every call's return code goes through <see cref="Check"/>.
/// </summary>
internal static unsafe class MpiNative
{
    public const int Success = 0;
    public const int ThreadSerialized = 2, ThreadMultiple = 3;
    public const int Undefined = -32766;
    public const int MaxErrorString = 256;
    public static readonly nint InPlace = 1;

    public static readonly nint CommWorld, CommNull, Byte, Float, Double, Int, Long, OpSum, OpMax, OpMin, ErrorsReturn;

    public static readonly delegate* unmanaged<int*, nint*, int, int*, int> InitThread;
    public static readonly delegate* unmanaged<int*, int> Initialized, Finalized;
    public static readonly delegate* unmanaged<int> Finalize;
    public static readonly delegate* unmanaged<nint, int*, int> CommRank, CommSize;
    public static readonly delegate* unmanaged<nint, int, int, nint*, int> CommSplit;
    public static readonly delegate* unmanaged<nint*, int> CommFree;
    public static readonly delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public static readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public static readonly delegate* unmanaged<nint, int, int> Abort;
    public static readonly delegate* unmanaged<nint*, int*, MpiStatus*, int> Test;
    public static readonly delegate* unmanaged<MpiStatus*, nint, int*, int> GetCount;
    public static readonly delegate* unmanaged<nint, nint*, int> Ibarrier;
    public static readonly delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    public static readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public static readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Iallgather, Ialltoall;
    public static readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> IreduceScatterBlock;
    public static readonly delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int> Ialltoallv;
    public static readonly delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Isend, Irecv;

    static MpiNative()
    {
        CommWorld = MpiLibrary.Export("ompi_mpi_comm_world");
        CommNull = MpiLibrary.Export("ompi_mpi_comm_null");
        Byte = MpiLibrary.Export("ompi_mpi_byte");
        Float = MpiLibrary.Export("ompi_mpi_float");
        Double = MpiLibrary.Export("ompi_mpi_double");
        Int = MpiLibrary.Export("ompi_mpi_int");
        Long = MpiLibrary.Export("ompi_mpi_int64_t");
        OpSum = MpiLibrary.Export("ompi_mpi_op_sum");
        OpMax = MpiLibrary.Export("ompi_mpi_op_max");
        OpMin = MpiLibrary.Export("ompi_mpi_op_min");
        ErrorsReturn = MpiLibrary.Export("ompi_mpi_errors_return");
        InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)MpiLibrary.Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)MpiLibrary.Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)MpiLibrary.Export("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)MpiLibrary.Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)MpiLibrary.Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)MpiLibrary.Export("MPI_Comm_size");
        CommSplit = (delegate* unmanaged<nint, int, int, nint*, int>)MpiLibrary.Export("MPI_Comm_split");
        CommFree = (delegate* unmanaged<nint*, int>)MpiLibrary.Export("MPI_Comm_free");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)MpiLibrary.Export("MPI_Comm_set_errhandler");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)MpiLibrary.Export("MPI_Error_string");
        Abort = (delegate* unmanaged<nint, int, int>)MpiLibrary.Export("MPI_Abort");
        Test = (delegate* unmanaged<nint*, int*, MpiStatus*, int>)MpiLibrary.Export("MPI_Test");
        GetCount = (delegate* unmanaged<MpiStatus*, nint, int*, int>)MpiLibrary.Export("MPI_Get_count");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)MpiLibrary.Export("MPI_Ibarrier");
        Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)MpiLibrary.Export("MPI_Ibcast");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)MpiLibrary.Export("MPI_Iallreduce");
        Iallgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)MpiLibrary.Export("MPI_Iallgather");
        Ialltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)MpiLibrary.Export("MPI_Ialltoall");
        IreduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)MpiLibrary.Export("MPI_Ireduce_scatter_block");
        Ialltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, nint*, int>)MpiLibrary.Export("MPI_Ialltoallv");
        Isend = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)MpiLibrary.Export("MPI_Isend");
        Irecv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)MpiLibrary.Export("MPI_Irecv");
    }

    /// <summary>Throws <see cref="MpiException"/> naming <paramref name="call"/> unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    public static void Check(int code, string call)
    {
        if (code != Success) throw new MpiException(call, code, Describe(code));
    }

    /// <summary>MPI's text for an error code (MPI_Error_string), or a placeholder when even that fails.</summary>
    public static string Describe(int code)
    {
        var text = stackalloc byte[MaxErrorString + 1];
        var length = 0;
        if (ErrorString(code, text, &length) != Success || length <= 0) return "unknown MPI error";
        return Encoding.ASCII.GetString(text, Math.Min(length, MaxErrorString));
    }

    /// <summary>The MPI datatype that reduces elements of <typeparamref name="T"/>.</summary>
    public static nint ReductionType<T>(string operation) where T : unmanaged =>
        typeof(T) == typeof(float) ? Float
        : typeof(T) == typeof(double) ? Double
        : typeof(T) == typeof(int) ? Int
        : typeof(T) == typeof(long) ? Long
        : throw new NotSupportedException($"{operation}: reductions are defined for float, double, int and long, not {typeof(T).Name}.");
}
