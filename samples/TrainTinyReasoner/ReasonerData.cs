using DeepSeek.Runtime.Evaluation;
using DeepSeek.Runtime.Training;

namespace TrainTinyReasoner;

/// <summary>Turns arithmetic problems into training sequences and GRPO prompts, through the model's own chat template.</summary>
internal sealed class ReasonerData(ArithmeticEvaluator evaluator, DeepSeek.Runtime.Tokenization.BpeTokenizer tokenizer, int eosTokenId)
{
    /// <summary>Prompt (a random phrasing) and completion (reasoning, answer, end of sentence) tokens of one problem.</summary>
    public (int[] Prompt, int[] Completion) Example(ArithmeticProblem problem, int phrasing) =>
        (evaluator.Prompt(problem.Phrase(phrasing)), [.. tokenizer.Encode(problem.Completion), eosTokenId]);

    /// <summary>
    /// Packs whole examples into sequences of exactly <paramref name="length"/> tokens (padding with end-of-sentence),
    /// the loss on completion tokens only. An example never straddles two sequences, so every counted token sees its question.
    /// </summary>
    public List<TrainingSequence> Pack(IEnumerable<ArithmeticProblem> problems, int length, Random rng)
    {
        var sequences = new List<TrainingSequence>();
        var tokens = new List<int>(length);
        var mask = new List<bool>(length);
        void Flush()
        {
            if (tokens.Count == 0) return;
            while (tokens.Count < length)
            {
                tokens.Add(eosTokenId);
                mask.Add(false);
            }
            sequences.Add(new TrainingSequence([.. tokens], [.. mask]));
            tokens.Clear();
            mask.Clear();
        }
        foreach (var p in problems)
        {
            var (prompt, completion) = Example(p, rng.Next(ArithmeticProblem.Phrasings));
            var n = prompt.Length + completion.Length;
            if (n > length) throw new InvalidOperationException($"'{p.Question}' needs {n} tokens; sequences hold {length}");
            if (tokens.Count + n > length) Flush();
            // mask[t] counts the prediction of token t+1: the last prompt token predicts the first completion token.
            for (var i = 0; i < prompt.Length; i++)
            {
                tokens.Add(prompt[i]);
                mask.Add(i == prompt.Length - 1);
            }
            for (var i = 0; i < completion.Length; i++)
            {
                tokens.Add(completion[i]);
                mask.Add(i < completion.Length - 1);
            }
        }
        Flush();
        return sequences;
    }
}
