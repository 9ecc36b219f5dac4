using System.Text.Json.Nodes;

namespace Csrt.VmTests.Fixtures;

/// <summary>config.json documents for <see cref="GuestBundle"/>.</summary>
public static class GuestConfig
{
    /// <summary>
    /// A config like <c>runc spec</c>'s default for <paramref name="args"/> (no terminal; see
    /// <see cref="Csrt.TestSupport.RuncDefaultConfig.Build"/>) with the pid, network, ipc, uts, mount and cgroup
    /// namespaces. <c>linux.resources</c> is an object the caller fills in; <paramref name="cgroupsPath"/> is set when given.
    /// </summary>
    public static JsonObject Default(IReadOnlyList<string> args, string? cgroupsPath = null, bool readonlyRoot = true) =>
        Csrt.TestSupport.RuncDefaultConfig.Build(args, ["pid", "network", "ipc", "uts", "mount", "cgroup"],
            ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "csrt-vm",
            readonlyRoot: readonlyRoot, cgroupsPath: cgroupsPath);

    /// <summary><c>linux.resources</c> of <paramref name="config"/>.</summary>
    public static JsonObject Resources(this JsonObject config) => config["linux"]!["resources"]!.AsObject();
}

/// <summary>Small helpers for building configs inline.</summary>
public static class JsonObjectExtensions
{
    /// <summary>Runs <paramref name="edit"/> on <paramref name="o"/> and returns it.</summary>
    public static JsonObject Also(this JsonObject o, Action<JsonObject> edit)
    {
        edit(o);
        return o;
    }
}
