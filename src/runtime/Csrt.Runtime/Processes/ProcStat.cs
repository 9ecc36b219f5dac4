using System.Globalization;
using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>The fields of /proc/&lt;pid&gt;/stat the runtime needs: state and start time.</summary>
public readonly record struct ProcStat(char State, ulong StartTime)
{
    /// <summary>Reads /proc/&lt;pid&gt;/stat; null when the process does not exist.</summary>
    public static ProcStat? Read(int pid)
    {
        if (pid <= 0)
            return null;
        string? text;
        try
        {
            text = Files.TryReadText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
            // Reaped between the open and the read: the kernel answers the read with ESRCH.
            return null;
        }
        return text is null ? null : Parse(text);
    }

    /// <summary>Parses a stat line; the command name (field 2) may contain spaces and parentheses,
    /// so fields are counted from the last ')'.</summary>
    public static ProcStat? Parse(string text)
    {
        var close = text.LastIndexOf(')');
        if (close < 0)
            return null;
        var fields = text[(close + 2)..].Split(' ');
        // After ")": field 3 (state) is index 0, field 22 (starttime) is index 19.
        if (fields.Length < 20 || fields[0].Length != 1)
            return null;
        return ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? new ProcStat(fields[0][0], start)
            : null;
    }

    /// <summary>True while the process with that pid is the one that started at <paramref name="startTime"/> and is not a zombie.</summary>
    public static bool IsAlive(int pid, ulong startTime) =>
        Read(pid) is { } s && s.StartTime == startTime && s.State is not ('Z' or 'X' or 'x');
}
