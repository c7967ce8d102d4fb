using System.Diagnostics.Metrics;
using DeepSeek.Runtime.Generation;
using DeepSeek.Runtime.Hosting;
using Microsoft.Extensions.AI;

namespace DeepSeek.Runtime.Tests.Hosting;

/// <summary>The tiny chat checkpoint with one MTP layer, so the hosted model decodes speculatively (Auto).</summary>
public sealed class TinyMtpChatModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public TinyMtpChatModelFixture()
    {
        ModelPath = _dir.File("tiny-mtp-chat");
        TinyChatModelFixture.Write(ModelPath, config: TinyChatModelFixture.Config with { NumNextNPredictLayers = 1 });
    }

    public string ModelPath { get; }

    public void Dispose() => _dir.Dispose();
}

public sealed class MtpUsageTests(TinyMtpChatModelFixture mtp, TinyChatModelFixture plain) : IClassFixture<TinyMtpChatModelFixture>, IClassFixture<TinyChatModelFixture>
{
    // MTP asked for: on the CPU a model this small would not draft by default (see DeepSeekModelOptions.Speculative).
    private static DeepSeekModelOptions Options(string id) => new() { Temperature = 0, ContextLength = 256, ModelId = id, Speculative = SpeculativeDecoding.Auto };

    private static ChatOptions Greedy(int n) => new() { Temperature = 0, MaxOutputTokens = n };

    [Fact]
    public async Task Usage_carries_mtp_draft_counts_streaming_and_not_and_the_meter_counts_them()
    {
        var measured = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == DeepSeekDiagnostics.MeterName && i.Name.StartsWith("deepseek.mtp.", StringComparison.Ordinal)) l.EnableMeasurementEvents(i);
            },
        };
        // Only this test's model (other test classes may publish on the same meter name at the same time).
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == DeepSeekDiagnostics.ModelTag && Equals(tag.Value, "mtp-usage"))
                    lock (measured) measured[i.Name] = measured.GetValueOrDefault(i.Name) + value;
        });
        listener.Start();

        using var model = DeepSeekChatModel.Load(mtp.ModelPath, Options("mtp-usage"));
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync("Count to ten.", Greedy(24));
        var counts = response.Usage!.AdditionalCounts!;
        var drafted = counts[DeepSeekChatClient.MtpDraftedTokensKey];
        var accepted = counts[DeepSeekChatClient.MtpAcceptedTokensKey];
        Assert.InRange(drafted, 1, response.Usage.OutputTokenCount!.Value - 1);
        Assert.InRange(accepted, 0, drafted);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("Count to ten.", Greedy(24))) updates.Add(u);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        Assert.Equal(drafted, usage.AdditionalCounts![DeepSeekChatClient.MtpDraftedTokensKey]);
        Assert.Equal(accepted, usage.AdditionalCounts[DeepSeekChatClient.MtpAcceptedTokensKey]);

        listener.RecordObservableInstruments();
        Assert.Equal(2 * drafted, measured[DeepSeekDiagnostics.MtpDraftedTokens]);
        Assert.Equal(2 * accepted, measured.GetValueOrDefault(DeepSeekDiagnostics.MtpAcceptedTokens));
    }

    [Fact]
    public async Task On_the_cpu_a_cache_resident_model_does_not_draft_by_default_and_answers_the_same()
    {
        var defaults = Options("mtp-default");
        defaults.Speculative = null;
        using var model = DeepSeekChatModel.Load(mtp.ModelPath, defaults);
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync("Count to ten.", Greedy(24));
        Assert.Null(response.Usage!.AdditionalCounts);

        using var drafting = DeepSeekChatModel.Load(mtp.ModelPath, Options("mtp-auto"));
        using var draftingClient = new DeepSeekChatClient(drafting);
        var speculative = await draftingClient.GetResponseAsync("Count to ten.", Greedy(24));
        Assert.True(speculative.Usage!.AdditionalCounts![DeepSeekChatClient.MtpDraftedTokensKey] > 0);
        Assert.Equal(response.Text, speculative.Text);
    }

    [Fact]
    public async Task A_model_without_mtp_reports_no_draft_counts()
    {
        using var model = DeepSeekChatModel.Load(plain.ModelPath, Options("plain"));
        using var client = new DeepSeekChatClient(model);
        var response = await client.GetResponseAsync("Count to ten.", Greedy(8));
        Assert.Null(response.Usage!.AdditionalCounts);
    }
}
