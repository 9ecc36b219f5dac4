using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Csrt.VmTests.Fixtures;

/// <summary>
/// An OCI bundle in the guest, under <see cref="GuestFixture.BundlesDir"/>: a copy of the host's busybox
/// rootfs (read over the 9p share) and the given config.json. Dispose force-deletes the container of the
/// same id with csrt (whatever state the test left it in) and removes the bundle.
/// </summary>
public sealed class GuestBundle : IAsyncDisposable
{
    private readonly GuestFixture _guest;

    private GuestBundle(GuestFixture guest, string id)
    {
        _guest = guest;
        Id = id;
        Dir = $"{GuestFixture.BundlesDir}/{id}";
    }

    /// <summary>The container id this bundle was made for (also the directory name).</summary>
    public string Id { get; }

    /// <summary>The bundle directory in the guest.</summary>
    public string Dir { get; }

    /// <summary>A file in the bundle directory where <see cref="RunDetachedAsync"/> sends the container's output.</summary>
    public string OutputLog => $"{Dir}/output.log";

    /// <summary>A fresh container id: <c>&lt;prefix&gt;-&lt;12 hex&gt;</c>.</summary>
    public static string NewId(string prefix = "vm") =>
        $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    /// <summary>Makes the bundle in the guest: rootfs copied from the busybox image, <paramref name="config"/> as config.json.</summary>
    public static async Task<GuestBundle> CreateAsync(GuestFixture guest, JsonObject config, string? id = null)
    {
        var bundle = new GuestBundle(guest, id ?? NewId());
        var json = Convert.ToBase64String(Encoding.UTF8.GetBytes(config.ToJsonString()));
        var r = await guest.RunAsync(
            $"set -e; mkdir -p {bundle.Dir}; cp -a {GuestFixture.Quote(guest.BusyboxRootfs)} {bundle.Dir}/rootfs; " +
            $"echo {json} | base64 -d > {bundle.Dir}/config.json", GuestFixture.DefaultTimeout);
        if (!r.Succeeded)
        {
            await guest.RunAsync($"rm -rf {bundle.Dir}", GuestFixture.DefaultTimeout);
            r.EnsureSuccess();
        }
        return bundle;
    }

    /// <summary>
    /// <c>csrt run --detach</c> with the container's stdio on <see cref="OutputLog"/> (a detached container must
    /// not hold ssh's pipes); throws with csrt's error unless it succeeded.
    /// </summary>
    public async Task RunDetachedAsync(params string[] globalArgs)
    {
        var global = string.Join(' ', globalArgs.Select(GuestFixture.Quote));
        var r = await _guest.RunAsync(
            $"{_guest.Csrt} {global} run --detach --bundle {Dir} {Id} </dev/null >{OutputLog} 2>&1 || {{ s=$?; cat {OutputLog} >&2; exit $s; }}",
            GuestFixture.DefaultTimeout);
        r.EnsureSuccess();
    }

    /// <summary>The container's init pid (<c>csrt state</c>).</summary>
    public async Task<int> PidAsync()
    {
        var state = JsonNode.Parse(await _guest.OkAsync($"{_guest.Csrt} state {Id}"))!;
        return state["pid"]!.GetValue<int>();
    }

    /// <summary>The container's cgroup path below /sys/fs/cgroup, read from its init's /proc/PID/cgroup.</summary>
    public async Task<string> CgroupDirAsync()
    {
        var pid = await PidAsync();
        var line = (await _guest.OkAsync($"cat /proc/{pid}/cgroup")).Trim();
        // The unified hierarchy's only line: "0::/path".
        var path = line.Split('\n').Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        return "/sys/fs/cgroup" + path;
    }

    public async ValueTask DisposeAsync()
    {
        await _guest.RunAsync($"{_guest.Csrt} delete --force {Id} >/dev/null 2>&1; rm -rf {Dir}", GuestFixture.DefaultTimeout);
    }
}
