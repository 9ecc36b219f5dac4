using System.Diagnostics;
using System.Text;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>What a finished command printed and how it exited.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws naming the command, its exit code and its stderr unless it exited 0.</summary>
    public CommandResult EnsureSuccess()
    {
        if (ExitCode != 0)
            throw new CommandFailedException(this);
        return this;
    }

    public override string ToString() =>
        $"`{Command}` exited {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

public sealed class CommandFailedException(CommandResult result)
    : Exception($"{result.Command} failed with exit code {result.ExitCode} (expected 0): {result.Stderr.Trim()}"
        + (result.Stdout.Length > 0 ? $"\nstdout: {result.Stdout.Trim()}" : ""))
{
    public CommandResult Result { get; } = result;
}

/// <summary>Runs host tools (ctr, chroot, ip, mount …) for tests. Test code only: src/ never starts processes this way.</summary>
public static class Commands
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static CommandResult Run(string file, params string[] args) => Run(file, args, DefaultTimeout);

    /// <summary>A start of <paramref name="file"/> with all three stdio streams redirected.</summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
                psi.Environment[k] = v;
        }
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        return psi;
    }

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>, feeding <paramref name="stdin"/> (or an
    /// empty stdin), and waits at most <paramref name="timeout"/>; on timeout the process tree is killed and
    /// a <see cref="TimeoutException"/> carries what it printed so far.
    /// </summary>
    public static CommandResult Run(string file, IEnumerable<string> args, TimeSpan timeout,
        string? stdin = null, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var psi = StartInfo(file, args, environment, workingDirectory);
        psi.StandardOutputEncoding = Encoding.UTF8;
        psi.StandardErrorEncoding = Encoding.UTF8;
        var display = Describe(file, psi.ArgumentList);

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {display}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
                p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // The tool exited without reading its stdin; its exit code tells the story.
        }

        if (!p.WaitForExit(timeout))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            throw new TimeoutException($"{display} did not finish within {timeout.TotalSeconds:0.#} s; "
                + $"stdout so far: {Partial(stdout)}; stderr so far: {Partial(stderr)}");
        }
        // A daemon started by the tool may keep the pipes open; do not wait for it forever.
        var drained = Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10));
        return new CommandResult(display, p.ExitCode,
            drained || stdout.IsCompleted ? stdout.Result : "<stdout still held open by a child>",
            drained || stderr.IsCompleted ? stderr.Result : "<stderr still held open by a child>");
    }

    /// <summary>Runs the command and throws <see cref="CommandFailedException"/> unless it exits 0; returns stdout.</summary>
    public static string RunOk(string file, params string[] args) => Run(file, args, DefaultTimeout).EnsureSuccess().Stdout;

    /// <summary>Runs a bash script (bash -c) with a timeout.</summary>
    public static CommandResult Bash(string script, TimeSpan? timeout = null) =>
        Run("/bin/bash", ["-c", script], timeout ?? DefaultTimeout);

    internal static string Describe(string file, IEnumerable<string> args) =>
        string.Join(' ', new[] { file }.Concat(args).Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));

    private static string Partial(Task<string> t) => t.IsCompletedSuccessfully ? t.Result : "<not finished>";
}
