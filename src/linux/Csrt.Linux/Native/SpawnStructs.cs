using System.Runtime.InteropServices;

namespace Csrt.Linux.Native;

// Twins of the structs in src/linux/native/csrt_spawn.h; NativeLayoutTests checks sizes and
// offsets against that header with gcc.

[StructLayout(LayoutKind.Sequential)]
internal struct csrt_child_error
{
    public int stage;
    public int err;
}

[StructLayout(LayoutKind.Sequential)]
internal struct csrt_fd_map
{
    public int src;
    public int dst;
}

[StructLayout(LayoutKind.Sequential)]
internal struct csrt_range
{
    public ulong start;
    public ulong length;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct csrt_exec_plan
{
    public byte* path;
    public byte** argv;
    public byte** envp;
    public byte* cwd;
    public uint* groups;
    public ulong cap_bounding;
    public ulong cap_effective;
    public ulong cap_permitted;
    public ulong cap_inheritable;
    public ulong cap_ambient;
    public void* seccomp_filter;
    public uint seccomp_len;
    public uint seccomp_flags;
    public uint uid;
    public uint gid;
    public int ngroups;
    public int set_ids;
    public int set_caps;
    public int no_new_privs;
    public int umask;
    public int personality;
    public int last_cap;
    public int err_fd;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct csrt_spawn_request
{
    public ulong clone_flags;
    public ulong unshare_flags;
    public int* join_fds;
    public int* join_types;
    public csrt_fd_map* fds;
    public byte* exec_path;
    public byte** argv;
    public byte** envp;
    public csrt_exec_plan* plan;
    public int join_count;
    public int fd_count;
    public int sync_fd;
    public int sync_peer_fd;
    public int second_clone;
    public int pid_fd;
    public int err_fd;
    public int exec_fd;
    public int setsid;
    public int ctty_fd;
    public int cgroup_fd;
    public int parent_death_signal;
    public int become_root;
    public int cgroup_task_count;
    public int* cgroup_task_fds;
    public int nondumpable_exec;
    public int dumpable_at_sync;
}

internal static unsafe partial class NativeMethods
{
    private const string Lib = "csrt_native";

    [LibraryImport(Lib)]
    internal static partial int csrt_spawn(csrt_spawn_request* req);

    [LibraryImport(Lib)]
    internal static partial int csrt_exec_final(csrt_exec_plan* plan, int* stage);

    [LibraryImport(Lib)]
    internal static partial long csrt_release(csrt_range* ranges, int count);
}

/// <summary>A bump allocator over native memory for what the C child reads; freed at once.</summary>
internal sealed unsafe class NativeArena : IDisposable
{
    private readonly List<nint> _blocks = new();

    public T* Alloc<T>(int count = 1) where T : unmanaged
    {
        var p = NativeMemory.AllocZeroed((nuint)(sizeof(T) * Math.Max(count, 1)));
        _blocks.Add((nint)p);
        return (T*)p;
    }

    public byte* String(string? s)
    {
        if (s is null)
            return null;
        var n = System.Text.Encoding.UTF8.GetByteCount(s);
        var p = Alloc<byte>(n + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        return p;
    }

    /// <summary>A NULL-terminated char* array, as execve wants.</summary>
    public byte** Strings(IReadOnlyList<string> items)
    {
        var array = Alloc<nint>(items.Count + 1);
        for (var i = 0; i < items.Count; i++)
            array[i] = (nint)String(items[i]);
        return (byte**)array;
    }

    public void Dispose()
    {
        foreach (var p in _blocks)
            NativeMemory.Free((void*)p);
        _blocks.Clear();
    }
}
