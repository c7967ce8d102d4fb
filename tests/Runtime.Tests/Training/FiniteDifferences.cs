namespace DeepSeek.Runtime.Tests.Training;

/// <summary>Central finite differences in float64, the check every backward in src/Runtime/Training is held to.</summary>
internal static class FiniteDifferences
{
    /// <summary>Step h of the central difference.</summary>
    public const double Step = 1e-6;

    /// <summary>All elements of a small tensor, else <paramref name="count"/> random ones (drawn lazily from <paramref name="rng"/>).</summary>
    public static IEnumerable<int> Sample(int length, Random rng, int count = 4) =>
        length <= 8 ? Enumerable.Range(0, length) : Enumerable.Range(0, count).Select(_ => rng.Next(length));

    /// <summary>
    /// Asserts that <paramref name="analytic"/>[i] equals (L(v+h) − L(v−h)) / 2h for each element i of <paramref name="values"/>
    /// (all of them unless <paramref name="elements"/> says), within <paramref name="tolerance"/> × max(1, |numeric|).
    /// <paramref name="afterNudge"/> runs after each element's two evaluations (e.g. to assert no expert choice changed,
    /// which would make the difference measure a jump rather than a slope).
    /// </summary>
    public static void AssertGradient(string name, double[] values, IReadOnlyList<double> analytic, Func<double> loss,
        IEnumerable<int>? elements = null, Action? afterNudge = null, double tolerance = 1e-6)
    {
        foreach (var i in elements ?? Enumerable.Range(0, values.Length))
        {
            var keep = values[i];
            values[i] = keep + Step;
            var up = loss();
            values[i] = keep - Step;
            var down = loss();
            values[i] = keep;
            afterNudge?.Invoke();
            var numeric = (up - down) / (2 * Step);
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance * Math.Max(1, Math.Abs(numeric)), $"{name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
        }
    }
}
