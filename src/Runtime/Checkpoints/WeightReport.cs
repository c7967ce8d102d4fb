namespace DeepSeek.Runtime.Checkpoints;

/// <summary>A tensor that is missing, misshapen or stored in a dtype its role does not allow.</summary>
/// <param name="Tensor">Tensor name.</param>
/// <param name="Message">What is wrong, with expected and actual values.</param>
/// <param name="File">The shard holding it, when it exists.</param>
public sealed record WeightProblem(string Tensor, string Message, string? File = null)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Tensor}: {Message}";
}

/// <summary>
/// The result of checking a checkpoint's tensors against the shapes its config implies
/// (<see cref="WeightLayout"/>): problems that make the checkpoint unusable, and tensors nobody expects.
/// </summary>
public sealed class WeightReport
{
    internal WeightReport(IReadOnlyList<ExpectedTensor> expected, IReadOnlyList<WeightProblem> problems, IReadOnlyList<string> unexpected)
    {
        Expected = expected;
        Problems = problems;
        Unexpected = unexpected;
    }

    /// <summary>Every tensor the config implies.</summary>
    public IReadOnlyList<ExpectedTensor> Expected { get; }

    /// <summary>Missing tensors, shape mismatches and dtype violations; empty for a usable checkpoint.</summary>
    public IReadOnlyList<WeightProblem> Problems { get; }

    /// <summary>Tensors in the checkpoint that the config does not imply (ignored when loading).</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>True when nothing is missing or misshapen.</summary>
    public bool IsValid => Problems.Count == 0;

    /// <summary>Checks <paramref name="checkpoint"/> against <see cref="WeightLayout.For"/> of its config.</summary>
    public static WeightReport Check(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var expected = WeightLayout.For(checkpoint.Config);
        var problems = new List<WeightProblem>();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in expected)
        {
            known.Add(e.Name);
            if (!checkpoint.TryGet(e.Name, out var t))
            {
                if (!e.Optional) problems.Add(new WeightProblem(e.Name, $"missing (expected {e.Kind} of shape {e.Shape})"));
                continue;
            }
            if (t.Shape != e.Shape)
                problems.Add(new WeightProblem(e.Name, $"shape {t.Shape} does not match {e.Shape} implied by config.json", t.File.Path));
            if (!WeightLayout.Accepts(e.Kind, t.DType))
                problems.Add(new WeightProblem(e.Name, $"dtype {t.DType} is not allowed for a {e.Kind} weight", t.File.Path));
            if (t.DType == Tensors.DType.F8_E4M3) known.Add(e.Name + Checkpoint.ScaleInvSuffix);
        }
        var unexpected = checkpoint.Tensors.Select(t => t.Name).Where(n => !known.Contains(n)).Order(StringComparer.Ordinal).ToList();
        return new WeightReport(expected, problems, unexpected);
    }

    /// <summary>Throws a <see cref="CheckpointFormatException"/> naming the first problem (and how many there are).</summary>
    public void ThrowIfInvalid(string checkpointDirectory)
    {
        if (IsValid) return;
        var first = Problems[0];
        var more = Problems.Count > 1 ? $" (and {Problems.Count - 1} more problem{(Problems.Count > 2 ? "s" : "")})" : "";
        throw new CheckpointFormatException(first.Message + more, first.File ?? checkpointDirectory, first.Tensor);
    }
}
