using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// Host devices under a deny-all device cgroup (<c>linux.resources.devices</c> = deny rwm, as
/// runc's default spec has): a container given CAP_MKNOD and CAP_SYSLOG makes nodes for the
/// host's kernel log (/dev/kmsg, c 1:11) and for a disk of the host, and reads them. The cgroup
/// must refuse the reads (runc's default rules, which csrt follows, allow mknod of any node, so
/// the open is where it stops). The positive control runs the same payload under runc with
/// /dev/kmsg allowed: it reads the host's kernel log, so the payload does reach a device where
/// the cgroup lets it.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class DeviceAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private const string Payload =
        "for node in \"disk b $0 $1\" \"kmsg c 1 11\"; do set -- $node; "
        + "mknod /dev/host-$1 $2 $3 $4 2>/dev/null && echo \"mknod-$1=ok\" || echo \"mknod-$1=refused\"; "
        + "echo \"read-$1=$(head -c 100 /dev/host-$1 2>/dev/null | wc -c)\"; done";

    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    /// <summary>The major and minor of a block device of the host (a disk, else a loop device).</summary>
    private static (int Major, int Minor) HostDisk()
    {
        var disks = Directory.GetDirectories("/sys/block").Select(Path.GetFileName).OrderBy(d => d!.StartsWith("loop", StringComparison.Ordinal) || d.StartsWith("zram", StringComparison.Ordinal) || d.StartsWith("ram", StringComparison.Ordinal)).ToList();
        var dev = File.ReadAllText(Path.Combine("/sys/block", disks[0]!, "dev")).Trim().Split(':');
        return (int.Parse(dev[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(dev[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static Fixtures.TestBundle Bundle(AttackTarget target, (int Major, int Minor) disk, bool allow)
    {
        return target.Bundle(["sh", "-c", Payload, disk.Major.ToString(System.Globalization.CultureInfo.InvariantCulture), disk.Minor.ToString(System.Globalization.CultureInfo.InvariantCulture)], c =>
        {
            AttackTarget.AddCapabilities(c, "CAP_MKNOD", "CAP_SYS_RAWIO", "CAP_SYSLOG");
            if (allow)
            {
                var devices = c["linux"]!["resources"]!["devices"]!.AsArray();
                devices.Add((JsonNode)new JsonObject { ["allow"] = true, ["type"] = "b", ["major"] = disk.Major, ["minor"] = disk.Minor, ["access"] = "rwm" });
                devices.Add((JsonNode)new JsonObject { ["allow"] = true, ["type"] = "c", ["major"] = 1, ["minor"] = 11, ["access"] = "rwm" });
            }
        });
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void UnderADenyAllDeviceCgroup_ANodeMadeForAHostDevice_CannotBeRead(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "devices");
        var bundle = Bundle(target, HostDisk(), allow: false);

        var result = target.Run(bundle);

        _log.WriteLine(result.ToString());
        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("read-disk=0", lines);
        Assert.Contains("read-kmsg=0", lines);
    }

    [Fact]
    public void PositiveControl_UnderRunc_WithTheDeviceAllowed_ThePayloadReadsTheHostsKernelLog()
    {
        using var target = new AttackTarget(Via.Runc, _containerd, "devices-control");
        var bundle = Bundle(target, HostDisk(), allow: true);

        var result = target.Run(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("mknod-kmsg=ok", lines);
        Assert.Contains("read-kmsg=100", lines);
    }
}
