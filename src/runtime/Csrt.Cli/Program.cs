namespace Csrt.Cli;

/// <summary>Entry of `csrt`. The container init path is dispatched before anything else is
/// initialised (see docs/architecture.md, "Memory is a feature").</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Csrt.Runtime.Processes.ContainerInit.Sentinel)
            return Csrt.Runtime.Processes.ContainerInit.Run();
        if (args.Length > 0 && args[0] == Csrt.Runtime.Images.NamespacedUnpack.Sentinel)
            return Csrt.Runtime.Images.NamespacedUnpack.RunChild(args);
        return CommandLine.Run(args);
    }
}
