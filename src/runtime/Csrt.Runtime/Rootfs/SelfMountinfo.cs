using Csrt.Linux;

namespace Csrt.Runtime.Rootfs;

/// <summary>
/// /proc/self/mountinfo read once for an operation that looks at it twice before it changes any
/// mount of ours: `create` reads the host's cgroup layout, then the mount that holds the rootfs.
/// The kernel formats every mount of the namespace on each read, a cost that grows with the
/// number of containers on the node.
/// </summary>
internal static class SelfMountinfo
{
    private const string MountinfoPath = "/proc/self/mountinfo";

    // Per thread: the shim runs operations of several containers at once.
    [ThreadStatic] private static Shared? _shared;

    /// <summary>The text: the enclosing <see cref="Share"/> scope's read when there is one.</summary>
    public static ReadOnlyMemory<byte> Read()
    {
        if (_shared is not { } shared)
            return ReadNow();
        if (shared.Text is null)
            shared.Text = ReadNow();
        return shared.Text.Value;
    }

    /// <summary>Until the result is disposed, this thread's <see cref="Read"/>s return one read.</summary>
    public static IDisposable Share()
    {
        if (_shared is not null)
            return Shared.Nested;
        return _shared = new Shared();
    }

    private static ReadOnlyMemory<byte> ReadNow() => ReadAll(MountinfoPath);

    /// <summary>A whole file whose size stat does not tell (procfs).</summary>
    internal static ReadOnlyMemory<byte> ReadAll(string path)
    {
        using var fd = Files.Open(path, OpenFlags.O_RDONLY);
        // Most tables fit the stack buffer: one right-sized array, no growing copies.
        Span<byte> first = stackalloc byte[16384];
        var used = Fill(fd, first);
        if (used < first.Length)
            return first[..used].ToArray();
        var buffer = new byte[first.Length * 4];
        first.CopyTo(buffer);
        while (true)
        {
            var n = Fill(fd, buffer.AsSpan(used));
            used += n;
            if (used < buffer.Length)
                return buffer.AsMemory(0, used);
            Array.Resize(ref buffer, buffer.Length * 2);
        }
    }

    /// <summary>Reads until <paramref name="into"/> is full or the end of the file.</summary>
    private static int Fill(FileDescriptor fd, Span<byte> into)
    {
        var used = 0;
        while (used < into.Length)
        {
            var n = Files.Read(fd, into[used..]);
            if (n == 0)
                break;
            used += n;
        }
        return used;
    }

    private sealed class Shared : IDisposable
    {
        public static readonly IDisposable Nested = new NoOp();

        public ReadOnlyMemory<byte>? Text;

        public void Dispose() => _shared = null;

        private sealed class NoOp : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
