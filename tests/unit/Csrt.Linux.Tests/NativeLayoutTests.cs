using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Csrt.Linux;
using Csrt.Linux.Native;
using Xunit;

// Reflection over the twins' fields and constants: this test runs under the JIT, never trimmed.
#pragma warning disable IL2070, IL2090, IL3050

namespace Csrt.Linux.Tests;

/// <summary>
/// The C# twins of C declarations against the C compiler: the spawn structs of
/// src/linux/native/csrt_spawn.h (sizes and every field's offset) and the constants the syscall
/// layer declares itself (open, mount, clone, errno, rlimit, signal, seccomp …). The test writes a
/// C file of <c>_Static_assert</c>s from the C# values and compiles it with gcc against the system
/// headers: a wrong value fails the compile, and gcc's message names it.
/// </summary>
[Collection(ChildProcessCollection.Name)]
public sealed class NativeLayoutTests
{
    private static string RepoRoot([CallerFilePath] string self = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(self)!, "..", "..", ".."));

    /// <summary>Compiles <paramref name="body"/> (and runs it, when it has a main) with the headers; returns its output.</summary>
    private static string CompileAndRun(string body, bool run)
    {
        var dir = Directory.CreateTempSubdirectory("csrt-native-layout-").FullName;
        try
        {
            var source = Path.Combine(dir, "probe.c");
            var exe = Path.Combine(dir, "probe");
            var c = new StringBuilder();
            c.AppendLine("#define _GNU_SOURCE");
            foreach (var header in new[]
                     {
                         "stddef.h", "stdio.h", "errno.h", "fcntl.h", "sched.h", "signal.h", "poll.h", "sys/mount.h",
                         "sys/resource.h", "sys/stat.h", "sys/inotify.h", "linux/openat2.h", "seccomp.h",
                     })
                c.AppendLine($"#include <{header}>");
            c.AppendLine($"#include \"{Path.Combine(RepoRoot(), "src", "linux", "native", "csrt_spawn.h")}\"");
            c.AppendLine("#ifndef CLONE_NEWTIME");
            c.AppendLine("#define CLONE_NEWTIME 0x00000080 /* older glibc: linux/sched.h's value */");
            c.AppendLine("#endif");
            c.Append(body);
            File.WriteAllText(source, c.ToString());
            var compile = Run("gcc", run ? ["-Wall", "-Werror", "-o", exe, source] : ["-fsyntax-only", "-Wall", "-Werror", source]);
            Assert.True(compile.Exit == 0, $"gcc rejected the probe (a C# declaration differs from C):\n{compile.Output}");
            return run ? Run(exe, []).Output : "";
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Exit, string Output) Run(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), $"{file} did not finish");
        return (p.ExitCode, output.Result + error.Result);
    }

    private static string StaticAssert(string condition, string what) =>
        $"_Static_assert({condition}, \"{what.Replace("\"", "'", StringComparison.Ordinal)}\");\n";

    private static string StructAsserts<T>(string cName)
    {
        var sb = new StringBuilder();
        sb.Append(StaticAssert($"sizeof(struct {cName}) == {Marshal.SizeOf<T>()}", $"sizeof(struct {cName}) is {Marshal.SizeOf<T>()} in C#"));
        var fields = typeof(T).GetFields(BindingFlags.Public | BindingFlags.Instance);
        Xunit.Assert.NotEmpty(fields);
        foreach (var f in fields)
        {
            var offset = Marshal.OffsetOf<T>(f.Name).ToInt64();
            sb.Append(StaticAssert($"offsetof(struct {cName}, {f.Name}) == {offset}", $"{cName}.{f.Name} is at {offset} in C#"));
            sb.Append(StaticAssert($"sizeof(((struct {cName}*)0)->{f.Name}) == {FieldSize(f.FieldType)}", $"{cName}.{f.Name} is {FieldSize(f.FieldType)} bytes in C#"));
        }
        return sb.ToString();
    }

    private static int FieldSize(Type t) => t.IsPointer ? IntPtr.Size : Marshal.SizeOf(t);

    [Fact]
    public void SpawnStructs_HaveTheHeadersSizesAndOffsets()
    {
        var body = StructAsserts<csrt_child_error>("csrt_child_error")
            + StructAsserts<csrt_fd_map>("csrt_fd_map")
            + StructAsserts<csrt_range>("csrt_range")
            + StructAsserts<csrt_exec_plan>("csrt_exec_plan")
            + StructAsserts<csrt_spawn_request>("csrt_spawn_request");

        CompileAndRun(body, run: false);
    }

    /// <summary>Every member of an enum whose name is a C macro, as C sees it (members such as "None" are not).</summary>
    private static string EnumAsserts<T>(Func<string, bool>? isCName = null) where T : struct, Enum
    {
        var sb = new StringBuilder();
        foreach (var name in Enum.GetNames<T>())
        {
            if (!(isCName?.Invoke(name) ?? name.Contains('_', StringComparison.Ordinal) && name == name.ToUpperInvariant()))
                continue;
            var value = Convert.ToUInt64(Enum.Parse<T>(name), CultureInfo.InvariantCulture);
            sb.Append(StaticAssert($"(unsigned long long)({name}) == {value}ULL", $"{typeof(T).Name}.{name} is {value} in C#"));
        }
        return sb.ToString();
    }

    [Fact]
    public void DeclaredConstants_HaveTheHeadersValues()
    {
        var body = new StringBuilder()
            .Append(EnumAsserts<OpenFlags>())
            .Append(EnumAsserts<ResolveFlags>())
            .Append(EnumAsserts<MountFlags>())
            .Append(EnumAsserts<UnmountFlags>())
            .Append(EnumAsserts<CloneFlags>())
            .Append(EnumAsserts<ResourceLimit>())
            .Append(EnumAsserts<InotifyMask>())
            .Append(EnumAsserts<Errno>(name => name.StartsWith('E')));
        foreach (var (name, value) in Constants(typeof(Signals)).Where(c => c.Name is not ("SIGRTMIN" or "SIGRTMAX")))
            body.Append(StaticAssert($"{name} == {value}", $"Signals.{name} is {value} in C#"));
        foreach (var (name, value) in Constants(typeof(StatInfo)))
            body.Append(StaticAssert($"{name} == {value}", $"StatInfo.{name} is {value} in C#"));
        foreach (var (name, value) in Constants(typeof(PollFd)))
            body.Append(StaticAssert($"{name} == {value}", $"PollFd.{name} is {value} in C#"));
        string[] compares = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
        foreach (var (name, value) in compares.Zip(new[] { SeccompCompare.NotEqual, SeccompCompare.LessThan, SeccompCompare.LessOrEqual, SeccompCompare.Equal, SeccompCompare.GreaterOrEqual, SeccompCompare.GreaterThan, SeccompCompare.MaskedEqual }))
            body.Append(StaticAssert($"{name} == {(int)value}", $"SeccompCompare for {name} is {(int)value} in C#"));
        foreach (var (name, value) in new (string, uint)[]
                 {
                     ("SCMP_ACT_KILL_THREAD", SeccompFilter.ActKillThread), ("SCMP_ACT_KILL_PROCESS", SeccompFilter.ActKillProcess),
                     ("SCMP_ACT_TRAP", SeccompFilter.ActTrap), ("SCMP_ACT_ALLOW", SeccompFilter.ActAllow), ("SCMP_ACT_LOG", SeccompFilter.ActLog),
                     ("SCMP_ACT_NOTIFY", SeccompFilter.ActNotify), ("SCMP_ACT_ERRNO(38)", SeccompFilter.ActErrno(38)), ("SCMP_ACT_TRACE(7)", SeccompFilter.ActTrace(7)),
                 })
            body.Append(StaticAssert($"{name} == {value}U", $"{name} is {value} in C#"));
        body.Append("int main(void) { printf(\"%d %d\\n\", SIGRTMIN, SIGRTMAX); return 0; }\n");

        var output = CompileAndRun(body.ToString(), run: true);

        // glibc's SIGRTMIN and SIGRTMAX are functions (it keeps two real-time signals for itself): checked at run time.
        Xunit.Assert.Equal($"{Signals.SIGRTMIN} {Signals.SIGRTMAX}", output.Trim());
    }

    [Fact]
    public void EveryChildStageOfTheHeader_HasAName()
    {
        var header = File.ReadAllText(Path.Combine(RepoRoot(), "src", "linux", "native", "csrt_spawn.h"));
        var stages = Regex.Matches(header, @"\bCSRT_STAGE_(\w+) = (\d+),")
            .Select(m => (Name: m.Groups[1].Value, Value: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .Where(s => s.Name != "NONE")
            .ToList();
        Xunit.Assert.NotEmpty(stages);
        foreach (var (name, value) in stages)
            Xunit.Assert.False(SpawnException.StageName(value) == $"stage {value}", $"CSRT_STAGE_{name} ({value}) has no name in SpawnException.StageName");
        var next = stages.Max(s => s.Value) + 1;
        Xunit.Assert.Equal($"stage {next}", SpawnException.StageName(next));
    }

    private static IEnumerable<(string Name, object Value)> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name.ToUpperInvariant() == f.Name)
            .Select(f => (f.Name, f.GetRawConstantValue()!));
}
