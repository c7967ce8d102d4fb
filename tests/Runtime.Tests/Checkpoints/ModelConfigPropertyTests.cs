using System.Text.Json.Nodes;
using DeepSeek.Runtime.Checkpoints;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSeek.Runtime.Tests.Checkpoints;

public class ModelConfigPropertyTests
{
    private static readonly string[] Fixtures = [.. ConfigFixtures.All.Values];

    /// <summary>One edit: which node (seed modulo the node count) and what to do to it.</summary>
    public sealed record Edit(int NodeSeed, int Kind);

    /// <summary>A fixture, 1–3 edits, and optionally a truncation of the resulting text.</summary>
    public sealed record Mutation(int Fixture, Edit[] Edits, int? TruncateSeed)
    {
        public override string ToString() =>
            $"fixture {Fixture}, edits [{string.Join(", ", Edits.Select(e => $"({e.NodeSeed},{e.Kind})"))}], truncate {TruncateSeed}";
    }

    private const int EditKinds = 13;

    private static readonly Gen<Edit> EditGen =
        from seed in Gen.Choose(0, int.MaxValue - 1)
        from kind in Gen.Choose(0, EditKinds - 1)
        select new Edit(seed, kind);

    private static readonly Gen<Mutation> MutationGen =
        from fixture in Gen.Choose(0, Fixtures.Length - 1)
        from count in Gen.Choose(1, 3)
        from edits in Gen.ArrayOf(EditGen, count)
        from truncate in Gen.Choose(0, 9)
        from truncateSeed in Gen.Choose(0, int.MaxValue - 1)
        select new Mutation(fixture, edits, truncate == 0 ? truncateSeed : null);

    [Fact]
    public void Mutated_configs_parse_or_fail_with_ModelConfigException_only()
    {
        Prop.ForAll(Arb.From(MutationGen), (Mutation m) =>
            {
                string json = Apply(m);
                ModelConfig config;
                try
                {
                    config = ModelConfig.Parse(json);
                }
                catch (ModelConfigException ex)
                {
                    Assert.False(string.IsNullOrEmpty(ex.Key));
                    return;
                }
                // Whatever parses is valid and survives its own round trip.
                config.Validate();
                Assert.Equal(config, ModelConfig.Parse(config.ToJson()));
            })
            .Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    [Fact]
    public void The_generator_hits_both_outcomes()
    {
        // Guards the property above against a generator that only ever produces garbage (or only valid configs).
        var samples = MutationGen.Sample(300, 400);
        int parsed = 0, rejected = 0;
        foreach (var m in samples)
        {
            try
            {
                ModelConfig.Parse(Apply(m));
                parsed++;
            }
            catch (ModelConfigException)
            {
                rejected++;
            }
        }
        Assert.True(parsed > 10, $"only {parsed} of {samples.Length} mutations parsed");
        Assert.True(rejected > 10, $"only {rejected} of {samples.Length} mutations were rejected");
    }

    private static string Apply(Mutation m)
    {
        var root = JsonNode.Parse(Fixtures[m.Fixture])!;
        foreach (var edit in m.Edits)
        {
            var nodes = new List<(JsonNode Parent, string? Key, int Index)>();
            Collect(root, nodes);
            if (nodes.Count == 0)
                break;
            var (parent, key, index) = nodes[edit.NodeSeed % nodes.Count];
            if (edit.Kind == 0)
            {
                if (key is not null)
                    parent.AsObject().Remove(key);
                else
                    parent.AsArray().RemoveAt(index);
                continue;
            }
            JsonNode? value = edit.Kind switch
            {
                1 => "not a number",
                2 => -1,
                3 => -(edit.NodeSeed % 100_000) - 1,
                4 => 1e300,
                5 => 1e20,
                6 => null,
                7 => 0.5,
                8 => true,
                9 => new JsonArray(),
                10 => new JsonObject(),
                11 => 0,
                _ => int.MaxValue,
            };
            if (key is not null)
                parent.AsObject()[key] = value;
            else
                parent.AsArray()[index] = value;
        }
        string json = root.ToJsonString();
        return m.TruncateSeed is { } t ? json[..(t % (json.Length + 1))] : json;
    }

    private static void Collect(JsonNode node, List<(JsonNode, string?, int)> into)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, child) in obj)
            {
                into.Add((obj, key, -1));
                if (child is not null)
                    Collect(child, into);
            }
        }
        else if (node is JsonArray array)
        {
            for (int i = 0; i < array.Count; i++)
            {
                into.Add((array, null, i));
                if (array[i] is { } child)
                    Collect(child, into);
            }
        }
    }
}
