using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Runtime.Functions;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>The function's seccomp profile against the one containerd 1.6.20's CRI generated
/// (Runtime/Resources/containerd-1.6.20-default-seccomp.json, for a container with the default
/// capabilities): the same rules, except those a capability the function does not have enables.</summary>
public sealed class FnSeccompProfileTests
{
    /// <summary>Rules of containerd's profile that only a capability of its container gives (CAP_SYS_CHROOT).</summary>
    private static readonly string[] CapabilityGated = ["chroot"];

    [Fact]
    public void DefaultProfile_IsContainerdsCriProfile_LessTheCapabilityGatedRules()
    {
        var containerd = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "integration", "Csrt.IntegrationTests",
            "Runtime", "Resources", "containerd-1.6.20-default-seccomp.json")))!.AsObject();
        var ours = DefaultSeccompProfile.Create();

        Assert.Equal(containerd["defaultAction"]!.GetValue<string>(), ours.DefaultAction);
        Assert.Equal(containerd["architectures"]!.AsArray().Select(a => a!.GetValue<string>()), ours.Architectures!);
        static string Rule(string action, IEnumerable<string> names, string args, uint? errno) =>
            $"{action} {string.Join(',', names.Order(StringComparer.Ordinal))} {args} {errno}";
        // Unconditional allows compared as one set of names; rules with arguments or errno one by one.
        var theirAllowed = new SortedSet<string>(StringComparer.Ordinal);
        var theirRules = new List<string>();
        foreach (var s in containerd["syscalls"]!.AsArray())
        {
            var names = s!["names"]!.AsArray().Select(n => n!.GetValue<string>()).Where(n => !CapabilityGated.Contains(n)).ToList();
            var action = s["action"]!.GetValue<string>();
            var args = s["args"] is JsonArray a
                ? string.Join(';', a.Select(x => $"{x!["index"]}:{x["op"]}:{x["value"]}:{x["valueTwo"]?.GetValue<ulong>() ?? 0}"))
                : "";
            if (names.Count == 0)
                continue;
            if (action == "SCMP_ACT_ALLOW" && args.Length == 0)
                theirAllowed.UnionWith(names);
            else
                theirRules.Add(Rule(action, names, args, s["errnoRet"]?.GetValue<uint>()));
        }
        var ourAllowed = new SortedSet<string>(StringComparer.Ordinal);
        var ourRules = new List<string>();
        foreach (var s in ours.Syscalls!)
        {
            var args = s.Args is { Count: > 0 } a ? string.Join(';', a.Select(x => $"{x.Index}:{x.Op}:{x.Value}:{x.ValueTwo}")) : "";
            if (s.Action == "SCMP_ACT_ALLOW" && args.Length == 0)
                ourAllowed.UnionWith(s.Names);
            else
                ourRules.Add(Rule(s.Action, s.Names, args, s.ErrnoRet));
        }

        Assert.Equal(theirAllowed, ourAllowed);
        Assert.Equal(theirRules.Order(StringComparer.Ordinal), ourRules.Order(StringComparer.Ordinal));
    }
}
