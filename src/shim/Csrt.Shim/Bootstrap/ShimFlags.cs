namespace Csrt.Shim.Bootstrap;

/// <summary>
/// The shim's command line as containerd builds it, parsed with Go's flag rules: one or two dashes,
/// a value as the next argument or after '=', booleans take no value; the first non-flag argument is
/// the action (start, delete, or none: serve).
/// </summary>
public sealed class ShimFlags
{
    public string Namespace { get; private set; } = "";
    public string Id { get; private set; } = "";
    public string Address { get; private set; } = "";
    public string PublishBinary { get; private set; } = "";
    public string Bundle { get; private set; } = "";
    public string Socket { get; private set; } = "";
    public string DebugSocket { get; private set; } = "";
    public bool Debug { get; private set; }
    public bool Version { get; private set; }
    public bool Info { get; private set; }
    public string Action { get; private set; } = "";

    private static readonly HashSet<string> Booleans = new(StringComparer.Ordinal) { "debug", "v", "version", "info" };

    public static ShimFlags Parse(IReadOnlyList<string> args)
    {
        var f = new ShimFlags();
        var i = 0;
        for (; i < args.Count; i++)
        {
            var a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }
            if (a.Length < 2 || a[0] != '-')
                break;
            var name = a[(a[1] == '-' ? 2 : 1)..];
            if (name.Length == 0 || name[0] is '-' or '=')
                throw new ArgumentException($"bad flag syntax: {a}");
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            if (Booleans.Contains(name))
            {
                var on = value switch
                {
                    null or "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
                    "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
                    _ => throw new ArgumentException($"invalid boolean value \"{value}\" for -{name}: parse error"),
                };
                switch (name)
                {
                    case "debug": f.Debug = on; break;
                    case "v": case "version": f.Version = on; break;
                    case "info": f.Info = on; break;
                }
                continue;
            }
            if (value is null)
            {
                if (i + 1 >= args.Count)
                    throw new ArgumentException($"flag needs an argument: -{name}");
                value = args[++i];
            }
            switch (name)
            {
                case "namespace": f.Namespace = value; break;
                case "id": f.Id = value; break;
                case "address": f.Address = value; break;
                case "publish-binary": f.PublishBinary = value; break;
                case "bundle": f.Bundle = value; break;
                case "socket": f.Socket = value; break;
                case "debug-socket": f.DebugSocket = value; break;
                default: throw new ArgumentException($"flag provided but not defined: -{name}");
            }
        }
        if (i < args.Count)
            f.Action = args[i];
        return f;
    }
}
