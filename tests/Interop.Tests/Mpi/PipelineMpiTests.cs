namespace DeepSeek.Interop.Tests.Mpi;

public sealed class PipelineMpiTests
{
    [MpiFact]
    public void DualPipe_and_1F1B_under_mpirun_np_2_equal_sequential_execution_bit_for_bit()
    {
        foreach (var (schedule, chunks) in new[] { ("dualpipe", "4"), ("dualpipe", "10"), ("1f1b", "5") })
        {
            var run = MpiRun.Host(2, "pipeline", schedule, chunks);
            Assert.True(run.ExitCode == 0, run.Output);
            for (var r = 0; r < 2; r++)
            {
                Assert.Contains($"OK pipeline rank {r}/2", run.Output);
                Assert.Contains($"rank {r}: loss", run.Output);
            }
        }
    }
}
