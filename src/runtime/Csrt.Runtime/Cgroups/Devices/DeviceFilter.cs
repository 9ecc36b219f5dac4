using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>
/// Builds the cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program with the meaning of the
/// rule list under v1 semantics (start from deny, rules in order, the last match wins). The program
/// tests the rules in reverse order and returns at the first match, which is the last match of the
/// list; a rule for every device and access ends the program (nothing before it can matter). With no
/// match it denies. Shape as in runc's devicefilter (after crun's ebpf.c):
/// <code>
///   r2 = ctx->access_type &amp; 0xffff   // device type: 1 block, 2 char
///   r3 = ctx->access_type >> 16      // access: 1 mknod, 2 read, 4 write
///   r4 = ctx->major
///   r5 = ctx->minor
/// per rule:
///   if r2 != type goto next                      (omitted for type 'a')
///   r1 = r3; r1 &amp;= access; if r1 != r3 goto next  (omitted for rwm)
///   if r4 != major goto next                     (omitted for any)
///   if r5 != minor goto next                     (omitted for any)
///   r0 = allow; exit
/// end:
///   r0 = 0; exit
/// </code>
/// </summary>
public static class DeviceFilter
{
    public const string License = "Apache";

    // eBPF opcodes (include/uapi/linux/bpf_common.h, bpf.h).
    private const byte LdxMemW = 0x61;     // BPF_LDX | BPF_MEM | BPF_W
    private const byte Alu32AndK = 0x54;   // BPF_ALU | BPF_AND | BPF_K
    private const byte Alu32RshK = 0x74;   // BPF_ALU | BPF_RSH | BPF_K
    private const byte Alu32MovK = 0xb4;   // BPF_ALU | BPF_MOV | BPF_K
    private const byte Alu32MovX = 0xbc;   // BPF_ALU | BPF_MOV | BPF_X
    private const byte JmpJneK = 0x55;     // BPF_JMP | BPF_JNE | BPF_K
    private const byte JmpJneX = 0x5d;     // BPF_JMP | BPF_JNE | BPF_X
    private const byte JmpExit = 0x95;     // BPF_JMP | BPF_EXIT

    private const int DevBlock = 1, DevChar = 2; // BPF_DEVCG_DEV_*

    public static BpfInstruction[] Build(IReadOnlyList<DeviceRule> rules)
    {
        var insns = new List<BpfInstruction>(6 + rules.Count * 7)
        {
            BpfInstruction.Make(LdxMemW, 2, 1, 0, 0),
            BpfInstruction.Make(Alu32AndK, 2, 0, 0, 0xffff),
            BpfInstruction.Make(LdxMemW, 3, 1, 0, 0),
            BpfInstruction.Make(Alu32RshK, 3, 0, 0, 16),
            BpfInstruction.Make(LdxMemW, 4, 1, 4, 0),
            BpfInstruction.Make(LdxMemW, 5, 1, 8, 0),
        };
        var terminated = false;
        var block = new List<BpfInstruction>(7);
        for (var i = rules.Count - 1; i >= 0 && !terminated; i--)
        {
            var r = rules[i];
            if (r.Access == DeviceAccess.None)
                continue; // matches no access at all
            block.Clear();
            // Jumps are patched once the block length is known: each skips to the block's end.
            var jumps = new List<int>(4);
            if (r.Type != 'a')
            {
                jumps.Add(block.Count);
                block.Add(BpfInstruction.Make(JmpJneK, 2, 0, 0, r.Type == 'c' ? DevChar : DevBlock));
            }
            if (r.Access != DeviceAccess.All)
            {
                block.Add(BpfInstruction.Make(Alu32MovX, 1, 3, 0, 0));
                block.Add(BpfInstruction.Make(Alu32AndK, 1, 0, 0, (int)r.Access));
                jumps.Add(block.Count);
                block.Add(BpfInstruction.Make(JmpJneX, 1, 3, 0, 0));
            }
            if (r.Major != DeviceRule.Any)
            {
                jumps.Add(block.Count);
                block.Add(BpfInstruction.Make(JmpJneK, 4, 0, 0, (int)r.Major));
            }
            if (r.Minor != DeviceRule.Any)
            {
                jumps.Add(block.Count);
                block.Add(BpfInstruction.Make(JmpJneK, 5, 0, 0, (int)r.Minor));
            }
            block.Add(BpfInstruction.Make(Alu32MovK, 0, 0, 0, r.Allow ? 1 : 0));
            block.Add(BpfInstruction.Make(JmpExit, 0, 0, 0, 0));
            foreach (var j in jumps)
            {
                var b = block[j];
                block[j] = b with { Offset = (short)(block.Count - j - 1) };
            }
            insns.AddRange(block);
            terminated = jumps.Count == 0; // an unconditional verdict: earlier rules are unreachable
        }
        if (!terminated)
        {
            insns.Add(BpfInstruction.Make(Alu32MovK, 0, 0, 0, 0));
            insns.Add(BpfInstruction.Make(JmpExit, 0, 0, 0, 0));
        }
        return insns.ToArray();
    }

    /// <summary>Runs the program on one access, as the kernel would: for unit tests and for checking a
    /// rule list without loading it.</summary>
    public static bool Evaluate(ReadOnlySpan<BpfInstruction> program, char type, uint major, uint minor, DeviceAccess access)
    {
        var regs = new ulong[11];
        var accessType = (uint)(type == 'c' ? DevChar : DevBlock) | ((uint)access << 16);
        ReadOnlySpan<uint> ctx = stackalloc uint[] { accessType, major, minor };
        for (var pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            switch (i.Code)
            {
                case LdxMemW:
                    regs[i.Dst] = ctx[i.Offset / 4];
                    break;
                case Alu32AndK:
                    regs[i.Dst] = (uint)regs[i.Dst] & (uint)i.Immediate;
                    break;
                case Alu32RshK:
                    regs[i.Dst] = (uint)regs[i.Dst] >> i.Immediate;
                    break;
                case Alu32MovK:
                    regs[i.Dst] = (uint)i.Immediate;
                    break;
                case Alu32MovX:
                    regs[i.Dst] = (uint)regs[i.Src];
                    break;
                case JmpJneK:
                    if (regs[i.Dst] != (ulong)(long)i.Immediate)
                        pc += i.Offset;
                    break;
                case JmpJneX:
                    if (regs[i.Dst] != regs[i.Src])
                        pc += i.Offset;
                    break;
                case JmpExit:
                    return regs[0] != 0;
                default:
                    throw new InvalidOperationException($"unexpected opcode 0x{i.Code:x2} at {pc}");
            }
        }
        throw new InvalidOperationException("program fell off its end");
    }
}
