using DeepSeek.Interop.Mpi;
using DeepSeek.Runtime.Distributed;
using DeepSeek.MpiHost;

// Usage: mpirun -np N dotnet DeepSeek.MpiHost.dll SCENARIO [ARGS...]
// Prints "OK <scenario> rank r/n" per rank and exits 0 when every check passed; a failed check aborts the job.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: DeepSeek.MpiHost <collectives|expert-parallel|kill|throw> [args]");
    return 2;
}
var world = MpiCommunicator.InitializeWorld(new MpiCommunicatorOptions { OperationTimeout = TimeSpan.FromSeconds(120) });
try
{
    Scenarios.Run(args[0], world, args[1..]);
    Console.WriteLine($"OK {args[0]} rank {world.Rank}/{world.Size}");
    world.Dispose();
    return 0;
}
catch (Exception e)
{
    world.Abort($"{args[0]} failed: {e}");
    return 1;
}
