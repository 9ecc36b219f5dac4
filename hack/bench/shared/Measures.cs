using System.Globalization;

namespace Csrt.Bench;

/// <summary>What the benchmarks compute alike: percentiles of samples, and the "Key: value kB"
/// files of /proc (status, smaps_rollup).</summary>
internal static class Measures
{
    /// <summary>Linear interpolation between the closest ranks (p99 of 100 samples lies between the
    /// 99th and the 100th); NaN samples are left out, NaN when none is left.</summary>
    public static double Percentile(IEnumerable<double> values, double p)
    {
        var s = values.Where(v => !double.IsNaN(v)).Order().ToList();
        if (s.Count == 0)
            return double.NaN;
        var rank = p * (s.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return s[lo] + (s[hi] - s[lo]) * (rank - lo);
    }

    /// <summary>The "Key: value" lines of a /proc file; empty when the process ended meanwhile
    /// (it then holds no memory).</summary>
    public static Dictionary<string, string> KeyValues(string path)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadAllLines(path))
            {
                var colon = line.IndexOf(':');
                if (colon > 0)
                    d[line[..colon]] = line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        return d;
    }

    /// <summary>The number in front of a value ("1234 kB" → 1234); <paramref name="missing"/> when
    /// the key is not there.</summary>
    public static double Kb(Dictionary<string, string> d, string key, double missing = 0) =>
        d.TryGetValue(key, out var v) ? double.Parse(v.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture) : missing;
}
