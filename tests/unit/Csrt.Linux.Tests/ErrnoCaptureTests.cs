using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;
using Xunit;

// The test reads the IL of the syscall layer as compiled (JIT, never trimmed).
#pragma warning disable IL2026, IL2075

namespace Csrt.Linux.Tests;

/// <summary>
/// errno is read with Marshal.GetLastPInvokeError, which only holds the errno of a call declared
/// with SetLastError = true; after any other call it holds whatever an earlier call left (an EINTR
/// then reads as "Success" and is never retried).
/// </summary>
public sealed class ErrnoCaptureTests
{
    private static readonly Assembly Syscalls = typeof(FileDescriptor).Assembly;

    /// <summary>Functions whose result says nothing about errno: they cannot fail.</summary>
    private static readonly HashSet<string> CannotFail = new(StringComparer.Ordinal)
    {
        "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid", "umask", "strerror_r",
    };

    [Fact]
    public void EveryLibcFunctionTheSyscallLayerCalls_CapturesErrno()
    {
        var called = CalledPInvokes();
        // The scan must see the calls it is meant to check, or it proves nothing.
        Assert.Contains(called, m => m.Name == "poll");
        Assert.Contains(called, m => m.Name == "close");
        Assert.Contains(called, m => m.DeclaringType == typeof(Tmds.Linux.LibC));
        var lacking = called
            .Where(m => IsLibc(m) && !CannotFail.Contains(m.Name))
            .Where(m => m.GetCustomAttribute<DllImportAttribute>() is not { SetLastError: true } && !IsLibraryImportWithLastError(m))
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}")
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(lacking.Count == 0, "called without SetLastError = true (declare them in Interop/Libc.cs): " + string.Join(", ", lacking));
    }

    /// <summary>libc itself: our C helpers (libcsrt_native) and libseccomp return -errno instead.</summary>
    private static bool IsLibc(MethodInfo m)
    {
        var library = m.GetCustomAttribute<DllImportAttribute>()?.Value ?? m.GetCustomAttribute<LibraryImportAttribute>()?.LibraryName ?? "";
        return library == "libc" || library.StartsWith("libc.so", StringComparison.Ordinal);
    }

    /// <summary>A [LibraryImport(SetLastError = true)] method is a generated wrapper that sets the last
    /// P/Invoke error itself; its inner P/Invoke has SetLastError false on purpose.</summary>
    private static bool IsLibraryImportWithLastError(MethodInfo m) =>
        m.GetCustomAttribute<LibraryImportAttribute>() is { SetLastError: true };

    /// <summary>Every P/Invoke (or LibraryImport wrapper) reached by a call instruction anywhere in
    /// the syscall layer, outside the generated marshalling stubs.</summary>
    private static List<MethodInfo> CalledPInvokes()
    {
        var found = new List<MethodInfo>();
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in Syscalls.GetTypes())
        {
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                // The bodies LibraryImport generates call the raw P/Invoke and set the error themselves.
                if (method.GetCustomAttribute<LibraryImportAttribute>() is not null)
                    continue;
                foreach (var target in CallTargets(method))
                    Collect(target, found, depth: 0);
            }
        }
        return found;
    }

    private static void Collect(MethodBase target, List<MethodInfo> found, int depth)
    {
        if (target is not MethodInfo mi)
            return;
        if (IsPInvoke(mi) || mi.GetCustomAttribute<LibraryImportAttribute>() is not null)
        {
            found.Add(mi);
            return;
        }
        // A managed helper of another assembly that wraps libc (Tmds.LibC has a few): what it calls counts.
        if (depth < 2 && mi.DeclaringType?.Assembly is { } a && a != Syscalls && a.GetName().Name?.StartsWith("Tmds", StringComparison.Ordinal) == true)
        {
            foreach (var inner in CallTargets(mi))
                Collect(inner, found, depth + 1);
        }
    }

    private static bool IsPInvoke(MethodInfo m) => (m.Attributes & MethodAttributes.PinvokeImpl) != 0;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The methods named by call, callvirt, newobj and ldftn in a method body.</summary>
    private static IEnumerable<MethodBase> CallTargets(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
            yield break;
        var i = 0;
        while (i < il.Length)
        {
            short value = il[i++];
            if (value == 0xFE)
                value = (short)(0xFE00 | il[i++]);
            var op = OpCodesByValue[value];
            var size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? target = null;
                try
                {
                    target = method.Module.ResolveMethod(BitConverter.ToInt32(il, i), method.DeclaringType?.GetGenericArguments(), method.IsGenericMethod ? method.GetGenericArguments() : null);
                }
                catch (ArgumentException)
                {
                    // A generic member reference that cannot be resolved here is no P/Invoke.
                }
                if (target is not null)
                    yield return target;
            }
            i += size;
        }
    }
}
