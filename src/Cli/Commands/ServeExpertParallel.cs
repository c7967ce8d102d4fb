using System.Diagnostics.Metrics;
using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Checkpoints;
using DeepSeek.Runtime.Compute;
using DeepSeek.Runtime.Distributed;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>mpirun -np E dotnet deepseek.dll serve --model DIR --expert-parallel E</c>: the routed experts of every MoE layer are
/// sharded over the E MPI ranks (<see cref="ExpertParallelServing"/>). Rank 0 runs the HTTP server and the model; the other
/// ranks run no HTTP and no attention, only their experts, until rank 0 stops (Ctrl+C or SIGTERM to rank 0 or to mpirun).
/// Only rank 0 prints, except errors. A failure on any rank aborts the job, so no rank is left waiting.
/// </summary>
internal static class ServeExpertParallel
{
    public static async Task<int> RunAsync(ServeSettings settings, int experts, TextWriter output, TextWriter error, bool verbose, CancellationToken ct)
    {
        var config = ModelConfig.Load(Path.Combine(settings.ModelDirectory, "config.json"));
        if (config.NRoutedExperts == 0)
            throw new ArgumentException($"--expert-parallel {experts}: the model has no routed experts (n_routed_experts = 0)");
        if (config.NRoutedExperts % experts != 0)
            throw new ArgumentException($"--expert-parallel {experts} must divide the model's {config.NRoutedExperts} routed experts (n_routed_experts)");

        var world = MpiCommunicator.InitializeWorld();   // MpiUnavailableException when not started by mpirun
        try
        {
            if (world.Size != experts)
                throw new ArgumentException($"--expert-parallel {experts} must equal the number of MPI ranks, which is {world.Size}: start it as mpirun -np {experts} …");
            var serving = new ExpertParallelServing(world);
            if (!serving.IsLeader)
            {
                // No cancellation token: a follower ends when rank 0 says so, even when the same Ctrl+C reached it first,
                // because rank 0 may still be finishing a layer that needs this rank's experts.
                await Task.Run(() => ServeExperts(settings, serving), CancellationToken.None);
                world.Dispose();   // MPI_Finalize, after rank 0's stop command
                return 0;
            }

            await using (var app = ServeCommand.Build(settings, services => services.Replace(ServiceDescriptor.Singleton<IChatModel>(sp => LoadLeader(sp, settings, serving)))))
            {
                try
                {
                    await ServeCommand.RunAsync(app, settings, output, $"; routed experts over {experts} MPI ranks (rank 0 is pid {Environment.ProcessId})", ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                }
                finally
                {
                    serving.Stop();   // requests still in flight fail their next MoE call instead of waiting on stopped ranks
                }
            }
            world.Dispose();
            return 0;
        }
        catch (Exception e) when (e is not MpiUnavailableException)
        {
            // Say why before ending the job: MPI_Abort does not return, and the other ranks would otherwise wait forever.
            if (!CliErrors.TryReport(error, verbose, e)) error.WriteLine($"error: rank {world.Rank}: {e}");
            world.Abort($"rank {world.Rank}: {e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    private static void ServeExperts(ServeSettings settings, ExpertParallelServing serving)
    {
        using var checkpoint = Checkpoint.Open(settings.ModelDirectory);
        var factory = ComputeBackends.Find(settings.Backend.ToLowerInvariant());
        factory.EnsureAvailable();
        using var backend = factory.Create(settings.Threads);
        serving.ServeExperts(backend, WeightMap.Bind(checkpoint));
    }

    private static DeepSeekChatModel LoadLeader(IServiceProvider services, ServeSettings settings, ExpertParallelServing serving) =>
        DeepSeekChatModel.LoadExpertParallel(settings.ModelDirectory, serving, services.GetRequiredService<IOptionsMonitor<DeepSeekModelOptions>>().Get(Options.DefaultName),
            services.GetService<ILoggerFactory>(), services.GetService<IMeterFactory>());
}
