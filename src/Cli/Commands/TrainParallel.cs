using System.CommandLine;
using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>train sft --parallel mpi|inproc</c>: ZeRO-1 data parallelism over MPI ranks (<c>mpirun -np N dotnet deepseek.dll train sft …</c>)
/// or in-process ranks (<c>--ranks N</c>). Every rank trains; only rank 0 prints progress and writes files.
/// </summary>
internal static class TrainParallel
{
    public static Option<string> Mode() => new("--parallel")
    {
        Description = "Data parallelism with ZeRO-1: 'mpi' (start under mpirun -np N) or 'inproc' (--ranks threads); default none.",
        DefaultValueFactory = _ => "none",
    };

    public static Option<int> Ranks() => new("--ranks") { Description = "Ranks for --parallel inproc.", DefaultValueFactory = _ => 2 };

    /// <summary>Trains; returns rank 0's trainer state (weights, losses) on the process that writes the output, else null.</summary>
    public static (ModelParameters<float> Parameters, IReadOnlyList<double> Losses)? Train(string mode, int ranks, Func<ModelParameters<float>> load, int length,
        SftOptions options, string sourceDirectory, IReadOnlyList<TrainingSequence> examples, Action<Func<Action<int, string>, IReadOnlyList<TrainingProgress>>> view,
        Func<TrainingProgress, string> describe, CancellationToken cancellationToken)
    {
        switch (mode)
        {
            case "inproc":
                (ModelParameters<float>, IReadOnlyList<double>)? result = null;
                view(report =>
                {
                    var outcomes = InProcessCommunicator.Run(ranks, c =>
                    {
                        var trainer = new DataParallelSftTrainer(load(), length, options, c, sourceDirectory);
                        var history = trainer.Train(examples, c.Rank == 0 ? new Progress(p => report(p.Step, describe(p))) : null, cancellationToken);
                        return (trainer, history);
                    });
                    result = (outcomes[0].trainer.Parameters, outcomes[0].trainer.Losses);
                    return outcomes[0].history;
                });
                return result;
            case "mpi":
                var world = MpiCommunicator.InitializeWorld();
                try
                {
                    var trainer = new DataParallelSftTrainer(load(), length, options, world, sourceDirectory);
                    if (world.Rank == 0)
                    {
                        view(report => trainer.Train(examples, new Progress(p => report(p.Step, describe(p))), cancellationToken));
                        return (trainer.Parameters, trainer.Losses);
                    }
                    trainer.Train(examples, null, cancellationToken);
                    world.Dispose();
                    return null;
                }
                catch (Exception e) when (e is not MpiUnavailableException)
                {
                    // A failed rank must end the job, or the others would wait in their next collective forever.
                    world.Abort($"{e.GetType().Name}: {e.Message}");
                    throw;
                }
            default:
                throw new ArgumentException($"--parallel: expected none, mpi or inproc, not '{mode}'");
        }
    }

    /// <summary>True on MPI ranks other than 0, which neither print nor write files.</summary>
    public static bool IsSecondaryRank(string mode) =>
        mode == "mpi" && Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } rank && rank != "0";

    /// <summary>Ends MPI on rank 0 after it has written its files.</summary>
    public static void Finish(string mode)
    {
        if (mode == "mpi" && MpiLibrary.IsLaunched) MpiCommunicator.InitializeWorld().Dispose();
    }

    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
