using System.CommandLine;
using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Distributed.Pipeline;
using DeepSeek.Runtime.Training;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>train sft --parallel mpi|inproc [--expert-parallel E]</c>: ZeRO-1 data parallelism over MPI ranks (<c>mpirun -np N dotnet deepseek.dll train sft …</c>)
/// or in-process ranks (<c>--ranks N</c>), optionally with the routed experts sharded over groups of E consecutive ranks
/// (world = E × D); or, with <c>--pipeline-parallel P [--pipeline-schedule dualpipe|1f1b]</c>, the decoder cut into P pipeline
/// stages over groups of P consecutive ranks (world = P × D: D replicas, each running its share of the global batch). Every rank trains; only rank 0 prints progress and writes files.
/// </summary>
internal static class TrainParallel
{
    public static Option<string> Mode() => new("--parallel")
    {
        Description = "Data parallelism with ZeRO-1: 'mpi' (start under mpirun -np N) or 'inproc' (--ranks threads); default none.",
        DefaultValueFactory = _ => "none",
    };

    public static Option<int> Ranks() => new("--ranks") { Description = "Ranks for --parallel inproc.", DefaultValueFactory = _ => 2 };

    public static Option<int> ExpertParallel() => new("--expert-parallel")
    {
        Description = "Shard the routed experts over groups of E ranks (world = E × D: E must divide the ranks and n_routed_experts); needs --parallel.",
        DefaultValueFactory = _ => 1,
    };

    public static Option<int> PipelineParallel() => new("--pipeline-parallel")
    {
        Description = "Cut the decoder layers into P pipeline stages over groups of P ranks (world = P × D; each replica's sequences of --batch-size are its micro-batches); needs --parallel.",
        DefaultValueFactory = _ => 1,
    };

    public static Option<string?> PipelineSchedule() => new("--pipeline-schedule")
    {
        Description = "Pipeline schedule: 'dualpipe' (even P, --batch-size even and >= 2P) or '1f1b'; default dualpipe when P is even, else 1f1b.",
    };

    /// <summary>
    /// The rules of --pipeline-parallel that do not need the ranks; returns the schedule to run (null without pipeline parallelism).
    /// LoRA and --resume are refused for every --parallel mode by the caller.
    /// </summary>
    public static PipelineScheduleKind? CheckPipelineParallel(string mode, int pipelineParallel, string? schedule, int expertParallel)
    {
        if (pipelineParallel < 1) throw new ArgumentException($"--pipeline-parallel must be at least 1, not {pipelineParallel}");
        if (pipelineParallel == 1)
        {
            if (schedule is not null) throw new ArgumentException("--pipeline-schedule needs --pipeline-parallel P with P > 1");
            return null;
        }
        if (mode == "none") throw new ArgumentException("--pipeline-parallel needs --parallel mpi or --parallel inproc (the stages run on separate ranks)");
        if (expertParallel > 1)
            throw new ArgumentException("--pipeline-parallel cannot be combined with --expert-parallel yet (each pipeline stage runs all of its experts)");
        return schedule switch
        {
            null => pipelineParallel % 2 == 0 ? PipelineScheduleKind.DualPipe : PipelineScheduleKind.OneFOneB,
            "dualpipe" when pipelineParallel % 2 != 0 =>
                throw new ArgumentException($"--pipeline-schedule dualpipe needs an even --pipeline-parallel (rank r holds stages r and P-1-r), not {pipelineParallel}; use 1f1b"),
            "dualpipe" => PipelineScheduleKind.DualPipe,
            "1f1b" => PipelineScheduleKind.OneFOneB,
            _ => throw new ArgumentException($"--pipeline-schedule: expected dualpipe or 1f1b, not '{schedule}'"),
        };
    }

    /// <summary>World = P × D: D pipeline replicas, each running BatchSize / D sequences of every global batch.</summary>
    private static void CheckPipelineWorld(ModelConfig config, int pipelineParallel, PipelineScheduleKind schedule, int world, string what, int batchSize)
    {
        if (world % pipelineParallel != 0)
            throw new ArgumentException($"--pipeline-parallel {pipelineParallel} must divide the {world} {what} (world = P × D: D pipeline replicas of P stages)");
        var replicas = world / pipelineParallel;
        if (batchSize % replicas != 0)
            throw new ArgumentException($"--batch-size {batchSize} must divide over the {replicas} pipeline replicas (world {world} = P {pipelineParallel} × D {replicas})");
        PipelineParallelSftTrainer.CheckLayout(config, pipelineParallel, schedule, batchSize / replicas);
    }

    /// <summary>
    /// Trains with pipeline parallelism; returns rank 0's weights (gathered from every stage) and losses on the process that writes
    /// the output, else null.
    /// </summary>
    public static (ModelParameters<float> Parameters, IReadOnlyList<double> Losses)? TrainPipeline(string mode, int ranks, int pipelineParallel, PipelineScheduleKind schedule,
        ModelConfig config, Func<ModelParameters<float>> load, int length, SftOptions options, string sourceDirectory, IReadOnlyList<TrainingSequence> examples,
        Action<Func<Action<int, string>, IReadOnlyList<TrainingProgress>>> view, Func<TrainingProgress, string> describe, CancellationToken cancellationToken) =>
        Launch(mode, ranks, (world, inProcess) => CheckPipelineWorld(config, pipelineParallel, schedule, world,
            inProcess ? "in-process ranks (--ranks)" : "MPI ranks (mpirun -np)", options.BatchSize), c =>
        {
            var (pipeline, data) = PipelineParallelSftTrainer.SplitGroups(c, pipelineParallel);
            var trainer = new PipelineParallelSftTrainer(load(), length, options, pipeline, data, schedule, sourceDirectory);
            return new RankRun(progress => trainer.Train(examples, progress, cancellationToken), () => (trainer.Parameters, trainer.Losses), [pipeline, data]);
        }, view, describe);

    /// <summary>The rules of --expert-parallel that do not need the ranks (those are checked where the world size is known).</summary>
    public static void CheckExpertParallel(string mode, int expertParallel, int routedExperts)
    {
        if (expertParallel < 1) throw new ArgumentException($"--expert-parallel must be at least 1, not {expertParallel}");
        if (expertParallel == 1) return;
        if (mode == "none") throw new ArgumentException("--expert-parallel needs --parallel mpi or --parallel inproc (the experts are sharded over ranks)");
        if (routedExperts == 0) throw new ArgumentException($"--expert-parallel {expertParallel}: the model has no routed experts (n_routed_experts = 0)");
        if (routedExperts % expertParallel != 0)
            throw new ArgumentException($"--expert-parallel {expertParallel} must divide the model's {routedExperts} routed experts (n_routed_experts)");
    }

    /// <summary>Trains; returns rank 0's trainer state (weights, losses) on the process that writes the output, else null.</summary>
    public static (ModelParameters<float> Parameters, IReadOnlyList<double> Losses)? Train(string mode, int ranks, int expertParallel, Func<ModelParameters<float>> load, int length,
        SftOptions options, string sourceDirectory, IReadOnlyList<TrainingSequence> examples, Action<Func<Action<int, string>, IReadOnlyList<TrainingProgress>>> view,
        Func<TrainingProgress, string> describe, CancellationToken cancellationToken) =>
        Launch(mode, ranks, (world, inProcess) =>
        {
            if (world % expertParallel != 0)
                throw new ArgumentException(inProcess
                    ? $"--expert-parallel {expertParallel} must divide --ranks {world} (world = E × D)"
                    : $"--expert-parallel {expertParallel} must divide the {world} MPI ranks (world = E × D)");
        }, c =>
        {
            var experts = expertParallel > 1 ? DataParallelSftTrainer.SplitExpertGroups(c, expertParallel) : null;
            var trainer = new DataParallelSftTrainer(load(), length, options, c, experts, sourceDirectory);
            return new RankRun(progress => trainer.Train(examples, progress, cancellationToken), () => (trainer.Parameters, trainer.Losses), experts is null ? [] : [experts]);
        }, view, describe);

    /// <summary>One rank's training: run it (with progress on rank 0), read rank 0's result, free the sub-groups it split off.</summary>
    private sealed record RankRun(Func<IProgress<TrainingProgress>?, IReadOnlyList<TrainingProgress>> Train,
        Func<(ModelParameters<float> Parameters, IReadOnlyList<double> Losses)> Result, IDisposable?[] Groups)
    {
        /// <summary>Frees the sub-groups: MPI_Comm_free must come before MPI_Finalize.</summary>
        public void FreeGroups()
        {
            foreach (var group in Groups) group?.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="start"/>'s training on every rank of the mode — in-process threads (--ranks) or this MPI process's
    /// rank — after <paramref name="checkWorld"/> accepted the world size (and whether the ranks are in-process); rank 0 shows
    /// progress and gets the result, others null.
    /// </summary>
    private static (ModelParameters<float> Parameters, IReadOnlyList<double> Losses)? Launch(string mode, int ranks, Action<int, bool> checkWorld,
        Func<ICommunicator, RankRun> start, Action<Func<Action<int, string>, IReadOnlyList<TrainingProgress>>> view, Func<TrainingProgress, string> describe)
    {
        switch (mode)
        {
            case "inproc":
                if (ranks < 1) throw new ArgumentException($"--ranks must be at least 1, not {ranks}");
                checkWorld(ranks, true);
                (ModelParameters<float>, IReadOnlyList<double>)? result = null;
                view(report =>
                {
                    var outcomes = InProcessCommunicator.Run(ranks, c =>
                    {
                        var run = start(c);
                        try
                        {
                            return (run, history: run.Train(c.Rank == 0 ? new Progress(p => report(p.Step, describe(p))) : null));
                        }
                        finally
                        {
                            run.FreeGroups();
                        }
                    });
                    result = outcomes[0].run.Result();
                    return outcomes[0].history;
                });
                return result;
            case "mpi":
                var world = MpiCommunicator.InitializeWorld();
                try
                {
                    checkWorld(world.Size, false);
                    var run = start(world);
                    if (world.Rank == 0)
                    {
                        view(report => run.Train(new Progress(p => report(p.Step, describe(p)))));
                        run.FreeGroups();
                        return run.Result();   // rank 0 ends MPI in Finish, after writing its files
                    }
                    run.Train(null);
                    run.FreeGroups();
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
