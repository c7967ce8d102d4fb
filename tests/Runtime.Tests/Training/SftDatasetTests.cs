using DeepSeek.Runtime.Tokenization;
using DeepSeek.Runtime.Training.Sft;

namespace DeepSeek.Runtime.Tests.Training;

public sealed class SftDatasetTests : IDisposable
{
    private static readonly BpeTokenizer Tokenizer = BpeTokenizer.FromDirectory(RepoPaths.TestData("tokenizers", "deepseek-v3"));
    private static readonly IChatFormat Chat = ChatFormats.FromTokenizerConfig(RepoPaths.TestData("tokenizers", "deepseek-v3"));
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private IReadOnlyList<Runtime.Training.TrainingSequence> Load(string jsonl, int length = 64)
    {
        File.WriteAllText(_dir.File("d.jsonl"), jsonl);
        return SftDataset.Load(_dir.File("d.jsonl"), length, Tokenizer, Chat, padToken: 1);
    }

    /// <summary>The tokens the loss counts (targets of counted positions).</summary>
    private static string Targets(Runtime.Training.TrainingSequence s) =>
        Tokenizer.Decode(Enumerable.Range(0, s.Tokens.Length - 1).Where(s.Counts).Select(t => s.Tokens[t + 1]).ToArray());

    [Fact]
    public void Chat_examples_learn_only_the_assistant_turns()
    {
        var s = Assert.Single(Load("""{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"},{"role":"user","content":"3+3?"},{"role":"assistant","content":"6"}]}""" + "\n", 96));
        Assert.Equal("4<｜end▁of▁sentence｜>6<｜end▁of▁sentence｜>", Targets(s));
        Assert.StartsWith("<｜begin▁of▁sentence｜>Be brief.<｜User｜>2+2?<｜Assistant｜>4", Tokenizer.Decode(s.Tokens));
    }

    [Fact]
    public void Prompt_completion_text_and_tokens_shapes()
    {
        var data = Load("""
            {"prompt":"Q: 1+1=","completion":" 2"}
            {"text":"hello world"}
            {"tokens":[0, 5, 6, 7]}
            """, 16);
        Assert.Equal(" 2", Targets(data[0]));
        Assert.Equal("hello world", Targets(data[1]));                      // every token after BOS
        Assert.Equal([0, 5, 6, 7, .. Enumerable.Repeat(1, 12)], data[2].Tokens);   // padded with the pad id …
        Assert.Equal(3, data[2].CountedPositions);                           // … which is never a target
    }

    [Fact]
    public void Long_examples_are_cut_and_bad_lines_name_their_line()
    {
        Assert.Equal(4, Load("""{"tokens":[0,1,2,3,4,5,6,7,8,9]}""", 4)[0].Tokens.Length);
        var e = Assert.Throws<TrainingDataException>(() => Load("{\"tokens\":[0,1]}\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"));
        Assert.Contains("d.jsonl:2", e.Message);
        Assert.Contains("assistant", e.Message);
        Assert.Throws<TrainingDataException>(() => Load("\n\n"));
    }
}
