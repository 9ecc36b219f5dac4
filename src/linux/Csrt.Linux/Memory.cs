using System.Globalization;
using Csrt.Linux.Native;

namespace Csrt.Linux;

/// <summary>This process's own memory mappings.</summary>
public static unsafe class Memory
{
    /// <summary>
    /// Drops this process's page-table view of its read-only file mappings (code, read-only data)
    /// that hold no page of their own, i.e. no page copied on write (smaps <c>Anonymous: 0 kB</c>:
    /// code the runtime patched, or the RELRO part of a data segment, is left alone), reading the
    /// host's /proc/self/smaps now, for a process that goes idle (the shim between requests): what
    /// the caller runs next faults back in from the page cache. Only pages inside non-writable ELF
    /// segments are ever dropped, whatever the smaps text says (csrt_release.c). Advice only:
    /// failures are ignored. Returns the bytes released.
    /// </summary>
    public static long ReleaseReadOnlyFileMappings() => Release(Files.TryReadText("/proc/self/smaps") ?? "");

    /// <summary>Drops the mappings an smaps text describes as <see cref="ReadOnlyFileMappings"/>.</summary>
    internal static long Release(string smaps)
    {
        var ranges = ReadOnlyFileMappings(smaps);
        fixed (csrt_range* r = ranges.ToArray())
            return NativeMethods.csrt_release(r, ranges.Count);
    }

    /// <summary>The mappings of an smaps text that <see cref="Release"/> drops: private, not writable, file-backed, resident, with no anonymous page.</summary>
    internal static List<csrt_range> ReadOnlyFileMappings(string smaps)
    {
        var ranges = new List<csrt_range>();
        Mapping? current = null;
        foreach (var line in smaps.AsSpan().EnumerateLines())
        {
            if (Mapping.TryParseHeader(line, out var header))
            {
                Add(current);
                current = header;
            }
            else if (current is { } m)
            {
                if (line.StartsWith("Rss:"))
                    current = m with { RssKb = ParseKb(line) };
                else if (line.StartsWith("Anonymous:"))
                    current = m with { AnonymousKb = ParseKb(line) };
            }
        }
        Add(current);
        return ranges;

        void Add(Mapping? mapping)
        {
            if (mapping is { ReadOnlyFile: true, RssKb: > 0, AnonymousKb: 0 } m)
                ranges.Add(new csrt_range { start = m.Start, length = m.End - m.Start });
        }
    }

    private static long ParseKb(ReadOnlySpan<char> line)
    {
        var value = line[(line.IndexOf(':') + 1)..].Trim();
        var space = value.IndexOf(' ');
        return long.Parse(space < 0 ? value : value[..space], NumberStyles.None, CultureInfo.InvariantCulture);
    }

    private readonly record struct Mapping(ulong Start, ulong End, bool ReadOnlyFile, string Path, long? RssKb = null, long? AnonymousKb = null)
    {
        /// <summary>"start-end perms offset dev inode [path]"; field lines ("Rss:  4 kB") do not parse.</summary>
        public static bool TryParseHeader(ReadOnlySpan<char> line, out Mapping mapping)
        {
            mapping = default;
            var dash = line.IndexOf('-');
            var space = line.IndexOf(' ');
            if (dash <= 0 || space <= dash
                || !ulong.TryParse(line[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
                || !ulong.TryParse(line[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end))
                return false;
            var rest = line[(space + 1)..];
            if (rest.Length < 4)
                return false;
            var perms = rest[..4];
            var pathAt = rest.IndexOf('/');
            var path = pathAt < 0 ? "" : rest[pathAt..].ToString();
            mapping = new Mapping(start, end, perms[1] != 'w' && perms[3] == 'p' && path.Length > 0, path);
            return true;
        }
    }
}
