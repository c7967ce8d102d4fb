using System.Runtime.InteropServices;

namespace DeepSeek.Interop.Mpi;

/// <summary>Open MPI's <c>MPI_Status</c> (<c>struct ompi_status_public_t</c>): three public ints, then two private fields; 24 bytes on 64-bit.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MpiStatus
{
    public int Source;
    public int Tag;
    public int Error;
    public int Cancelled;
    public nuint Count;
}
