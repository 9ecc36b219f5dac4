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

    private static ReadOnlyMemory<byte> ReadNow()
    {
        using var fd = Files.Open(MountinfoPath, OpenFlags.O_RDONLY);
        return Files.ReadToEnd(fd);
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
