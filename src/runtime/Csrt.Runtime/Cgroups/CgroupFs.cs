using System.Globalization;
using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>Reading and writing cgroup files. Each value is one write(2) (cgroup files take a
/// value per write); errors name the file and the value.</summary>
internal static class CgroupFs
{
    internal static string PathOf(string dir, string file) => dir + "/" + file;

    public static bool Exists(string dir, string file) => Files.Exists(PathOf(dir, file));

    /// <summary>Writes a value; a missing file becomes a CgroupException saying so (the usual cause is a
    /// controller that is not mounted or not enabled).</summary>
    public static void Write(string dir, string file, string value)
    {
        var path = PathOf(dir, file);
        try
        {
            Files.WriteText(path, value);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT && e.Call == "open")
        {
            throw CgroupException.Unsupported($"cannot write \"{value}\" to {path}: the file does not exist (controller not available in this cgroup)");
        }
        catch (SyscallException e)
        {
            throw CgroupException.Failed($"writing \"{value}\" to {path}: {e.Errno} ({SyscallException.Describe(e.Errno)})", e);
        }
    }

    /// <summary>Writes a value; returns the errno instead of throwing for the ones the caller handles.</summary>
    public static Errno TryWrite(string dir, string file, string value, params Errno[] handled)
    {
        try
        {
            Files.WriteText(PathOf(dir, file), value);
            return Errno.None;
        }
        catch (SyscallException e) when (Array.IndexOf(handled, e.Errno) >= 0)
        {
            return e.Errno;
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT && e.Call == "open")
        {
            throw CgroupException.Unsupported($"cannot write \"{value}\" to {PathOf(dir, file)}: the file does not exist (controller not available in this cgroup)");
        }
        catch (SyscallException e)
        {
            throw CgroupException.Failed($"writing \"{value}\" to {PathOf(dir, file)}: {e.Errno} ({SyscallException.Describe(e.Errno)})", e);
        }
    }

    public static void Write(string dir, string file, long value) => Write(dir, file, value.ToString(CultureInfo.InvariantCulture));

    public static void Write(string dir, string file, ulong value) => Write(dir, file, value.ToString(CultureInfo.InvariantCulture));

    public static string Read(string dir, string file)
    {
        var path = PathOf(dir, file);
        try
        {
            return Files.ReadText(path);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            throw CgroupException.Unsupported($"cannot read {path}: the file does not exist (controller not available in this cgroup)");
        }
    }

    public static string? TryRead(string dir, string file)
    {
        try
        {
            return Files.TryReadText(PathOf(dir, file));
        }
        catch (SyscallException e) when (e.Errno is Errno.ENODEV or Errno.EOPNOTSUPP or Errno.ENOTDIR)
        {
            // Some files exist but cannot be read on every kernel (e.g. kmem accounting off).
            return null;
        }
    }

    /// <summary>A single-value file as an unsigned number; "max" reads as <see cref="ulong.MaxValue"/>.</summary>
    public static ulong ReadUInt64(string dir, string file) => ParseUInt64(Read(dir, file), PathOf(dir, file));

    public static ulong? TryReadUInt64(string dir, string file)
    {
        var text = TryRead(dir, file);
        return text is null ? null : ParseUInt64(text, PathOf(dir, file));
    }

    /// <summary>Parses a cgroup number: "max" is unlimited (<see cref="ulong.MaxValue"/>), a negative
    /// value (v1 reports -1 for "no limit" in a few files) reads as 0, as runc does.</summary>
    public static ulong ParseUInt64(ReadOnlySpan<char> text, string what)
    {
        var s = text.Trim();
        if (s.SequenceEqual("max"))
            return ulong.MaxValue;
        if (ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            return v;
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var neg) && neg < 0)
            return 0;
        throw CgroupException.Failed($"{what}: cannot parse \"{s.ToString()}\" as a number");
    }

    /// <summary>"key value" lines (memory.stat, cpu.stat, memory.events) into a map.</summary>
    public static void ParseFlatKeyed(string text, Dictionary<string, ulong> into, string what)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.IsEmpty)
                continue;
            var sp = line.IndexOf(' ');
            if (sp <= 0)
                throw CgroupException.Failed($"{what}: malformed line \"{line.ToString()}\"; expected \"key value\"");
            into[line[..sp].ToString()] = ParseUInt64(line[(sp + 1)..], what);
        }
    }

    /// <summary>Looks up one key of a "key value" file without building a map.</summary>
    public static bool TryGetKeyed(string text, string key, out ulong value)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.Length > key.Length && line.StartsWith(key, StringComparison.Ordinal) && line[key.Length] == ' ')
            {
                value = ParseUInt64(line[(key.Length + 1)..], key);
                return true;
            }
        }
        value = 0;
        return false;
    }

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Format(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Pids from cgroup.procs text.</summary>
    public static void ParsePids(string text, List<int> into)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (!line.IsEmpty && int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                into.Add(pid);
        }
    }

    /// <summary>Writes a pid to cgroup.procs. EINVAL can mean the task is still being created
    /// (TASK_NEW); runc retries, and so do we.</summary>
    public static void WriteProcs(string dir, int pid)
    {
        var value = pid.ToString(CultureInfo.InvariantCulture);
        for (var attempt = 0; ; attempt++)
        {
            var errno = TryWrite(dir, "cgroup.procs", value, Errno.EINVAL);
            if (errno == Errno.None)
                return;
            if (attempt == 4)
                throw CgroupException.Failed($"writing \"{value}\" to {PathOf(dir, "cgroup.procs")}: EINVAL (Invalid argument)");
            Thread.Sleep(30);
        }
    }
}
