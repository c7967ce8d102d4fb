using System.Globalization;
using System.Text;
using DeepSeek.Runtime.Distributed.Pipeline;

namespace DeepSeek.Cli.Commands;

/// <summary>
/// Lays simulated timelines out as fixed-width text: one time unit is as wide as the label of a one-unit forward
/// (<c>F</c> + the widest micro-batch number), so ops line up across ranks; each op prints its label at its start and pads
/// to its end, idle time prints as dots. Labels start with a letter, so ops that touch stay readable (<c>F10F8</c>).
/// </summary>
internal sealed class PipelineTimelineGrid
{
    private PipelineTimelineGrid(string axis, string[] rows, List<(string Text, PipelineOp? Op)>[] cells)
    {
        Axis = axis;
        Rows = rows;
        Cells = cells;
    }

    /// <summary>Time ticks every 10 units.</summary>
    public string Axis { get; }

    /// <summary>One plain row per rank.</summary>
    public IReadOnlyList<string> Rows { get; }

    /// <summary>The same rows as (text, op) runs, null op for idle, for colouring.</summary>
    public IReadOnlyList<List<(string Text, PipelineOp? Op)>> Cells { get; }

    public static PipelineTimelineGrid Build(PipelineTimeline t)
    {
        var width = 1 + (t.Schedule.MicroBatches - 1).ToString(CultureInfo.InvariantCulture).Length;
        int Column(double time) => (int)Math.Round(time * width, MidpointRounding.AwayFromZero);
        var total = Column(t.Makespan);
        var rows = new string[t.Ranks.Count];
        var cells = new List<(string, PipelineOp?)>[t.Ranks.Count];
        for (var r = 0; r < t.Ranks.Count; r++)
        {
            var row = new StringBuilder();
            cells[r] = [];
            foreach (var op in t.Ranks[r].Ops)
            {
                int start = Column(op.Start), end = Column(op.End);
                if (start > row.Length) Add(new string('.', start - row.Length), null);
                if (end <= row.Length) continue;   // a zero-length op (cost 0) takes no room
                var label = op.Op.ToString();
                var span = end - row.Length;
                Add(label.Length >= span ? label[..span] : label.PadRight(span), op.Op);
            }
            if (row.Length < total) Add(new string('.', total - row.Length), null);
            rows[r] = row.ToString();

            void Add(string text, PipelineOp? op)
            {
                row.Append(text);
                cells[r].Add((text, op));
            }
        }
        var axis = new StringBuilder();
        for (var tick = 0; Column(tick) < Math.Max(total, 1); tick += 10)
        {
            var text = tick.ToString(CultureInfo.InvariantCulture);
            axis.Append(' ', Math.Max(0, Column(tick) - axis.Length)).Append(text);
        }
        return new PipelineTimelineGrid(axis.ToString(), rows, cells);
    }
}
