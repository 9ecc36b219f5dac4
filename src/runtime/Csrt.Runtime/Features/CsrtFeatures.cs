using Csrt.Runtime.Rootfs;

namespace Csrt.Runtime.Features;

/// <summary>
/// The one features document of this build: `csrt features` prints it and the shim's `-info`
/// packs it for containerd, so the two can never disagree.
/// </summary>
public static class CsrtFeatures
{
    public static FeaturesDocument Document() => FeaturesDocument.Create(new FeaturesSupport
    {
        MountOptions = MountOptions.Known.ToList(),
        CgroupV1 = true,
        CgroupV2 = true,
        Systemd = false,
        SystemdUser = false,
        SeccompEnabled = true,
        SeccompSupportedFlags = new[] { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW" },
        AppArmor = false,
        SELinux = false,
    });
}
