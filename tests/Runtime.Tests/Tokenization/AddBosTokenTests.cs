using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Runtime.Tests.Tokenization;

/// <summary>
/// DeepSeek-V3's tokenizer.json has no BOS template; its tokenizer_config.json sets add_bos_token, which transformers'
/// LlamaTokenizerFast honours for tokenizer(text). Loaded from the model folder we do the same; from tokenizer.json alone
/// (the Rust library's view, which the reference vectors hold us to) we do not.
/// </summary>
public class AddBosTokenTests
{
    [Fact]
    public void Special_tokens_add_bos_when_the_config_asks_for_it()
    {
        var folder = BpeTokenizer.FromDirectory(RepoPaths.TestData("tokenizers", "deepseek-v3"));
        var bare = BpeTokenizer.Load(RepoPaths.TestData("tokenizers", "deepseek-v3", "tokenizer.json"));
        Assert.True(folder.AddBosToken);
        Assert.Equal(0, folder.BosTokenId);

        var plain = bare.Encode("hello world", addSpecialTokens: true);
        Assert.Equal([0, .. plain], folder.Encode("hello world", addSpecialTokens: true));
        Assert.Equal(plain, folder.Encode("hello world", addSpecialTokens: false));
        // Text that already starts with the BOS token text gets no second one.
        Assert.Equal(folder.Encode("<｜begin▁of▁sentence｜>hi"), folder.Encode("<｜begin▁of▁sentence｜>hi", addSpecialTokens: true));
        Assert.Equal([0], folder.Encode("", addSpecialTokens: true));
    }
}
