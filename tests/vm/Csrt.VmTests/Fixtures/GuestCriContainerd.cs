using System.Security.Cryptography;
using Csrt.TestSupport;
using Grpc.Net.Client;

namespace Csrt.VmTests.Fixtures;

/// <summary>
/// A containerd of the test's own in the guest (Debian's, in the image) with the CRI plugin, configured as a
/// kubelet node with <c>cgroupDriver: systemd</c> needs it: handler <see cref="CsrtHandler"/> is the csrt shim
/// with <c>SystemdCgroup = true</c> (in its ConfigPath file, as containerd 1.6 passes options), handler
/// <see cref="RuncShimHandler"/> is containerd's runc shim running csrt as its BinaryName with SystemdCgroup set.
/// It runs as a transient service of the guest; its CRI socket is forwarded to a Unix socket on the host
/// through the guest's ssh connection, so <see cref="CriPod"/> drives it from this process. Its log and the pods'
/// log directories live on the writable share (<see cref="Dir"/>), which host and guest see at the same path.
/// </summary>
internal sealed class GuestCriContainerd : ICriContainerd, IAsyncDisposable
{
    public const string CsrtHandler = "csrt";
    public const string RuncShimHandler = "runc-csrt";
    public const string PauseImage = "localhost/csrt/pause:3.9";
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    private readonly GuestFixture _guest;
    private readonly string _name = "cri-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private bool _forwarded;

    private GuestCriContainerd(GuestFixture guest) => _guest = guest;

    /// <summary>On the writable share: containerd's log and the pods' log directories (same path on host and guest).</summary>
    public string Dir => Path.Combine(_guest.SharedDir, _name);

    /// <summary>In the guest: config, sockets, state, CNI config.</summary>
    private string RunDir => $"/run/csrt-vm-{_name}";

    /// <summary>In the guest, on its own disk: containerd's root (images, snapshots) and the CNI IPAM data.</summary>
    private string VarDir => $"/var/lib/csrt-vm/{_name}";

    private string Socket => $"{RunDir}/containerd.sock";

    private string HostSocket => Path.Combine(_guest.StateDir, _name + ".sock");

    private string Service => $"csrt-vm-{_name}.service";

    /// <summary>ctr on this containerd, in CRI's namespace (a guest command).</summary>
    public string Ctr => $"ctr --address {Socket} --namespace k8s.io";

    private string LogPath => Path.Combine(Dir, "containerd.log");

    /// <summary>Starts containerd in the guest, imports the pause and busybox images into CRI's namespace, forwards the socket.</summary>
    public static async Task<GuestCriContainerd> StartAsync(GuestFixture guest)
    {
        var ctd = new GuestCriContainerd(guest);
        try
        {
            await ctd.LaunchAsync();
            return ctd;
        }
        catch
        {
            await ctd.DisposeAsync();
            throw;
        }
    }

    private async Task LaunchAsync()
    {
        var bin = Path.Combine(_guest.RepoRoot, "out", "bin");
        var config = $$"""
            version = 2
            root = "{{VarDir}}/root"
            state = "{{RunDir}}/state"
            disabled_plugins = [
              "io.containerd.snapshotter.v1.aufs",
              "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.devmapper",
              "io.containerd.snapshotter.v1.zfs",
              "io.containerd.tracing.processor.v1.otlp",
              "io.containerd.internal.v1.tracing",
            ]
            [grpc]
              address = "{{Socket}}"
            [ttrpc]
              address = "{{Socket}}.ttrpc"
            [debug]
              level = "info"
            [plugins."io.containerd.internal.v1.opt"]
              path = "{{VarDir}}/opt"
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{{PauseImage}}"
              # The guest kernel has AppArmor but the image no apparmor_parser to load CRI's profile.
              disable_apparmor = true
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "{{CsrtHandler}}"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{CsrtHandler}}]
                  runtime_type = "io.containerd.csrt.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{CsrtHandler}}.options]
                    ConfigPath = "{{RunDir}}/csrt-shim.toml"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{RuncShimHandler}}]
                  runtime_type = "io.containerd.runc.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{RuncShimHandler}}.options]
                    BinaryName = "{{bin}}/csrt"
                    SystemdCgroup = true
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "/usr/lib/cni"
                conf_dir = "{{RunDir}}/cni"
                max_conf_num = 1
            """;
        // A bridge without IP masquerade (the image has no iptables) plus loopback.
        var cni = $$"""
            {
              "cniVersion": "0.4.0",
              "name": "csrt-vm",
              "plugins": [
                {
                  "type": "bridge", "bridge": "csrtvm0", "isGateway": true, "ipMasq": false,
                  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.232.0.0/24" }]], "dataDir": "{{VarDir}}/cni-ipam" }
                },
                { "type": "loopback" }
              ]
            }
            """;
        var images = Path.Combine(_guest.RepoRoot, "out", "images");
        await _guest.OkAsync(
            $"set -e; mkdir -p {RunDir}/cni {VarDir} {GuestFixture.Quote(Dir)}; " +
            $"echo {GuestFixture.Quote(config)} > {RunDir}/config.toml; echo {GuestFixture.Quote(cni)} > {RunDir}/cni/10-csrt-vm.conflist; " +
            $"echo 'SystemdCgroup = true' > {RunDir}/csrt-shim.toml; " +
            // The csrt shim and csrt on containerd's PATH; the log on the share, readable from the host.
            $"systemd-run --unit={Service} --setenv=PATH={bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin " +
            $"-p StandardOutput=append:{GuestFixture.Quote(LogPath)} -p StandardError=append:{GuestFixture.Quote(LogPath)} " +
            $"containerd --config {RunDir}/config.toml; " +
            $"ok=; for i in $(seq 300); do {Ctr} version >/dev/null 2>&1 && {{ ok=1; break; }}; sleep 0.2; done; " +
            $"[ -n \"$ok\" ] || {{ tail -n 30 {GuestFixture.Quote(LogPath)} >&2; exit 1; }}; " +
            $"{Ctr} images import {images}/pause.oci.tar >/dev/null; {Ctr} images import {images}/busybox.oci.tar >/dev/null; " +
            // CRI adds imported images to its cache asynchronously and then labels them; a pod started
            // before that would try to pull the pause image from a registry.
            $"for i in $(seq 300); do [ $({Ctr} images ls | grep -c 'io.cri-containerd.image=managed') -ge 2 ] && exit 0; sleep 0.2; done; " +
            "echo 'CRI did not pick up the imported images' >&2; exit 1",
            Long);
        await _guest.ForwardAsync(HostSocket, Socket);
        _forwarded = true;
    }

    public GrpcChannel OpenGrpcChannel() => UnixSocketGrpc.Open(HostSocket);

    public string ReadLog()
    {
        if (!File.Exists(LogPath))
            return $"(no {LogPath})";
        using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>
    /// Removes whatever a failed test left (tasks killed and deleted through containerd, so their shims
    /// stop their scopes), stops containerd, then any scope still there; removes containerd's directories.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_forwarded)
                await _guest.CancelForwardAsync(HostSocket, Socket);
        }
        finally
        {
            await _guest.RunAsync(
                $"if systemctl is-active --quiet {Service}; then " +
                $"for t in $({Ctr} tasks ls -q); do {Ctr} tasks kill -a -s KILL $t; done; " +
                $"for t in $({Ctr} tasks ls -q); do {Ctr} tasks delete -f $t; done; " +
                $"for c in $({Ctr} containers ls -q); do {Ctr} containers delete $c; done; fi; " +
                $"systemctl stop {Service}; systemctl reset-failed {Service} 2>/dev/null; " +
                "systemctl stop 'cri-containerd-*.scope' 2>/dev/null; " +
                $"for m in $(grep -o \" {RunDir}/[^ ]*\\| {VarDir}/[^ ]*\" /proc/self/mounts | sort -r); do umount -l $m; done; " +
                $"ip link delete csrtvm0 2>/dev/null; rm -rf {RunDir} {VarDir} {GuestFixture.Quote(Dir)}; true",
                Long);
        }
    }
}
