using System.Buffers.Binary;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Security;

/// <summary>
/// linux.seccomp compiled with libseccomp. The programs are not only inspected but run: a small
/// classic-BPF interpreter evaluates them for a given syscall, architecture and arguments, as the
/// kernel would, so actions, operators and architectures are proven by their effect.
/// </summary>
public sealed class SeccompProfileCompilerTests
{
    private const uint AuditArchX86_64 = 0xC000003E, AuditArchI386 = 0x40000003, AuditArchAarch64 = 0xC00000B7;
    private const int Mkdir = 83, Mkdirat = 258, Getpid = 39, Personality = 135, Clone = 56, Uname = 63;

    private static LinuxSeccomp Profile(string json) =>
        SpecLoader.Parse(Encoding.UTF8.GetBytes(
            """{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}],"seccomp":"""
            + json + "}}"), "config.json").Linux!.Seccomp!;

    private static uint Run(CompiledSeccomp compiled, int nr, uint arch = AuditArchX86_64, params ulong[] args) =>
        Bpf.Evaluate(compiled.Program, nr, arch, args);

    [Theory]
    [InlineData("SCMP_ACT_KILL", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_THREAD", null, 0x00000000u)]
    [InlineData("SCMP_ACT_KILL_PROCESS", null, 0x80000000u)]
    [InlineData("SCMP_ACT_TRAP", null, 0x00030000u)]
    [InlineData("SCMP_ACT_ERRNO", null, 0x00050001u)]
    [InlineData("SCMP_ACT_ERRNO", 38u, 0x00050026u)]
    [InlineData("SCMP_ACT_TRACE", 7u, 0x7ff00007u)]
    [InlineData("SCMP_ACT_ALLOW", null, 0x7fff0000u)]
    [InlineData("SCMP_ACT_LOG", null, 0x7ffc0000u)]
    public void Actions_MapToTheKernelsReturnValues(string action, uint? errno, uint expected) =>
        Assert.Equal(expected, SeccompProfileCompiler.Action(action, errno, "$.x"));

    [Theory]
    [InlineData("SCMP_ACT_NOTIFY")]
    [InlineData("SCMP_ACT_BOGUS")]
    public void UnsupportedActions_AreRefusedWithTheirPath(string action)
    {
        var e = Assert.Throws<SpecValidationException>(() => SeccompProfileCompiler.Action(action, null, "$.linux.seccomp.defaultAction"));

        Assert.Equal("$.linux.seccomp.defaultAction", e.JsonPath);
    }

    [Theory]
    [InlineData("SCMP_ARCH_X86_64", "x86_64")]
    [InlineData("SCMP_ARCH_X86", "x86")]
    [InlineData("SCMP_ARCH_X32", "x32")]
    [InlineData("SCMP_ARCH_AARCH64", "aarch64")]
    public void ArchitectureNames_AreLibseccomps(string spec, string libseccomp) =>
        Assert.Equal(libseccomp, SeccompProfileCompiler.ArchitectureName(spec));

    [Fact]
    public void AnErrnoRule_DeniesItsSyscalls_AndTheDefaultAllowsTheRest()
    {
        var compiled = SeccompProfileCompiler.Compile(Profile("""
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
             "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}
            """));

        Assert.Equal(0, compiled.Program.Length % 8);
        Assert.Equal(0x00050000u | 13, Run(compiled, Mkdir));
        Assert.Equal(0x00050000u | 13, Run(compiled, Mkdirat));
        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Getpid));
    }

    [Fact]
    public void AnArchitectureNotListed_IsKilled_AndListedOnesWork()
    {
        var compiled = SeccompProfileCompiler.Compile(Profile("""
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
             "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}
            """));

        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Getpid));
        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, 20 /* i386 getpid */, AuditArchI386));
        Assert.Equal(SeccompFilter.ActErrno(1), Run(compiled, Mkdir));
        Assert.NotEqual(SeccompFilter.ActAllow, Run(compiled, Getpid, AuditArchAarch64));
    }

    [Fact]
    public void ArgumentConditions_OnOneIndex_AreAlternatives_OnSeveralIndexes_AllMustHold()
    {
        // containerd's personality rules: several values of argument 0, each allowed.
        var compiled = SeccompProfileCompiler.Compile(Profile("""
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
             "syscalls":[
               {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
               {"names":["uname"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":10,"op":"SCMP_CMP_GT"},{"index":1,"value":5,"op":"SCMP_CMP_LE"}]},
               {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """));

        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Personality, args: 0));
        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Personality, args: 8));
        Assert.Equal(SeccompFilter.ActErrno(1), Run(compiled, Personality, args: 4));
        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Uname, args: [11, 5]));
        Assert.Equal(SeccompFilter.ActErrno(1), Run(compiled, Uname, args: [10, 5]));
        Assert.Equal(SeccompFilter.ActErrno(1), Run(compiled, Uname, args: [11, 6]));
        // clone without any CLONE_NEW* flag is allowed, with CLONE_NEWNS (0x20000) it is not.
        Assert.Equal(SeccompFilter.ActAllow, Run(compiled, Clone, args: 0x11 /* SIGCHLD */));
        Assert.Equal(SeccompFilter.ActErrno(1), Run(compiled, Clone, args: 0x20011));
    }

    [Fact]
    public void RulesWithTheDefaultAction_AndUnknownSyscalls_AreSkipped()
    {
        var plain = SeccompProfileCompiler.Compile(Profile("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}"""));
        var redundant = SeccompProfileCompiler.Compile(Profile("""
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
             "syscalls":[{"names":["getpid","no_such_syscall_anywhere"],"action":"SCMP_ACT_ALLOW"},{"names":["no_such_syscall_anywhere"],"action":"SCMP_ACT_KILL"}]}
            """));

        Assert.Equal(plain.Program, redundant.Program);
    }

    [Fact]
    public void Flags_MapToSeccompFilterFlags_TsyncIsDropped()
    {
        var compiled = SeccompProfileCompiler.Compile(Profile("""{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"]}"""));
        var tsync = SeccompProfileCompiler.Compile(Profile("""{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"""));

        Assert.Equal(2u, compiled.Flags);
        Assert.Equal(4u, tsync.Flags);
    }

    [Theory]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}""", "$.linux.seccomp.syscalls[0].args[0].op")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""", "$.linux.seccomp.syscalls[0].args[0].index")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_PDP11"]}""", "$.linux.seccomp.architectures[0]")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}""", "$.linux.seccomp.flags[0]")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}""", "$.linux.seccomp.listenerPath")]
    public void BadProfiles_AreRefusedWithTheJsonPath(string json, string path)
    {
        SpecValidationException e;
        try
        {
            e = Assert.Throws<SpecValidationException>(() => SeccompProfileCompiler.Compile(Profile(json)));
        }
        catch (SpecValidationException parse)
        {
            // The spec validator may already refuse it while parsing: then it must name the same place.
            e = parse;
        }

        Assert.Equal(path, e.JsonPath);
    }

    /// <summary>Classic BPF as the kernel runs it for seccomp: A, X, 16 words of scratch, struct seccomp_data as packet.</summary>
    private static class Bpf
    {
        public static uint Evaluate(byte[] program, int nr, uint arch, ulong[] args)
        {
            var data = new byte[64];
            BinaryPrimitives.WriteInt32LittleEndian(data, nr);
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
            for (var i = 0; i < args.Length; i++)
                BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16 + 8 * i), args[i]);
            uint a = 0, x = 0;
            var mem = new uint[16];
            for (var pc = 0; pc < program.Length / 8; pc++)
            {
                var insn = program.AsSpan(pc * 8, 8);
                var code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
                var jt = insn[2];
                var jf = insn[3];
                var k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
                switch (code & 0x07)
                {
                    case 0x00: // LD
                        a = (code & 0xe0) switch
                        {
                            0x00 => k,
                            0x20 => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)k)),
                            0x60 => mem[k],
                            0x80 => (uint)data.Length,
                            _ => throw new NotSupportedException($"ld mode {code:x}"),
                        };
                        break;
                    case 0x01: // LDX
                        x = (code & 0xe0) switch { 0x00 => k, 0x60 => mem[k], 0x80 => (uint)data.Length, _ => throw new NotSupportedException($"ldx mode {code:x}") };
                        break;
                    case 0x02:
                        mem[k] = a;
                        break;
                    case 0x03:
                        mem[k] = x;
                        break;
                    case 0x04: // ALU
                        var operand = (code & 0x08) != 0 ? x : k;
                        a = (code & 0xf0) switch
                        {
                            0x00 => a + operand,
                            0x10 => a - operand,
                            0x20 => a * operand,
                            0x30 => a / operand,
                            0x40 => a | operand,
                            0x50 => a & operand,
                            0x60 => a << (int)operand,
                            0x70 => a >> (int)operand,
                            0x80 => (uint)-(int)a,
                            0xa0 => a ^ operand,
                            _ => throw new NotSupportedException($"alu {code:x}"),
                        };
                        break;
                    case 0x05: // JMP
                        var value = (code & 0x08) != 0 ? x : k;
                        if ((code & 0xf0) == 0x00)
                        {
                            pc += (int)k;
                            break;
                        }
                        var taken = (code & 0xf0) switch
                        {
                            0x10 => a == value,
                            0x20 => a > value,
                            0x30 => a >= value,
                            0x40 => (a & value) != 0,
                            _ => throw new NotSupportedException($"jmp {code:x}"),
                        };
                        pc += taken ? jt : jf;
                        break;
                    case 0x06: // RET
                        return (code & 0x18) == 0x10 ? a : k;
                    case 0x07: // MISC
                        if ((code & 0xf8) == 0x00)
                            x = a;
                        else
                            a = x;
                        break;
                }
            }
            throw new InvalidOperationException("the program ran off its end");
        }
    }
}
