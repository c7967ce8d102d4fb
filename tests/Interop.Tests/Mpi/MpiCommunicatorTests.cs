using System.Runtime.InteropServices;
using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Interop.Tests.Mpi;

public sealed class MpiCommunicatorTests
{
    [Fact]
    public void Status_matches_Open_MPIs_public_struct()
    {
        // struct ompi_status_public_t { int MPI_SOURCE, MPI_TAG, MPI_ERROR; int _cancelled; size_t _ucount; }
        Assert.Equal(24, Marshal.SizeOf<MpiStatus>());
        Assert.Equal(12, (int)Marshal.OffsetOf<MpiStatus>(nameof(MpiStatus.Cancelled)));
        Assert.Equal(16, (int)Marshal.OffsetOf<MpiStatus>(nameof(MpiStatus.Count)));
    }

    [Fact]
    public void Outside_mpirun_initialising_is_a_typed_error_that_says_how_to_launch()
    {
        Assert.Null(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"));
        var e = Assert.Throws<MpiUnavailableException>(() => MpiCommunicator.InitializeWorld());
        Assert.IsAssignableFrom<CommunicatorException>(e);
        if (MpiLibrary.IsAvailable) Assert.Contains("mpirun -np N", e.Message);
        else Assert.Contains("apt-get install openmpi-bin", e.Message);
    }

    [Fact]
    public void The_library_loads_or_names_what_it_tried()
    {
        if (!MpiLibrary.IsAvailable)
        {
            var e = Assert.Throws<MpiUnavailableException>(() => MpiLibrary.Handle);
            foreach (var name in MpiLibrary.CandidateNames) Assert.Contains(name, e.Message);
            return;
        }
        foreach (var symbol in new[] { "ompi_mpi_comm_world", "ompi_mpi_float", "ompi_mpi_op_sum", "MPI_Ialltoallv" })
            Assert.NotEqual(0, MpiLibrary.Export(symbol));
        Assert.Throws<MpiUnavailableException>(() => MpiLibrary.Export("no_such_mpi_symbol"));
    }

    [MpiFact]
    public void Every_operation_gives_the_expected_data_under_mpirun_np_2_and_3()
    {
        foreach (var ranks in new[] { 2, 3 })
        {
            var run = MpiRun.Host(ranks, "collectives");
            Assert.True(run.ExitCode == 0, run.Output);
            for (var r = 0; r < ranks; r++) Assert.Contains($"OK collectives rank {r}/{ranks}", run.Output);
        }
    }

    [MpiFact]
    public void A_rank_killed_mid_step_ends_the_job_with_a_clear_error_instead_of_a_hang()
    {
        var run = MpiRun.Host(2, "kill");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("exited on signal 9", run.Output);
        Assert.DoesNotContain("the all-reduce after a rank died returned", run.Output);
        Assert.True(run.Elapsed < MpiRun.Bound, $"took {run.Elapsed}");
    }

    [MpiFact]
    public void A_rank_that_throws_aborts_the_job_and_names_the_failure()
    {
        var run = MpiRun.Host(2, "throw");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("rank 1 of 2 aborts the MPI job", run.Output);
        Assert.Contains("simulated failure on rank 1", run.Output);
        Assert.DoesNotContain("the all-reduce after a rank failed returned", run.Output);
    }
}
