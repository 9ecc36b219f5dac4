using Csrt.Shim.Bootstrap;

namespace Csrt.Shim;

/// <summary>Entry of `containerd-shim-csrt-v2`. The container init path comes first: the shim
/// re-executes its own sealed binary as the init of each container.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Csrt.Runtime.Processes.ContainerInit.Sentinel)
            return Csrt.Runtime.Processes.ContainerInit.Run();
        ShimFlags flags;
        try
        {
            flags = ShimFlags.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        if (flags.Version)
        {
            Console.Out.Write($"containerd-shim-csrt-v2:\n  Version:  {Csrt.Runtime.BuildInfo.Version}\n  Revision: csrt\n  Go version: n/a (.NET NativeAOT)\n");
            return 0;
        }
        if (flags.Info)
        {
            try
            {
                return InfoCommand.Run();
            }
            catch (Exception e)
            {
                // containerd shows stderr in "failed to run [<shim> -info]".
                Console.Error.WriteLine($"containerd-shim-csrt-v2 -info: {e.Message}");
                return 1;
            }
        }
        try
        {
            return flags.Action switch
            {
                "start" => StartCommand.Run(flags),
                "delete" => DeleteCommand.Run(flags),
                "" => ServeCommand.Run(flags),
                _ => Unknown(flags.Action),
            };
        }
        catch (Exception e)
        {
            // start and delete: containerd shows this text; serve: it goes to the log FIFO.
            Console.Error.WriteLine($"containerd-shim-csrt-v2 {flags.Action}: {e.Message}");
            return 1;
        }
    }

    private static int Unknown(string action)
    {
        Console.Error.WriteLine($"containerd-shim-csrt-v2: unknown action \"{action}\" (expected start, delete, or none to serve)");
        return 2;
    }
}
