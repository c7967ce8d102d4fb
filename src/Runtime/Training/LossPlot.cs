using System.Globalization;
using System.Text;

namespace DeepSeek.Runtime.Training;

/// <summary>A loss curve as a small self-contained SVG (a polyline per series, axes with min/max labels).</summary>
public static class LossPlot
{
    /// <summary>Renders the series (name → values per step) to SVG text.</summary>
    public static string Render(IReadOnlyDictionary<string, IReadOnlyList<double>> series, string title)
    {
        ArgumentNullException.ThrowIfNull(series);
        const int width = 640, height = 360, left = 60, right = 20, top = 30, bottom = 40;
        var finite = series.Values.SelectMany(v => v).Where(double.IsFinite).ToList();
        double min = finite.Count > 0 ? finite.Min() : 0, max = finite.Count > 0 ? finite.Max() : 1;
        if (max - min < 1e-12) { max += 0.5; min -= 0.5; }
        var steps = Math.Max(2, series.Values.Select(v => v.Count).DefaultIfEmpty(0).Max());
        string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        double X(int i) => left + (double)i / (steps - 1) * (width - left - right);
        double Y(double v) => top + (max - v) / (max - min) * (height - top - bottom);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/><text x=\"{left}\" y=\"18\">{Escape(title)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"{top + 4}\">{F(max)}</text><text x=\"4\" y=\"{height - bottom}\">{F(min)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 12}\">step 1</text><text x=\"{width - right - 60}\" y=\"{height - 12}\">step {steps}</text>");
        string[] colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
        var c = 0;
        foreach (var (name, values) in series)
        {
            var color = colors[c % colors.Length];
            var points = string.Join(" ", values.Select((v, i) => (v, i)).Where(p => double.IsFinite(p.v)).Select(p => $"{F(X(p.i))},{F(Y(p.v))}"));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{points}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right - 150}\" y=\"{top + 14 * (c + 1)}\" fill=\"{color}\">{Escape(name)}</text>");
            c++;
        }
        return svg.Append("</svg>").ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
