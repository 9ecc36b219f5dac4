namespace Csrt.Cli;

/// <summary>Entry of `csrt`. `csrt init` (the container init) never gets here: the binary's native
/// start-up runs it in C (csrt_spawn.c, csrt_init.c) before the .NET runtime starts.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // The child of a rootless image unpack, in the user namespace with the container's mappings.
        if (args.Length > 0 && args[0] == Csrt.Runtime.Images.NamespacedUnpack.Sentinel)
            return Csrt.Runtime.Images.NamespacedUnpack.RunChild(args);
        return CommandLine.Run(args);
    }
}
