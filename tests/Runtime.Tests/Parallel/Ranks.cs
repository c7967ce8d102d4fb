using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Runtime.Tests.Distributed;

/// <summary>Runs in-process ranks with a bound on every wait, so a bug ends the test instead of hanging it.</summary>
internal static class Ranks
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static T[] Run<T>(int size, Func<ICommunicator, T> body, TimeSpan? operationTimeout = null)
    {
        var options = new InProcessCommunicatorOptions { OperationTimeout = operationTimeout ?? Bound };
        var run = Task.Run(() => InProcessCommunicator.Run(size, body, options));
        Assert.True(Task.WhenAny(run, Task.Delay(Bound + Bound)).Result == run, "the in-process ranks did not finish in time");
        return run.GetAwaiter().GetResult();
    }

    public static void Run(int size, Action<ICommunicator> body, TimeSpan? operationTimeout = null) =>
        Run(size, c => { body(c); return 0; }, operationTimeout);
}
