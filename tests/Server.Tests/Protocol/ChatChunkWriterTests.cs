using System.Text;
using System.Text.Json;
using DeepSeek.Server.Protocol;
using Microsoft.Extensions.AI;

namespace DeepSeek.Server.Tests.Protocol;

public class ChatChunkWriterTests
{
    [Fact]
    public void Usage_from_several_updates_is_summed_without_touching_the_models_objects()
    {
        var first = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 1 };
        var writer = new ChatChunkWriter("chatcmpl-x", 1, "m");

        Assert.Null(writer.Delta(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(first)])));
        Assert.Null(writer.Delta(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { OutputTokenCount = 2 })])));
        var usage = JsonDocument.Parse(writer.UsageChunk()).RootElement.GetProperty("usage");

        Assert.Equal(10, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(13, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(1, first.OutputTokenCount);
    }

    [Fact]
    public void Finish_reason_defaults_to_tool_calls_after_a_call_and_to_stop_otherwise()
    {
        var plain = new ChatChunkWriter("id", 1, "m");
        Assert.NotNull(plain.Delta(new ChatResponseUpdate(ChatRole.Assistant, "hi")));
        Assert.Equal("stop", Finish(plain.FinishChunk()));

        var tools = new ChatChunkWriter("id", 1, "m");
        var delta = tools.Delta(new ChatResponseUpdate(ChatRole.Assistant, [new FunctionCallContent("c1", "f", null)]));
        var call = JsonDocument.Parse(delta!).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.Equal(0, call.GetProperty("index").GetInt32());
        Assert.Equal("{}", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool_calls", Finish(tools.FinishChunk()));

        var cut = new ChatChunkWriter("id", 1, "m");
        Assert.NotNull(cut.Delta(new ChatResponseUpdate(ChatRole.Assistant, "x") { FinishReason = ChatFinishReason.Length }));
        Assert.Equal("length", Finish(cut.FinishChunk()));
    }

    private static string? Finish(byte[] chunk) =>
        JsonDocument.Parse(Encoding.UTF8.GetString(chunk)).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString();
}
