using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;

namespace Csrt.IntegrationTests.Security;

/// <summary>How an attack's container is run.</summary>
public enum Via
{
    /// <summary>The csrt command line (run, exec, delete).</summary>
    Cli,

    /// <summary>containerd-shim-csrt-v2 under the private containerd: <c>ctr run --config</c> with the
    /// bundle's own config.json (so the same spec reaches the shim), <c>ctr task exec</c>.</summary>
    Shim,

    /// <summary>runc 1.1.5, the reference: where the attack must fail too, or where a positive
    /// control proves the payload works.</summary>
    Runc,
}

/// <summary>
/// One way of running the attack suite's containers (<see cref="Via"/>) over bundles made by a
/// <see cref="RuntimeRoot"/> (cgroupsPath /csrt-test/&lt;id&gt;, so what a container leaves is
/// found). Dispose removes the shim's tasks and containers, then the root cleans up the rest.
/// </summary>
internal sealed class AttackTarget : IDisposable
{
    private readonly RuntimeRoot _root;
    private readonly PrivateContainerd? _containerd;
    private readonly List<string> _shimIds = new();
    private readonly HostDirectories _hostDirs = new();

    public AttackTarget(Via via, PrivateContainerd containerd, string name)
    {
        Via = via;
        _root = via == Via.Runc ? RuntimeRoot.Runc("attack-" + name) : RuntimeRoot.Csrt("attack-" + name);
        _containerd = via == Via.Shim ? containerd : null;
    }

    public Via Via { get; }

    /// <summary>A bundle for <paramref name="args"/>; through the shim its root.path is absolute,
    /// since containerd runs it from a bundle directory of its own.</summary>
    public TestBundle Bundle(IReadOnlyList<string> args, Action<JsonObject>? edit = null, bool readonlyRoot = true)
    {
        var bundle = _root.Bundle(args, edit, readonlyRoot: readonlyRoot);
        if (Via == Via.Shim)
            EditConfig(bundle, c => c["root"]!["path"] = bundle.RootfsDir);
        return bundle;
    }

    /// <summary>Rewrites the bundle's config.json (e.g. after the rootfs was prepared).</summary>
    public static void EditConfig(TestBundle bundle, Action<JsonObject> edit)
    {
        var config = JsonNode.Parse(File.ReadAllText(bundle.ConfigPath))!.AsObject();
        edit(config);
        bundle.WriteConfig(config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>A fresh directory on the host, removed (and unmounted) on dispose.</summary>
    public string HostDir(string name) => _hostDirs.Create(name);

    /// <summary>Runs the container in the foreground: its output and exit code (a refused create
    /// is a non-zero exit with the runtime's or ctr's error).</summary>
    public CommandResult Run(TestBundle bundle, TimeSpan? timeout = null)
    {
        if (Via != Via.Shim)
            return _root.Run(null, timeout ?? RuntimeRoot.Timeout, "run", "--bundle", bundle.Dir, bundle.Id);
        _shimIds.Add(bundle.Id);
        return _containerd!.Ctr(timeout ?? RuntimeRoot.Timeout, "run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime, "--config", bundle.ConfigPath, bundle.Id);
    }

    /// <summary>Creates and starts the container, detached; throws unless that succeeds.</summary>
    public void Start(TestBundle bundle)
    {
        if (Via != Via.Shim)
        {
            _root.RunDetached(bundle);
            return;
        }
        _shimIds.Add(bundle.Id);
        _containerd!.Ctr("run", "-d", "--null-io", "--runtime", PrivateContainerd.CsrtRuntime, "--config", bundle.ConfigPath, bundle.Id).EnsureSuccess();
    }

    /// <summary>Command line only: creates the container without starting it.</summary>
    public void CreateOnly(TestBundle bundle)
    {
        Xunit.Assert.NotEqual(Via.Shim, Via);
        _root.Create(bundle);
    }

    /// <summary>Command line only: <c>exec -d</c>, the process left running in the container.</summary>
    public void ExecDetached(TestBundle bundle, IReadOnlyList<string> argv)
    {
        Xunit.Assert.NotEqual(Via.Shim, Via);
        _root.Detached(bundle, new[] { "exec", "-d", bundle.Id }.Concat(argv).ToArray()).EnsureSuccess();
    }

    /// <summary>Command line only: <c>start</c> of a created container.</summary>
    public CommandResult StartCreated(string id)
    {
        Xunit.Assert.NotEqual(Via.Shim, Via);
        return _root.Run("start", id);
    }

    /// <summary>Runs <paramref name="argv"/> in the running container: exec, or ctr task exec.</summary>
    public CommandResult Exec(string id, IReadOnlyList<string> argv, string? cwd = null, TimeSpan? timeout = null)
    {
        var options = cwd is null ? Array.Empty<string>() : ["--cwd", cwd];
        if (Via != Via.Shim)
            return _root.Run(null, timeout ?? RuntimeRoot.Timeout, new[] { "exec" }.Concat(options).Append(id).Concat(argv).ToArray());
        var execId = "x" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        return _containerd!.Ctr(timeout ?? RuntimeRoot.Timeout, new[] { "tasks", "exec", "--exec-id", execId }.Concat(options).Append(id).Concat(argv).ToArray());
    }

    /// <summary>The container's init pid on the host.</summary>
    public int Pid(string id)
    {
        if (Via != Via.Shim)
            return _root.Pid(id);
        var line = _containerd!.CtrOk("tasks", "ls").Split('\n').First(l => l.StartsWith(id + " ", StringComparison.Ordinal));
        return int.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Kills and deletes the container (delete --force, or ctr task kill + delete -f and
    /// containers delete); the result of the delete.</summary>
    public CommandResult ForceDelete(string id)
    {
        if (Via != Via.Shim)
            return _root.Run("delete", "--force", id);
        return _containerd!.RemoveTask(id);
    }

    /// <summary>Asserts the container left nothing: state, cgroups, processes, mounts.</summary>
    public void AssertNothingLeft(TestBundle bundle)
    {
        if (Via == Via.Shim)
        {
            Xunit.Assert.DoesNotContain(bundle.Id, _containerd!.CtrOk("containers", "ls", "-q").Split('\n'));
            Xunit.Assert.False(Directory.Exists(_containerd.BundleDir(bundle.Id)), $"containerd's bundle {_containerd.BundleDir(bundle.Id)} is still there");
        }
        _root.AssertNothingLeft(bundle);
    }

    public void Dispose()
    {
        try
        {
            foreach (var id in _shimIds)
                ForceDelete(id);
            _root.Dispose();
        }
        finally
        {
            _hostDirs.Dispose();
        }
    }

    /// <summary>Adds a mount to a config.</summary>
    public static void AddMount(JsonObject config, string destination, string type, string source, params string[] options)
    {
        var m = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
            m["options"] = new JsonArray(options.Select(o => (JsonNode)JsonValue.Create(o)).ToArray());
        config["mounts"]!.AsArray().Add((JsonNode)m);
    }

    /// <summary>Adds capabilities to every set of process.capabilities.</summary>
    public static void AddCapabilities(JsonObject config, params string[] caps)
    {
        foreach (var set in new[] { "bounding", "effective", "permitted" })
        {
            foreach (var cap in caps)
                config["process"]!["capabilities"]![set]!.AsArray().Add((JsonNode)cap);
        }
    }

    /// <summary>SHA-256 of a file, hex.</summary>
    public static string Hash(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
