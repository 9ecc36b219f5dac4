namespace Csrt.Cli;

/// <summary>Entry of `csrt`. `csrt init` (the container init) never gets here: the binary's native
/// start-up runs it in C (csrt_spawn.c, csrt_init.c) before the .NET runtime starts.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        return CommandLine.Run(args);
    }
}
