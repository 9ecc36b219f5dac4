namespace Csrt.Runtime.Functions;

/// <summary>One call of a function as `csrt fn run` takes it: a rootfs and a command line, the
/// contract's few knobs, and nothing else to configure.</summary>
public sealed class FunctionRequest
{
    /// <summary>The root filesystem (a directory, or an image's unpacked rootfs).</summary>
    public required string Rootfs { get; init; }

    /// <summary>The image's run config; null for a plain --rootfs.</summary>
    public Images.OciRunConfig? Image { get; init; }

    /// <summary>The arguments after `--`: they replace the image's Cmd (docker run's rule); null: none given.</summary>
    public IReadOnlyList<string>? Args { get; init; }

    /// <summary>The caller's environment, as K=V (TMPDIR is dropped from it).</summary>
    public IReadOnlyList<string> CallerEnv { get; init; } = [];

    /// <summary>--env-clear: pass none of the caller's environment.</summary>
    public bool EnvClear { get; init; }

    /// <summary>--env K=V, applied last.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>--network host: the host's network namespace instead of a new one holding only lo.</summary>
    public bool HostNetwork { get; init; }

    /// <summary>--mount SRC:DST[:ro].</summary>
    public IReadOnlyList<FunctionMount> Mounts { get; init; } = [];

    /// <summary>--memory in bytes.</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>--cpus, in CPUs (0.5: half of one).</summary>
    public double? Cpus { get; init; }

    /// <summary>--pids: the most processes at once.</summary>
    public long? Pids { get; init; }

    /// <summary>Rootless: the user namespace that makes the caller root of the container; null as root.</summary>
    public UserNamespaceMappings? UserNamespace { get; init; }

    /// <summary>-t: a terminal for the process.</summary>
    public bool Terminal { get; init; }
}

/// <summary>A host path bind-mounted into the function's container.</summary>
public sealed record FunctionMount(string Source, string Destination, bool ReadOnly);
