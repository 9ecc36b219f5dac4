using System.CommandLine;

namespace Csrt.Cli;

/// <summary>The runc-compatible command tree. Each command parses its flags and calls one
/// runtime-core operation; nothing else lives here.</summary>
internal static class CommandLine
{
    internal static int Run(string[] args)
    {
        var root = new RootCommand("csrt: an OCI container runtime (runc-compatible command line)");
        return root.Parse(args).Invoke();
    }
}
