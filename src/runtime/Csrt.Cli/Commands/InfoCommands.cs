using System.CommandLine;
using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Features;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>list, ps, spec, features.</summary>
internal static class InfoCommands
{
    public static Command List()
    {
        var c = new Command("list", "lists containers started by csrt with the given root");
        var format = new Option<string>("--format", "-f") { Description = "select one of: table or json", DefaultValueFactory = _ => "table" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "display only container IDs" };
        c.AddOptions(format, quiet);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var states = ctx.Runtime.List();
            if (ctx.Get(quiet))
            {
                CliContext.Write(string.Concat(states.Select(s => s.Id + "\n")));
                return 0;
            }
            switch (ctx.Get(format))
            {
                case "json":
                    CliContext.Write(OciStateJson.SerializeList(states));
                    CliContext.Write("\n");
                    return 0;
                case "table":
                    var rows = new List<string[]> { new[] { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" } };
                    rows.AddRange(states.Select(s => new[]
                    {
                        s.Id, s.Pid.ToString(CultureInfo.InvariantCulture), s.Status.ToString().ToLowerInvariant(), s.Bundle,
                        s.Created?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) ?? "", s.Owner ?? "",
                    }));
                    CliContext.Write(Table(rows));
                    return 0;
                default:
                    throw new ArgumentException($"--format: expected table or json, got \"{ctx.Get(format)}\"");
            }
        }));
        return c;
    }

    /// <summary>Columns padded like Go's tabwriter (min width 12, padding 1), as `runc list` prints.</summary>
    private static string Table(List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
            for (var i = 0; i < row.Length; i++)
                widths[i] = Math.Max(widths[i], Math.Max(row[i].Length + 1, 12));
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
                sb.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i]));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    public static Command Ps()
    {
        var c = new Command("ps", "ps displays the processes running inside a container");
        var id = CommandLine.IdArgument();
        var psArgs = new Argument<string[]>("ps-options") { Arity = ArgumentArity.ZeroOrMore, Description = "options for ps (default: -ef)" };
        var format = new Option<string>("--format", "-f") { Description = "select one of: table or json", DefaultValueFactory = _ => "table" };
        c.Arguments.Add(id);
        c.Arguments.Add(psArgs);
        c.Options.Add(format);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var pids = ctx.Runtime.Pids(ctx.Get(id));
            if (ctx.Get(format) == "json")
            {
                CliContext.Write("[" + string.Join(",", pids.Select(p => p.ToString(CultureInfo.InvariantCulture))) + "]\n");
                return 0;
            }
            if (ctx.Get(format) != "table")
                throw new ArgumentException($"--format: expected table or json, got \"{ctx.Get(format)}\"");
            var options = ctx.Parse.GetValue(psArgs) is { Length: > 0 } given ? given : new[] { "-ef" };
            var ps = ExecutableLookup.Resolve("ps", new[] { "PATH=" + (Environment.GetEnvironmentVariable("PATH") ?? ExecutableLookup.DefaultPath) });
            var result = CommandRunner.Run(ps, new[] { "ps" }.Concat(options).ToList(), new[] { "PATH=" + ExecutableLookup.DefaultPath, "LC_ALL=C" },
                default, TimeSpan.FromSeconds(30), maxOutput: 16 << 20);
            if (result.Exit.Status != 0)
                throw CsrtException.Failed($"ps {string.Join(' ', options)} failed ({result.Exit.Status}): {result.Output.Trim()}");
            CliContext.Write(FilterPs(result.Output, pids));
            return 0;
        }));
        return c;
    }

    /// <summary>Keeps the header and the lines whose PID column is one of the container's pids.</summary>
    internal static string FilterPs(string output, IReadOnlyList<int> pids)
    {
        var lines = output.Split('\n');
        var header = lines[0];
        var columns = header.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var pidColumn = Array.IndexOf(columns, "PID");
        if (pidColumn < 0)
            throw CsrtException.InvalidArgument("ps output has no PID column; keep the default format or include pid");
        var wanted = pids.ToHashSet();
        var sb = new StringBuilder(header).Append('\n');
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > pidColumn && int.TryParse(fields[pidColumn], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && wanted.Contains(pid))
                sb.Append(line).Append('\n');
        }
        return sb.ToString();
    }

    public static Command Spec()
    {
        var c = new Command("spec", "create a new specification file (config.json)");
        var bundle = new Option<string>("--bundle", "-b") { Description = "path to the root of the bundle directory", DefaultValueFactory = _ => "." };
        var rootless = new Option<bool>("--rootless") { Description = "generate a configuration for a rootless container" };
        c.AddOptions(bundle, rootless);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var path = Path.Combine(ctx.Get(bundle), "config.json");
            if (File.Exists(path))
                throw new IOException($"File {path} exists. Remove it first");
            var spec = DefaultSpec.Create(ctx.Get(rootless), ProcessControl.GetEffectiveUid(), ProcessControl.GetEffectiveGid());
            File.WriteAllBytes(path, SpecJson.Serialize(spec, indented: true));
            return 0;
        }));
        return c;
    }

    public static Command Features()
    {
        var c = new Command("features", "show the enabled features");
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            // The same document the shim packs into -info.
            var document = FeaturesDocument.Create();
            CliContext.Write(FeaturesJson.Serialize(document));
            CliContext.Write("\n");
            return 0;
        }));
        return c;
    }
}
