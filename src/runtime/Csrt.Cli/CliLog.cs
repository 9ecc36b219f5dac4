using System.Text;
using System.Text.Json;

namespace Csrt.Cli;

/// <summary>
/// Where `csrt` reports: errors always on stderr; with `--log` also in that file, as text or as
/// runc's JSON lines ({"level":"error","msg":…,"time":…}), which containerd's runc shim reads back
/// to show why a command failed.
/// </summary>
internal sealed class CliLog
{
    private readonly string? _path;
    private readonly bool _json;
    private readonly bool _debug;

    public CliLog(string? path, string format, bool debug)
    {
        _path = string.IsNullOrEmpty(path) ? null : path;
        _json = format == "json";
        _debug = debug;
        if (format is not ("text" or "json"))
            throw new ArgumentException($"--log-format: expected \"text\" or \"json\", got \"{format}\"");
    }

    /// <summary>--debug, and a log to write debug messages to.</summary>
    public bool DebugEnabled => _debug && _path is not null;

    public void Error(string message)
    {
        Write("error", message);
        StandardStreams.Error(Encoding.UTF8.GetBytes("csrt: " + message + "\n"));
    }

    public void Warning(string message)
    {
        if (_path is null)
            StandardStreams.Error(Encoding.UTF8.GetBytes("csrt: warning: " + message + "\n"));
        else
            Write("warning", message);
    }

    public void Debug(string message)
    {
        if (_debug)
            Write("debug", message);
    }

    private void Write(string level, string message)
    {
        if (_path is null)
            return;
        var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        string line;
        if (_json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("level", level);
                w.WriteString("msg", message);
                w.WriteString("time", time);
                w.WriteEndObject();
            }
            line = Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
        }
        else
        {
            line = $"time=\"{time}\" level={level} msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\"\n";
        }
        try
        {
            File.AppendAllText(_path, line);
        }
        catch (IOException)
        {
            // A log we cannot write must not hide the error itself (which also went to stderr).
        }
    }
}
