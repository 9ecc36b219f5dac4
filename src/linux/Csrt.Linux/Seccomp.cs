using System.Runtime.InteropServices;

namespace Csrt.Linux;

/// <summary>libseccomp comparison operators (SCMP_CMP_*).</summary>
public enum SeccompCompare
{
    NotEqual = 1,
    LessThan = 2,
    LessOrEqual = 3,
    Equal = 4,
    GreaterOrEqual = 5,
    GreaterThan = 6,
    MaskedEqual = 7,
}

/// <summary>
/// A seccomp filter built with libseccomp (Debian's libseccomp2) and exported as a classic BPF
/// program, which csrt_exec_final loads with seccomp(2) on the thread that execs. Building the
/// program in the runtime (not in the container) keeps libseccomp out of the container init.
/// </summary>
public sealed unsafe partial class SeccompFilter : IDisposable
{
    private const string Lib = "libseccomp.so.2";

    /// <summary>SCMP_ACT_* values.</summary>
    public const uint ActKillThread = 0x00000000, ActKillProcess = 0x80000000, ActTrap = 0x00030000,
        ActAllow = 0x7fff0000, ActLog = 0x7ffc0000, ActNotify = 0x7fc00000;

    public static uint ActErrno(uint errno) => 0x00050000 | (errno & 0xffff);

    public static uint ActTrace(uint msg) => 0x7ff00000 | (msg & 0xffff);

    [StructLayout(LayoutKind.Sequential)]
    public struct ArgCompare
    {
        public uint Arg;
        public SeccompCompare Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    private nint _ctx;

    /// <summary>A filter whose default action is <paramref name="defaultAction"/>.</summary>
    public SeccompFilter(uint defaultAction)
    {
        _ctx = seccomp_init(defaultAction);
        if (_ctx == 0)
            throw new SyscallException("seccomp_init", Errno.EINVAL, null, $"default action 0x{defaultAction:x}");
        // The runtime applies no_new_privs itself (or not) as the spec says; libseccomp must not.
        Check(seccomp_attr_set(_ctx, 3 /* SCMP_FLTATR_CTL_NNP */, 0), "seccomp_attr_set(CTL_NNP)", null);
    }

    /// <summary>Adds an architecture by libseccomp name ("x86_64", "x86", "x32", "aarch64" …).
    /// Returns false when libseccomp does not know it.</summary>
    public bool AddArchitecture(string name)
    {
        uint arch;
        fixed (byte* p = Sys.Z(name))
            arch = seccomp_arch_resolve_name(p);
        if (arch == 0)
            return false;
        var r = seccomp_arch_add(_ctx, arch);
        if (r == -(int)Errno.EEXIST)
            return true;
        Check(r, "seccomp_arch_add", name);
        return true;
    }

    /// <summary>The syscall number for the native architecture, or null when libseccomp does not know the name.</summary>
    public static int? ResolveSyscall(string name)
    {
        int nr;
        fixed (byte* p = Sys.Z(name))
            nr = seccomp_syscall_resolve_name(p);
        return nr == -1 /* __NR_SCMP_ERROR */ ? null : nr;
    }

    /// <summary>Adds a rule; libseccomp translates the syscall for every added architecture.</summary>
    public void AddRule(uint action, int syscall, ReadOnlySpan<ArgCompare> args, string name)
    {
        fixed (ArgCompare* a = args)
            Check(seccomp_rule_add_array(_ctx, action, syscall, (uint)args.Length, a), "seccomp_rule_add", name);
    }

    /// <summary>The classic BPF program (struct sock_filter[]).</summary>
    public byte[] ExportBpf()
    {
        using var memfd = Files.CreateMemoryFile("seccomp-bpf", allowSealing: false);
        Check(seccomp_export_bpf(_ctx, memfd.Number), "seccomp_export_bpf", null);
        var size = Files.Stat(memfd).Size;
        var program = new byte[size];
        fixed (byte* p = program)
        {
            var n = (long)Tmds.Linux.LibC.pread(memfd.Number, p, (Tmds.Linux.size_t)(ulong)size, 0);
            if (n != size)
                throw new SyscallException("pread", Sys.LastErrno, "seccomp program");
        }
        return program;
    }

    private static void Check(int r, string call, string? what)
    {
        if (r < 0)
            throw new SyscallException(call, (Errno)(-r), what);
    }

    public void Dispose()
    {
        if (_ctx != 0)
            seccomp_release(_ctx);
        _ctx = 0;
    }

    [LibraryImport(Lib)]
    private static partial nint seccomp_init(uint defAction);

    [LibraryImport(Lib)]
    private static partial void seccomp_release(nint ctx);

    [LibraryImport(Lib)]
    private static partial int seccomp_attr_set(nint ctx, int attr, uint value);

    [LibraryImport(Lib)]
    private static partial uint seccomp_arch_resolve_name(byte* name);

    [LibraryImport(Lib)]
    private static partial int seccomp_arch_add(nint ctx, uint arch);

    [LibraryImport(Lib)]
    private static partial int seccomp_syscall_resolve_name(byte* name);

    [LibraryImport(Lib)]
    private static partial int seccomp_rule_add_array(nint ctx, uint action, int syscall, uint argCount, ArgCompare* args);

    [LibraryImport(Lib)]
    private static partial int seccomp_export_bpf(nint ctx, int fd);
}
