using System.Runtime.InteropServices;

namespace Csrt.Linux.Interop;

/// <summary>Raw syscall numbers for calls glibc 2.36 has no wrapper for. The only place they live.</summary>
internal static class SyscallNumbers
{
    private static readonly bool Arm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    internal static nint pidfd_send_signal => 424;
    internal static nint open_tree => 428;
    internal static nint move_mount => 429;
    internal static nint fsopen => 430;
    internal static nint fsconfig => 431;
    internal static nint fsmount => 432;
    internal static nint pidfd_open => 434;
    internal static nint close_range => 436;
    internal static nint openat2 => 437;
    internal static nint mount_setattr => 442;
    internal static nint keyctl => Arm64 ? 219 : 250;
    internal static nint bpf => Arm64 ? 280 : 321;
}
