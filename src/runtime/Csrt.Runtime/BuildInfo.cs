using System.Reflection;

namespace Csrt.Runtime;

/// <summary>Version strings shown by `--version` and `features`.</summary>
public static class BuildInfo
{
    public static string Version { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "0.0.0";

    /// <summary>The OCI runtime-spec version this runtime implements.</summary>
    public const string OciVersion = "1.2.0";
}
