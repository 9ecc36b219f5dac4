using System.Runtime.InteropServices;
using System.Text;

namespace Csrt.Linux;

/// <summary>One eBPF instruction, laid out as the kernel's <c>struct bpf_insn</c> (8 bytes):
/// opcode, dst_reg (low nibble) / src_reg (high nibble), 16-bit offset, 32-bit immediate.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BpfInstruction(byte Code, byte Registers, short Offset, int Immediate)
{
    public static BpfInstruction Make(byte code, byte dst, byte src, short offset, int immediate) =>
        new(code, (byte)((dst & 0xf) | ((src & 0xf) << 4)), offset, immediate);

    public byte Dst => (byte)(Registers & 0xf);

    public byte Src => (byte)(Registers >> 4);
}

/// <summary>bpf(2) for cgroup device programs: load, attach, query, detach.</summary>
/// <remarks>Raw syscall: glibc has no wrapper. <c>union bpf_attr</c> is filled field by field in a
/// zeroed buffer (offsets from include/uapi/linux/bpf.h); the kernel accepts a shorter or longer
/// attr as long as the bytes it does not know are zero.</remarks>
public static unsafe class Bpf
{
    // Commands.
    private const int BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_DETACH = 9,
        BPF_PROG_GET_FD_BY_ID = 13, BPF_PROG_QUERY = 16;

    public const uint BPF_PROG_TYPE_CGROUP_DEVICE = 15;
    public const uint BPF_CGROUP_DEVICE = 6;

    // Attach flags.
    public const uint BPF_F_ALLOW_OVERRIDE = 1, BPF_F_ALLOW_MULTI = 2, BPF_F_REPLACE = 4;

    private const int AttrSize = 128;

    private static long Call(int command, byte* attr)
    {
        long r;
        do
        {
            r = Interop.Libc.syscall(Interop.SyscallNumbers.bpf, command, (nint)attr, AttrSize, 0, 0);
        } while (Sys.Interrupted(r));
        return r;
    }

    /// <summary>Loads a BPF_PROG_TYPE_CGROUP_DEVICE program. When the verifier refuses it, the
    /// exception carries the verifier's log.</summary>
    public static FileDescriptor LoadCgroupDeviceProgram(ReadOnlySpan<BpfInstruction> program, string license)
    {
        var lic = Sys.Z(license);
        var attr = stackalloc byte[AttrSize];
        fixed (BpfInstruction* insns = program)
        fixed (byte* l = lic)
        {
            FillLoad(attr, insns, program.Length, l, null, 0);
            var fd = Call(BPF_PROG_LOAD, attr);
            if (fd >= 0)
                return new FileDescriptor((int)fd);
            var errno = Sys.LastErrno;
            if (errno is not (Errno.EINVAL or Errno.EACCES))
                throw new SyscallException("bpf(BPF_PROG_LOAD)", errno, "cgroup device program");

            // Load again with a log buffer so the error says what the verifier did not like.
            const int LogSize = 64 * 1024;
            var log = new byte[LogSize];
            fixed (byte* lb = log)
            {
                FillLoad(attr, insns, program.Length, l, lb, LogSize);
                fd = Call(BPF_PROG_LOAD, attr);
                if (fd >= 0)
                    return new FileDescriptor((int)fd);
                errno = Sys.LastErrno;
            }
            var end = Array.IndexOf(log, (byte)0);
            var text = Encoding.UTF8.GetString(log, 0, end < 0 ? LogSize : end).Trim();
            throw new SyscallException("bpf(BPF_PROG_LOAD)", errno, "cgroup device program",
                text.Length == 0 ? null : "verifier log: " + text);
        }
    }

    private static void FillLoad(byte* attr, BpfInstruction* insns, int count, byte* license, byte* log, uint logSize)
    {
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = BPF_PROG_TYPE_CGROUP_DEVICE; // prog_type
        *(uint*)(attr + 4) = (uint)count;                  // insn_cnt
        *(ulong*)(attr + 8) = (ulong)insns;                // insns
        *(ulong*)(attr + 16) = (ulong)license;             // license
        if (log != null)
        {
            *(uint*)(attr + 24) = 1;                       // log_level
            *(uint*)(attr + 28) = logSize;                 // log_size
            *(ulong*)(attr + 32) = (ulong)log;             // log_buf
        }
        *(uint*)(attr + 68) = BPF_CGROUP_DEVICE;           // expected_attach_type
    }

    /// <summary>BPF_PROG_ATTACH of a device program to a cgroup v2 directory. With
    /// <paramref name="replace"/> (and BPF_F_REPLACE in <paramref name="flags"/>) the old program is
    /// swapped atomically.</summary>
    public static void AttachCgroupDevice(FileDescriptor cgroupDirectory, FileDescriptor program, uint flags,
        FileDescriptor? replace = null, string? path = null)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = (uint)cgroupDirectory.Number; // target_fd
        *(uint*)(attr + 4) = (uint)program.Number;         // attach_bpf_fd
        *(uint*)(attr + 8) = BPF_CGROUP_DEVICE;            // attach_type
        *(uint*)(attr + 12) = flags;                       // attach_flags
        if (replace is not null)
            *(uint*)(attr + 16) = (uint)replace.Number;    // replace_bpf_fd
        if (Call(BPF_PROG_ATTACH, attr) < 0)
            throw new SyscallException("bpf(BPF_PROG_ATTACH)", Sys.LastErrno, path ?? cgroupDirectory.ToString());
    }

    /// <summary>BPF_PROG_DETACH of one device program; false when it was not attached (ENOENT).</summary>
    public static bool DetachCgroupDevice(FileDescriptor cgroupDirectory, FileDescriptor program, string? path = null)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = (uint)cgroupDirectory.Number;
        *(uint*)(attr + 4) = (uint)program.Number;
        *(uint*)(attr + 8) = BPF_CGROUP_DEVICE;
        if (Call(BPF_PROG_DETACH, attr) == 0)
            return true;
        if (Sys.LastErrno == Errno.ENOENT)
            return false;
        throw new SyscallException("bpf(BPF_PROG_DETACH)", Sys.LastErrno, path ?? cgroupDirectory.ToString());
    }

    /// <summary>Ids of the device programs attached to this cgroup itself (not inherited ones).</summary>
    public static uint[] QueryCgroupDevice(FileDescriptor cgroupDirectory, out uint attachFlags, string? path = null)
    {
        var attr = stackalloc byte[AttrSize];
        var capacity = 8;
        while (true)
        {
            var ids = new uint[capacity];
            fixed (uint* p = ids)
            {
                new Span<byte>(attr, AttrSize).Clear();
                *(uint*)(attr + 0) = (uint)cgroupDirectory.Number; // target_fd
                *(uint*)(attr + 4) = BPF_CGROUP_DEVICE;            // attach_type
                *(ulong*)(attr + 16) = (ulong)p;                   // prog_ids
                *(uint*)(attr + 24) = (uint)capacity;              // prog_cnt (in: room, out: count)
                var r = Call(BPF_PROG_QUERY, attr);
                var count = *(uint*)(attr + 24);
                if (r < 0 && Sys.LastErrno == Errno.ENOSPC && count > capacity)
                {
                    capacity = (int)count;
                    continue;
                }
                if (r < 0)
                    throw new SyscallException("bpf(BPF_PROG_QUERY)", Sys.LastErrno, path ?? cgroupDirectory.ToString());
                attachFlags = *(uint*)(attr + 12);
                return ids.AsSpan(0, (int)count).ToArray();
            }
        }
    }

    /// <summary>An fd for a loaded program by id; null when it is gone (ENOENT).</summary>
    public static FileDescriptor? OpenProgram(uint id)
    {
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)(attr + 0) = id; // prog_id
        var fd = Call(BPF_PROG_GET_FD_BY_ID, attr);
        if (fd >= 0)
            return new FileDescriptor((int)fd);
        if (Sys.LastErrno == Errno.ENOENT)
            return null;
        throw new SyscallException("bpf(BPF_PROG_GET_FD_BY_ID)", Sys.LastErrno, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
