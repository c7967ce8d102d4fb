using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSeek.Runtime.Tokenization;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// <c>deepseek tokenize --model DIR --text TEXT [--json] [--bos]</c> prints the ids of TEXT encoded exactly as given
/// (special-token text is recognised; BOS only with <c>--bos</c>); <c>--decode 1,2,3</c> prints the text of ids.
/// Plain output is the ids comma-separated on one line; <c>--json</c> prints <c>{"ids":[…],"tokens":[…]}</c>.
/// Exit code 1 with one <c>error:</c> line for a bad tokenizer, bad ids or a missing folder.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Checkpoint folder holding tokenizer.json (and tokenizer_config.json).", Required = true };
        var text = new Option<string?>("--text", "-t") { Description = "Text to encode, exactly as given." };
        var decode = new Option<string?>("--decode", "-d") { Description = "Comma-separated ids to decode to text." };
        var json = new Option<bool>("--json") { Description = "Print {\"ids\":[…],\"tokens\":[…]} (or {\"text\":…} with --decode)." };
        var bos = new Option<bool>("--bos") { Description = "Prepend the BOS token named by tokenizer_config.json." };
        var verbose = CliOptions.Verbose();
        var command = new Command("tokenize", "Encode text to token ids, or decode ids to text, with a checkpoint's tokenizer.") { model, text, decode, json, bos, verbose };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            return CliErrors.Guard(error, parse.GetValue(verbose), () =>
            {
                var input = parse.GetValue(text);
                var ids = parse.GetValue(decode);
                if ((input is null) == (ids is null))
                {
                    error.WriteLine("error: give exactly one of --text or --decode");
                    return 1;
                }
                var tokenizer = BpeTokenizer.FromDirectory(parse.GetRequiredValue(model).FullName);
                if (ids is not null) return Decode(tokenizer, ids, parse.GetValue(json), output, error);
                var encoded = new List<int>();
                if (parse.GetValue(bos))
                {
                    if (tokenizer.BosTokenId is not { } bosId)
                    {
                        error.WriteLine("error: --bos given but tokenizer_config.json names no bos_token");
                        return 1;
                    }
                    encoded.Add(bosId);
                }
                encoded.AddRange(tokenizer.Encode(input!));
                if (parse.GetValue(json))
                {
                    var doc = new Dictionary<string, object>
                    {
                        ["ids"] = encoded,
                        ["tokens"] = encoded.Select(id => tokenizer.IdToToken(id)).ToList(),
                    };
                    output.WriteLine(JsonSerializer.Serialize(doc));
                }
                else output.WriteLine(string.Join(",", encoded.Select(i => i.ToString(CultureInfo.InvariantCulture))));
                return 0;
            });
        });
        return command;
    }

    private static int Decode(BpeTokenizer tokenizer, string list, bool json, TextWriter output, TextWriter error)
    {
        var ids = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id))
            {
                error.WriteLine($"error: '{part}' in --decode is not a token id (expected comma-separated integers)");
                return 1;
            }
            ids.Add(id);
        }
        string text;
        try
        {
            text = tokenizer.Decode(ids);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The exception's own message spans two lines; the CLI promises one.
            error.WriteLine($"error: token id {e.ActualValue} is not in the vocabulary of this tokenizer (ids 0..{tokenizer.VocabSize - 1})");
            return 1;
        }
        if (json) output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["ids"] = ids, ["text"] = text }));
        else output.WriteLine(text);
        return 0;
    }
}
