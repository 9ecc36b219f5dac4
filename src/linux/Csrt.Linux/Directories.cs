namespace Csrt.Linux;

/// <summary>Directory listings that keep the entry type getdents64 reports (d_type), so walking a
/// tree such as a cgroup hierarchy needs no stat(2) per entry.</summary>
public static unsafe class Directories
{
    private const byte DT_UNKNOWN = 0, DT_DIR = 4;

    /// <summary>Names of the subdirectories of <paramref name="path"/> (no "." and ".."); an entry
    /// whose type the filesystem does not report is checked with stat.</summary>
    public static List<string> ListSubdirectories(string path)
    {
        using var dir = Files.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        var names = new List<string>();
        foreach (var (name, type) in ReadEntries(dir, path, directoriesOnly: true))
        {
            if (type == DT_DIR || Files.IsDirectory(path + "/" + name))
                names.Add(name);
        }
        return names;
    }

    /// <summary>The entries of <paramref name="dir"/> (no "." and "..") with their d_type, read to
    /// the end; with <paramref name="directoriesOnly"/>, only those that are or may be directories
    /// (DT_DIR, DT_UNKNOWN). A read interrupted by a signal is retried.</summary>
    internal static List<(string Name, byte Type)> ReadEntries(FileDescriptor dir, string what, bool directoriesOnly)
    {
        var entries = new List<(string, byte)>();
        var buf = stackalloc byte[8192];
        while (true)
        {
            var n = Interop.Libc.getdents64(dir.Number, buf, 8192);
            if (Sys.Interrupted(n))
                continue;
            Sys.Check(n, "getdents64", what);
            if (n == 0)
                break;
            for (var off = 0; off < n;)
            {
                var reclen = *(ushort*)(buf + off + 16);
                var type = buf[off + 18];
                if (!directoriesOnly || type == DT_DIR || type == DT_UNKNOWN)
                {
                    var name = Sys.FromZ(buf + off + 19);
                    if (name != "." && name != "..")
                        entries.Add((name, type));
                }
                off += reclen;
            }
        }
        return entries;
    }
}
