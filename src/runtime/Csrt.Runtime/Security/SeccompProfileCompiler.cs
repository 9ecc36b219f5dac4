using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Security;

/// <summary>A compiled linux.seccomp: the BPF program and the flags for seccomp(2).</summary>
public sealed record CompiledSeccomp(byte[] Program, uint Flags);

/// <summary>
/// Turns linux.seccomp into a BPF program with libseccomp, following runc's rules: rules whose
/// action equals the default are skipped; syscall names the library does not know are skipped (a
/// profile lists syscalls of newer kernels); several conditions on the same argument index become
/// separate rules (OR), otherwise one rule with all conditions (AND).
/// </summary>
public static class SeccompProfileCompiler
{
    private const uint DefaultErrno = (uint)Errno.EPERM;

    private static SpecValidationException Bad(string path, string expected, string? got) =>
        new("config.json", path, expected, $"expected {expected}, got \"{got}\"");

    /// <summary>SECCOMP_FILTER_FLAG_* by spec name. TSYNC is dropped: the filter is loaded on the
    /// thread that execs, and execve ends every other thread anyway.</summary>
    private static uint FlagValue(string name, string path) => name switch
    {
        "SECCOMP_FILTER_FLAG_TSYNC" => 0,
        "SECCOMP_FILTER_FLAG_LOG" => 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => 32,
        _ => throw Bad(path, "a known seccomp flag (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW)", name),
    };

    public static uint Action(string action, uint? errnoRet, string path) => action switch
    {
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => SeccompFilter.ActKillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompFilter.ActKillProcess,
        "SCMP_ACT_TRAP" => SeccompFilter.ActTrap,
        "SCMP_ACT_ERRNO" => SeccompFilter.ActErrno(errnoRet ?? DefaultErrno),
        "SCMP_ACT_TRACE" => SeccompFilter.ActTrace(errnoRet ?? DefaultErrno),
        "SCMP_ACT_ALLOW" => SeccompFilter.ActAllow,
        "SCMP_ACT_LOG" => SeccompFilter.ActLog,
        "SCMP_ACT_NOTIFY" => throw Bad(path, "an action other than SCMP_ACT_NOTIFY (seccomp user notification is not supported by csrt)", action),
        _ => throw Bad(path, "a seccomp action (SCMP_ACT_KILL, _KILL_PROCESS, _KILL_THREAD, _TRAP, _ERRNO, _TRACE, _ALLOW, _LOG)", action),
    };

    private static SeccompCompare Operator(string op, string path) => op switch
    {
        "SCMP_CMP_NE" => SeccompCompare.NotEqual,
        "SCMP_CMP_LT" => SeccompCompare.LessThan,
        "SCMP_CMP_LE" => SeccompCompare.LessOrEqual,
        "SCMP_CMP_EQ" => SeccompCompare.Equal,
        "SCMP_CMP_GE" => SeccompCompare.GreaterOrEqual,
        "SCMP_CMP_GT" => SeccompCompare.GreaterThan,
        "SCMP_CMP_MASKED_EQ" => SeccompCompare.MaskedEqual,
        _ => throw Bad(path, "a seccomp operator (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ)", op),
    };

    /// <summary>"SCMP_ARCH_X86_64" → libseccomp's "x86_64".</summary>
    public static string ArchitectureName(string specName) =>
        specName.StartsWith("SCMP_ARCH_", StringComparison.Ordinal) ? specName["SCMP_ARCH_".Length..].ToLowerInvariant() : specName.ToLowerInvariant();

    public static CompiledSeccomp Compile(LinuxSeccomp seccomp)
    {
        if (!string.IsNullOrEmpty(seccomp.ListenerPath))
            throw Bad("$.linux.seccomp.listenerPath", "no listener (seccomp user notification is not supported by csrt)", seccomp.ListenerPath);
        var defaultAction = Action(seccomp.DefaultAction, seccomp.DefaultErrnoRet, "$.linux.seccomp.defaultAction");
        uint flags = 0;
        for (var i = 0; i < (seccomp.Flags?.Count ?? 0); i++)
            flags |= FlagValue(seccomp.Flags![i], $"$.linux.seccomp.flags[{i}]");

        using var filter = new SeccompFilter(defaultAction);
        for (var i = 0; i < (seccomp.Architectures?.Count ?? 0); i++)
        {
            var name = seccomp.Architectures![i];
            if (!filter.AddArchitecture(ArchitectureName(name)))
                throw Bad($"$.linux.seccomp.architectures[{i}]", "an architecture libseccomp knows (SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64 …)", name);
        }
        var syscalls = seccomp.Syscalls ?? new List<LinuxSyscall>();
        for (var i = 0; i < syscalls.Count; i++)
        {
            var call = syscalls[i];
            var path = $"$.linux.seccomp.syscalls[{i}]";
            var action = Action(call.Action, call.ErrnoRet, path + ".action");
            if (action == defaultAction)
                continue;
            var conditions = new SeccompFilter.ArgCompare[call.Args?.Count ?? 0];
            var perIndex = new int[6];
            var repeatedIndex = false;
            for (var a = 0; a < conditions.Length; a++)
            {
                var arg = call.Args![a];
                if (arg.Index > 5)
                    throw Bad($"{path}.args[{a}].index", "an argument index 0-5", arg.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                conditions[a] = new SeccompFilter.ArgCompare { Arg = arg.Index, Op = Operator(arg.Op, $"{path}.args[{a}].op"), DatumA = arg.Value, DatumB = arg.ValueTwo };
                repeatedIndex |= ++perIndex[arg.Index] > 1;
            }
            foreach (var name in call.Names)
            {
                if (SeccompFilter.ResolveSyscall(name) is not { } nr)
                    continue;
                if (repeatedIndex)
                {
                    foreach (var c in conditions)
                        filter.AddRule(action, nr, new[] { c }, name);
                }
                else
                {
                    filter.AddRule(action, nr, conditions, name);
                }
            }
        }
        return new CompiledSeccomp(filter.ExportBpf(), flags);
    }
}
