using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// csrt's settings from the runtime options containerd sends (on `start` stdin and in
/// CreateTaskRequest.options): runc's <c>containerd.runc.v1.Options</c> (runtime_type runc.v2 with
/// csrt as runtime_path, or `ctr --runc-*`), or CRI's <c>runtimeoptions.v1.Options</c> for any other
/// runtime type, whose <c>config_body</c> (or the file at <c>config_path</c>) holds the handler's
/// <c>[options]</c> table as TOML with runc's field names. Either form yields the same settings.
/// </summary>
public sealed record ShimOptions
{
    public const string RuncOptionsType = "containerd.runc.v1.Options";
    public const string RuntimeOptionsType = "runtimeoptions.v1.Options";

    /// <summary>The state root; containers' state goes under &lt;Root&gt;/&lt;namespace&gt;, as runc's shim does.</summary>
    public string Root { get; init; } = "";
    public uint IoUid { get; init; }
    public uint IoGid { get; init; }
    public bool NoPivotRoot { get; init; }
    public bool NoNewKeyring { get; init; }
    public bool SystemdCgroup { get; init; }
    public string BinaryName { get; init; } = "";
    public string ShimCgroup { get; init; } = "";
    public string CriuPath { get; init; } = "";
    public string CriuImagePath { get; init; } = "";
    public string CriuWorkPath { get; init; } = "";

    public static readonly ShimOptions None = new();

    /// <summary>The csrt state root for a containerd namespace under these options.</summary>
    public string RuntimeRoot(string ns) => Root.Length > 0 ? Path.Join(Root, ns) : ShimPaths.RuntimeRoot(ns);

    /// <summary>
    /// Decodes and checks <paramref name="any"/> (null or an empty type URL: no options; a type csrt does
    /// not read: no settings). <paramref name="where"/> names the source in errors.
    /// </summary>
    /// <exception cref="InvalidDataException">The options do not decode, the TOML is not what
    /// containerd writes, a key is unknown, or a value is out of range (the message names it).</exception>
    public static ShimOptions Decode(Any? any, string where)
    {
        if (any is null || any.TypeUrl.Length == 0)
            return None;
        var name = Containerd.TypeUrls.TypeName(any.TypeUrl);
        ShimOptions options;
        try
        {
            if (name.SequenceEqual(RuncOptionsType))
                options = FromRunc(Containerd.Runc.V1.Options.Parser.ParseFrom(any.Value));
            else if (name.SequenceEqual(RuntimeOptionsType))
                options = FromRuntimeOptions(Containerd.RuntimeOptions.V1.Options.Parser.ParseFrom(any.Value), where);
            else
                return None;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{where}: type {any.TypeUrl} does not decode: {e.Message}");
        }
        options.Check(where);
        return options;
    }

    private static ShimOptions FromRunc(Containerd.Runc.V1.Options o) => new()
    {
        Root = o.Root,
        IoUid = o.IoUid,
        IoGid = o.IoGid,
        NoPivotRoot = o.NoPivotRoot,
        NoNewKeyring = o.NoNewKeyring,
        SystemdCgroup = o.SystemdCgroup,
        BinaryName = o.BinaryName,
        ShimCgroup = o.ShimCgroup,
        CriuPath = o.CriuPath,
        CriuImagePath = o.CriuImagePath,
        CriuWorkPath = o.CriuWorkPath,
    };

    private static ShimOptions FromRuntimeOptions(Containerd.RuntimeOptions.V1.Options o, string where)
    {
        if (o.ConfigBody.Length > 0)
            return FromToml(o.ConfigBody.Span, $"{where}: runtimeoptions.v1.Options.config_body");
        if (o.ConfigPath.Length > 0)
        {
            byte[] body;
            try
            {
                body = File.ReadAllBytes(o.ConfigPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidDataException($"{where}: runtimeoptions.v1.Options.config_path {o.ConfigPath}: {e.Message}");
            }
            return FromToml(body, o.ConfigPath);
        }
        return None;
    }

    /// <summary>
    /// The handler's <c>[options]</c> table as containerd re-marshals it (go-toml: one <c>key = value</c>
    /// per line, basic or literal strings, integers, booleans) or as an operator writes a config_path
    /// file. Keys are runc's Options field names, matched without case as go-toml does; anything
    /// else (tables, arrays, unknown keys) is refused rather than dropped.
    /// </summary>
    internal static ShimOptions FromToml(ReadOnlySpan<byte> toml, string where)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(toml);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"{where}: not UTF-8 text");
        }
        var o = new ShimOptions();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var at = $"{where} line {lineNumber}";
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (line[0] == '[' || eq <= 0)
                throw new InvalidDataException($"{at}: expected key = value, got \"{line}\"");
            var key = UnquoteKey(line[..eq].Trim(), at);
            var value = StripComment(line[(eq + 1)..].Trim(), at);
            if (!seen.Add(key))
                throw new InvalidDataException($"{at}: key {key} given twice");
            switch (key.ToLowerInvariant())
            {
                case "root": o = o with { Root = String(value, at, key) }; break;
                case "iouid": o = o with { IoUid = UInt(value, at, key) }; break;
                case "iogid": o = o with { IoGid = UInt(value, at, key) }; break;
                case "nopivotroot": o = o with { NoPivotRoot = Bool(value, at, key) }; break;
                case "nonewkeyring": o = o with { NoNewKeyring = Bool(value, at, key) }; break;
                case "systemdcgroup": o = o with { SystemdCgroup = Bool(value, at, key) }; break;
                case "binaryname": o = o with { BinaryName = String(value, at, key) }; break;
                case "shimcgroup": o = o with { ShimCgroup = String(value, at, key) }; break;
                case "criupath": o = o with { CriuPath = String(value, at, key) }; break;
                case "criuimagepath": o = o with { CriuImagePath = String(value, at, key) }; break;
                case "criuworkpath": o = o with { CriuWorkPath = String(value, at, key) }; break;
                // runtimeoptions.v1.Options' own fields: containerd marshals the whole table, these included.
                case "typeurl": case "configpath": String(value, at, key); break;
                default:
                    throw new InvalidDataException(
                        $"{at}: unknown option {key} (csrt reads Root, IoUid, IoGid, NoPivotRoot, NoNewKeyring, SystemdCgroup, BinaryName, ShimCgroup, CriuPath, CriuImagePath, CriuWorkPath)");
            }
        }
        return o;
    }

    private static string UnquoteKey(string key, string at)
    {
        if (key.Length >= 2 && (key[0] == '"' || key[0] == '\'') && key[^1] == key[0])
            key = key[1..^1];
        if (key.Length == 0 || key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
            throw new InvalidDataException($"{at}: \"{key}\" is not a plain key");
        return key;
    }

    /// <summary>Drops a trailing comment outside a string.</summary>
    private static string StripComment(string value, string at)
    {
        if (value.Length > 0 && value[0] is '"' or '\'')
        {
            var close = value[0] == '\'' ? value.IndexOf('\'', 1) : ClosingQuote(value);
            if (close < 0)
                throw new InvalidDataException($"{at}: unterminated string {value}");
            var rest = value[(close + 1)..].Trim();
            if (rest.Length > 0 && rest[0] != '#')
                throw new InvalidDataException($"{at}: unexpected \"{rest}\" after the string");
            return value[..(close + 1)];
        }
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        return (hash >= 0 ? value[..hash] : value).Trim();
    }

    private static int ClosingQuote(string value)
    {
        for (var i = 1; i < value.Length; i++)
        {
            if (value[i] == '\\')
                i++;
            else if (value[i] == '"')
                return i;
        }
        return -1;
    }

    private static string String(string value, string at, string key)
    {
        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
            return value[1..^1];
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            var s = new StringBuilder();
            for (var i = 1; i < value.Length - 1; i++)
            {
                var c = value[i];
                if (c != '\\')
                {
                    s.Append(c);
                    continue;
                }
                if (++i >= value.Length - 1)
                    break;
                switch (value[i])
                {
                    case '"': s.Append('"'); break;
                    case '\\': s.Append('\\'); break;
                    case 'n': s.Append('\n'); break;
                    case 't': s.Append('\t'); break;
                    case 'r': s.Append('\r'); break;
                    case 'u' when i + 4 < value.Length - 1 && ushort.TryParse(value.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var u):
                        s.Append((char)u);
                        i += 4;
                        break;
                    default:
                        throw new InvalidDataException($"{at}: {key}: unsupported escape \\{value[i]}");
                }
            }
            return s.ToString();
        }
        throw new InvalidDataException($"{at}: {key} must be a string, got {value}");
    }

    private static bool Bool(string value, string at, string key) => value switch
    {
        "true" => true,
        "false" => false,
        _ => throw new InvalidDataException($"{at}: {key} must be true or false, got {value}"),
    };

    private static uint UInt(string value, string at, string key) =>
        uint.TryParse(value.Replace("_", "", StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new InvalidDataException($"{at}: {key} must be an integer from 0 to {uint.MaxValue}, got {value}");

    /// <summary>Refuses what csrt cannot do and must not silently skip.</summary>
    private void Check(string where)
    {
        if (Root.Length > 0 && (Root[0] != '/' || Root.Contains('\0', StringComparison.Ordinal)))
            throw new InvalidDataException($"{where}: Root \"{Root}\" is not an absolute path");
    }

    /// <summary>
    /// The settings for one task: its own CreateTaskRequest.options if it has any, else the shim's
    /// (from `start`). One shim keeps one state root, so a task naming another is refused.
    /// </summary>
    public ShimOptions ForTask(Any? taskOptions, string ns)
    {
        var task = Decode(taskOptions, "CreateTaskRequest.options");
        if (ReferenceEquals(task, None))
            return this;
        if (task.RuntimeRoot(ns) != RuntimeRoot(ns))
            throw new InvalidDataException(
                $"CreateTaskRequest.options: Root \"{task.Root}\" differs from the state root {RuntimeRoot(ns)} of the shim serving this pod");
        return task;
    }

    /// <summary>
    /// IoUid/IoGid: the task's FIFOs (plain paths; containerd makes them root-owned, mode 0700) are
    /// given to that user so a process in a user namespace can reopen its own stdio
    /// (/dev/stdout, /proc/self/fd/1) as runc's shim allows with its pipes.
    /// </summary>
    public void ChownFifos(string stdin, string stdout, string stderr)
    {
        if (IoUid == 0 && IoGid == 0)
            return;
        foreach (var path in (ReadOnlySpan<string>)[stdin, stdout, stderr])
        {
            if (path.Length == 0 || path.Contains("://", StringComparison.Ordinal))
                continue;
            try
            {
                Csrt.Linux.Files.Chown(path, IoUid, IoGid);
            }
            catch (Csrt.Linux.SyscallException e)
            {
                throw new IOException($"chown {path} to IoUid {IoUid} / IoGid {IoGid}: {e.Message}", e);
            }
        }
    }

    /// <summary>The bundle file naming a non-default state root, for `delete` (which gets no options).</summary>
    public const string StateRootFile = "csrt-state-root";

    /// <summary>Records a non-default state root in the bundle (before the container exists).</summary>
    public void RecordStateRoot(string bundle, string ns)
    {
        if (Root.Length > 0)
            Csrt.Linux.Files.WriteAtomic(Path.Combine(bundle, StateRootFile), Encoding.UTF8.GetBytes(RuntimeRoot(ns)), Csrt.Linux.FileModes.UserReadWriteOthersRead);
    }

    /// <summary>The state root <see cref="RecordStateRoot"/> wrote, else the default.</summary>
    public static string StateRootOf(string bundle, string ns) =>
        Csrt.Linux.Files.TryReadText(Path.Combine(bundle, StateRootFile))?.Trim() is { Length: > 0 } root && root[0] == '/'
            ? root
            : ShimPaths.RuntimeRoot(ns);

    /// <summary>The environment variable carrying `start`'s options Any (base64) to the daemon it spawns.</summary>
    internal const string DaemonEnvironment = "_CSRT_SHIM_OPTIONS";

    /// <summary>In the daemon: the options `start` passed, removed from the environment the containers inherit.</summary>
    internal static ShimOptions FromDaemonEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(DaemonEnvironment);
        if (value is null)
            return None;
        Environment.SetEnvironmentVariable(DaemonEnvironment, null);
        return Decode(Any.Parser.ParseFrom(Convert.FromBase64String(value)), "start stdin");
    }

    /// <summary>Settings that have no effect on csrt, each as a warning line for the shim's log.</summary>
    public IEnumerable<string> Ignored()
    {
        if (BinaryName.Length > 0)
            yield return $"runtime option BinaryName \"{BinaryName}\" ignored: csrt runs containers in-process, without a runtime binary";
        if (CriuPath.Length > 0 || CriuImagePath.Length > 0 || CriuWorkPath.Length > 0)
            yield return "runtime options CriuPath/CriuImagePath/CriuWorkPath ignored: csrt does not checkpoint";
    }
}
