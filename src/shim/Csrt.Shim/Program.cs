namespace Csrt.Shim;

/// <summary>Entry of `containerd-shim-csrt-v2`. The container init path comes first: the shim
/// re-executes its own sealed binary as the init of each container.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Csrt.Runtime.Processes.ContainerInit.Sentinel)
            return Csrt.Runtime.Processes.ContainerInit.Run();
        if (args.Length > 0 && args[0] is "-v" or "--version" or "-version")
        {
            Console.Out.Write($"containerd-shim-csrt-v2:\n  Version: {Csrt.Runtime.BuildInfo.Version}\n");
            return 0;
        }
        Console.Error.WriteLine("containerd-shim-csrt-v2: the shim is not built yet (issue 5)");
        return 1;
    }
}
