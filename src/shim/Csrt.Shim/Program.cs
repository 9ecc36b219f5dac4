using Csrt.Shim.Bootstrap;

namespace Csrt.Shim;

/// <summary>Entry of `containerd-shim-csrt-v2`. The shim re-executes its own sealed binary as the
/// init of each container (`&lt;binary&gt; init`), which the native start-up runs in C (csrt_init.c)
/// before the .NET runtime starts: it never gets here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
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
