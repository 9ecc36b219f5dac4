using System.Text.Json;

namespace Csrt.Runtime.Spec;

/// <summary>
/// config.json read by hand with <see cref="Utf8JsonReader"/>: the fast path of
/// <see cref="SpecLoader"/>. System.Text.Json builds metadata for every type of the spec model
/// on first use, which under NativeAOT costs `create` far more than the parse itself
/// (docs/benchmarks.md, runtime: `config.json` read by hand). This reader only accepts what the serializer would read to the same
/// objects (SpecJsonContext's rules: property names in any letter case, unknown members skipped,
/// strict numbers, null only where the model has a nullable, no comments or trailing commas,
/// duplicate members: the last wins); anything else (a null, a string for a number, a number out
/// of range, a non-ASCII member name, malformed JSON) makes it give up, and the serializer parses
/// the document and reports the error with its JSON path. SpecReaderTests fails when a property
/// of the model is not read here.
/// </summary>
internal static class SpecReader
{
    /// <summary>The spec, or null when the serializer must decide (invalid or unusual input).</summary>
    public static RuntimeSpec? TryRead(ReadOnlySpan<byte> json)
    {
        var r = new Utf8JsonReader(json, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false, MaxDepth = 64,
        });
        try
        {
            if (!r.Read())
                return null;
            var spec = Obj(ref r, new RuntimeSpec(), ReadSpecMember);
            return r.Read() ? null : spec; // anything after the document is an error
        }
        catch (GiveUp)
        {
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null; // a Get* on a token of another type
        }
    }

    private sealed class GiveUp : Exception
    {
    }

    private delegate T Item<T>(ref Utf8JsonReader r);

    private delegate void Member<T>(ref Utf8JsonReader r, T target, string name);

    // ---- the model, in the declaration order of RuntimeSpec.cs, LinuxConfig.cs, LinuxResources.cs

    private static void ReadSpecMember(ref Utf8JsonReader r, RuntimeSpec s, string name)
    {
        switch (name)
        {
            case "ociversion": s.OciVersion = Str(ref r); break;
            case "process": s.Process = Null(ref r) ? null : Obj(ref r, new Process(), ReadProcessMember); break;
            case "root": s.Root = Null(ref r) ? null : Obj(ref r, new Root(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "path": o.Path = Str(ref r); break;
                    case "readonly": o.Readonly = Bool(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "hostname": s.Hostname = StrOrNull(ref r); break;
            case "domainname": s.Domainname = StrOrNull(ref r); break;
            case "mounts": s.Mounts = ListOrNull(ref r, static (ref r) => Obj(ref r, new Mount(), ReadMountMember)); break;
            case "hooks": s.Hooks = Null(ref r) ? null : Obj(ref r, new LifecycleHooks(), ReadHooksMember); break;
            case "annotations": s.Annotations = Strings(ref r); break;
            case "linux": s.Linux = Null(ref r) ? null : Obj(ref r, new LinuxConfig(), ReadLinuxMember); break;
            default: Skip(ref r); break;
        }
    }

    private static void ReadProcessMember(ref Utf8JsonReader r, Process p, string name)
    {
        switch (name)
        {
            case "terminal": p.Terminal = Bool(ref r); break;
            case "consolesize": p.ConsoleSize = Null(ref r) ? null : Obj(ref r, new ConsoleSize(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "height": o.Height = U32(ref r); break;
                    case "width": o.Width = U32(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "user": p.User = Obj(ref r, new User(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "uid": o.Uid = U32(ref r); break;
                    case "gid": o.Gid = U32(ref r); break;
                    case "umask": o.Umask = Null(ref r) ? null : U32(ref r); break;
                    case "additionalgids": o.AdditionalGids = ListOrNull(ref r, U32); break;
                    case "username": o.Username = StrOrNull(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "args": p.Args = ListOrNull(ref r, Str); break;
            case "commandline": p.CommandLine = StrOrNull(ref r); break;
            case "env": p.Env = ListOrNull(ref r, Str); break;
            case "cwd": p.Cwd = Str(ref r); break;
            case "capabilities": p.Capabilities = Null(ref r) ? null : Obj(ref r, new LinuxCapabilities(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "bounding": o.Bounding = ListOrNull(ref r, Str); break;
                    case "effective": o.Effective = ListOrNull(ref r, Str); break;
                    case "inheritable": o.Inheritable = ListOrNull(ref r, Str); break;
                    case "permitted": o.Permitted = ListOrNull(ref r, Str); break;
                    case "ambient": o.Ambient = ListOrNull(ref r, Str); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "rlimits": p.Rlimits = ListOrNull(ref r, static (ref r) => Obj(ref r, new PosixRlimit(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "type": o.Type = Str(ref r); break;
                    case "hard": o.Hard = U64(ref r); break;
                    case "soft": o.Soft = U64(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "nonewprivileges": p.NoNewPrivileges = Bool(ref r); break;
            case "apparmorprofile": p.ApparmorProfile = StrOrNull(ref r); break;
            case "oomscoreadj": p.OomScoreAdj = Null(ref r) ? null : I32(ref r); break;
            case "scheduler": p.Scheduler = Null(ref r) ? null : Obj(ref r, new Scheduler(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "policy": o.Policy = Str(ref r); break;
                    case "nice": o.Nice = I32(ref r); break;
                    case "priority": o.Priority = I32(ref r); break;
                    case "flags": o.Flags = ListOrNull(ref r, Str); break;
                    case "runtime": o.Runtime = U64(ref r); break;
                    case "deadline": o.Deadline = U64(ref r); break;
                    case "period": o.Period = U64(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "selinuxlabel": p.SelinuxLabel = StrOrNull(ref r); break;
            case "iopriority": p.IoPriority = Null(ref r) ? null : Obj(ref r, new IoPriority(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "class": o.Class = Str(ref r); break;
                    case "priority": o.Priority = I32(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "execcpuaffinity": p.ExecCpuAffinity = Null(ref r) ? null : Obj(ref r, new ExecCpuAffinity(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "initial": o.Initial = StrOrNull(ref r); break;
                    case "final": o.Final = StrOrNull(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            default: Skip(ref r); break;
        }
    }

    private static void ReadMountMember(ref Utf8JsonReader r, Mount m, string name)
    {
        switch (name)
        {
            case "destination": m.Destination = Str(ref r); break;
            case "type": m.Type = StrOrNull(ref r); break;
            case "source": m.Source = StrOrNull(ref r); break;
            case "options": m.Options = ListOrNull(ref r, Str); break;
            case "uidmappings": m.UidMappings = ListOrNull(ref r, IdMapping); break;
            case "gidmappings": m.GidMappings = ListOrNull(ref r, IdMapping); break;
            default: Skip(ref r); break;
        }
    }

    private static void ReadHooksMember(ref Utf8JsonReader r, LifecycleHooks h, string name)
    {
        switch (name)
        {
            case "prestart": h.Prestart = ListOrNull(ref r, Hook); break;
            case "createruntime": h.CreateRuntime = ListOrNull(ref r, Hook); break;
            case "createcontainer": h.CreateContainer = ListOrNull(ref r, Hook); break;
            case "startcontainer": h.StartContainer = ListOrNull(ref r, Hook); break;
            case "poststart": h.Poststart = ListOrNull(ref r, Hook); break;
            case "poststop": h.Poststop = ListOrNull(ref r, Hook); break;
            default: Skip(ref r); break;
        }
    }

    private static Hook Hook(ref Utf8JsonReader r) => Obj(ref r, new Hook(), static (ref r, o, n) =>
    {
        switch (n)
        {
            case "path": o.Path = Str(ref r); break;
            case "args": o.Args = ListOrNull(ref r, Str); break;
            case "env": o.Env = ListOrNull(ref r, Str); break;
            case "timeout": o.Timeout = Null(ref r) ? null : I32(ref r); break;
            default: Skip(ref r); break;
        }
    });

    private static void ReadLinuxMember(ref Utf8JsonReader r, LinuxConfig l, string name)
    {
        switch (name)
        {
            case "uidmappings": l.UidMappings = ListOrNull(ref r, IdMapping); break;
            case "gidmappings": l.GidMappings = ListOrNull(ref r, IdMapping); break;
            case "sysctl": l.Sysctl = Strings(ref r); break;
            case "resources": l.Resources = Null(ref r) ? null : Obj(ref r, new LinuxResources(), ReadResourcesMember); break;
            case "cgroupspath": l.CgroupsPath = StrOrNull(ref r); break;
            case "namespaces": l.Namespaces = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxNamespace(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "type": o.Type = Str(ref r); break;
                    case "path": o.Path = StrOrNull(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "devices": l.Devices = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxDevice(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "type": o.Type = Str(ref r); break;
                    case "path": o.Path = Str(ref r); break;
                    case "major": o.Major = Null(ref r) ? null : I64(ref r); break;
                    case "minor": o.Minor = Null(ref r) ? null : I64(ref r); break;
                    case "filemode": o.FileMode = Null(ref r) ? null : U32(ref r); break;
                    case "uid": o.Uid = Null(ref r) ? null : U32(ref r); break;
                    case "gid": o.Gid = Null(ref r) ? null : U32(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "seccomp": l.Seccomp = Null(ref r) ? null : Obj(ref r, new LinuxSeccomp(), ReadSeccompMember); break;
            case "rootfspropagation": l.RootfsPropagation = StrOrNull(ref r); break;
            case "maskedpaths": l.MaskedPaths = ListOrNull(ref r, Str); break;
            case "readonlypaths": l.ReadonlyPaths = ListOrNull(ref r, Str); break;
            case "mountlabel": l.MountLabel = StrOrNull(ref r); break;
            case "intelrdt": l.IntelRdt = Null(ref r) ? null : Obj(ref r, new LinuxIntelRdt(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "closid": o.ClosId = StrOrNull(ref r); break;
                    case "schemata": o.Schemata = StrOrNull(ref r); break;
                    case "l3cacheschema": o.L3CacheSchema = StrOrNull(ref r); break;
                    case "membwschema": o.MemBwSchema = StrOrNull(ref r); break;
                    case "enablecmt": o.EnableCmt = Null(ref r) ? null : Bool(ref r); break;
                    case "enablembm": o.EnableMbm = Null(ref r) ? null : Bool(ref r); break;
                    case "enablemonitoring": o.EnableMonitoring = Null(ref r) ? null : Bool(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "personality": l.Personality = Null(ref r) ? null : Obj(ref r, new LinuxPersonality(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "domain": o.Domain = Str(ref r); break;
                    case "flags": o.Flags = ListOrNull(ref r, Str); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "timeoffsets": l.TimeOffsets = MapOrNull(ref r, static (ref r) => Obj(ref r, new LinuxTimeOffset(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "secs": o.Secs = I64(ref r); break;
                    case "nanosecs": o.Nanosecs = U32(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "memorypolicy": l.MemoryPolicy = Null(ref r) ? null : Obj(ref r, new LinuxMemoryPolicy(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "mode": o.Mode = Str(ref r); break;
                    case "nodes": o.Nodes = StrOrNull(ref r); break;
                    case "flags": o.Flags = ListOrNull(ref r, Str); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "netdevices": l.NetDevices = MapOrNull(ref r, static (ref r) => Obj(ref r, new LinuxNetDevice(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "name": o.Name = StrOrNull(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            default: Skip(ref r); break;
        }
    }

    private static LinuxIdMapping IdMapping(ref Utf8JsonReader r) => Obj(ref r, new LinuxIdMapping(), static (ref r, o, n) =>
    {
        switch (n)
        {
            case "containerid": o.ContainerId = U32(ref r); break;
            case "hostid": o.HostId = U32(ref r); break;
            case "size": o.Size = U32(ref r); break;
            default: Skip(ref r); break;
        }
    });

    private static void ReadSeccompMember(ref Utf8JsonReader r, LinuxSeccomp s, string name)
    {
        switch (name)
        {
            case "defaultaction": s.DefaultAction = Str(ref r); break;
            case "defaulterrnoret": s.DefaultErrnoRet = Null(ref r) ? null : U32(ref r); break;
            case "architectures": s.Architectures = ListOrNull(ref r, Str); break;
            case "flags": s.Flags = ListOrNull(ref r, Str); break;
            case "listenerpath": s.ListenerPath = StrOrNull(ref r); break;
            case "listenermetadata": s.ListenerMetadata = StrOrNull(ref r); break;
            case "syscalls": s.Syscalls = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxSyscall(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "names": o.Names = ListOrNull(ref r, Str) ?? throw new GiveUp(); break;
                    case "action": o.Action = Str(ref r); break;
                    case "errnoret": o.ErrnoRet = Null(ref r) ? null : U32(ref r); break;
                    case "args": o.Args = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxSeccompArg(), static (ref r, a, m) =>
                    {
                        switch (m)
                        {
                            case "index": a.Index = U32(ref r); break;
                            case "value": a.Value = U64(ref r); break;
                            case "valuetwo": a.ValueTwo = U64(ref r); break;
                            case "op": a.Op = Str(ref r); break;
                            default: Skip(ref r); break;
                        }
                    })); break;
                    default: Skip(ref r); break;
                }
            })); break;
            default: Skip(ref r); break;
        }
    }

    private static void ReadResourcesMember(ref Utf8JsonReader r, LinuxResources res, string name)
    {
        switch (name)
        {
            case "devices": res.Devices = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxDeviceCgroup(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "allow": o.Allow = Bool(ref r); break;
                    case "type": o.Type = StrOrNull(ref r); break;
                    case "major": o.Major = Null(ref r) ? null : I64(ref r); break;
                    case "minor": o.Minor = Null(ref r) ? null : I64(ref r); break;
                    case "access": o.Access = StrOrNull(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "memory": res.Memory = Null(ref r) ? null : Obj(ref r, new LinuxMemory(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "limit": o.Limit = Null(ref r) ? null : I64(ref r); break;
                    case "reservation": o.Reservation = Null(ref r) ? null : I64(ref r); break;
                    case "swap": o.Swap = Null(ref r) ? null : I64(ref r); break;
                    case "kernel": o.Kernel = Null(ref r) ? null : I64(ref r); break;
                    case "kerneltcp": o.KernelTCP = Null(ref r) ? null : I64(ref r); break;
                    case "swappiness": o.Swappiness = Null(ref r) ? null : U64(ref r); break;
                    case "disableoomkiller": o.DisableOOMKiller = Null(ref r) ? null : Bool(ref r); break;
                    case "usehierarchy": o.UseHierarchy = Null(ref r) ? null : Bool(ref r); break;
                    case "checkbeforeupdate": o.CheckBeforeUpdate = Null(ref r) ? null : Bool(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "cpu": res.Cpu = Null(ref r) ? null : Obj(ref r, new LinuxCpu(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "shares": o.Shares = Null(ref r) ? null : U64(ref r); break;
                    case "quota": o.Quota = Null(ref r) ? null : I64(ref r); break;
                    case "burst": o.Burst = Null(ref r) ? null : U64(ref r); break;
                    case "period": o.Period = Null(ref r) ? null : U64(ref r); break;
                    case "realtimeruntime": o.RealtimeRuntime = Null(ref r) ? null : I64(ref r); break;
                    case "realtimeperiod": o.RealtimePeriod = Null(ref r) ? null : U64(ref r); break;
                    case "cpus": o.Cpus = StrOrNull(ref r); break;
                    case "mems": o.Mems = StrOrNull(ref r); break;
                    case "idle": o.Idle = Null(ref r) ? null : I64(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "pids": res.Pids = Null(ref r) ? null : Obj(ref r, new LinuxPids(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "limit": o.Limit = Null(ref r) ? null : I64(ref r); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "blockio": res.BlockIO = Null(ref r) ? null : Obj(ref r, new LinuxBlockIO(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "weight": o.Weight = Null(ref r) ? null : U16(ref r); break;
                    case "leafweight": o.LeafWeight = Null(ref r) ? null : U16(ref r); break;
                    case "weightdevice": o.WeightDevice = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxWeightDevice(), static (ref r, d, m) =>
                    {
                        switch (m)
                        {
                            case "major": d.Major = I64(ref r); break;
                            case "minor": d.Minor = I64(ref r); break;
                            case "weight": d.Weight = Null(ref r) ? null : U16(ref r); break;
                            case "leafweight": d.LeafWeight = Null(ref r) ? null : U16(ref r); break;
                            default: Skip(ref r); break;
                        }
                    })); break;
                    case "throttlereadbpsdevice": o.ThrottleReadBpsDevice = ListOrNull(ref r, Throttle); break;
                    case "throttlewritebpsdevice": o.ThrottleWriteBpsDevice = ListOrNull(ref r, Throttle); break;
                    case "throttlereadiopsdevice": o.ThrottleReadIOPSDevice = ListOrNull(ref r, Throttle); break;
                    case "throttlewriteiopsdevice": o.ThrottleWriteIOPSDevice = ListOrNull(ref r, Throttle); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "hugepagelimits": res.HugepageLimits = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxHugepageLimit(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "pagesize": o.PageSize = Str(ref r); break;
                    case "limit": o.Limit = U64(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "network": res.Network = Null(ref r) ? null : Obj(ref r, new LinuxNetwork(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "classid": o.ClassID = Null(ref r) ? null : U32(ref r); break;
                    case "priorities": o.Priorities = ListOrNull(ref r, static (ref r) => Obj(ref r, new LinuxInterfacePriority(), static (ref r, p, m) =>
                    {
                        switch (m)
                        {
                            case "name": p.Name = Str(ref r); break;
                            case "priority": p.Priority = U32(ref r); break;
                            default: Skip(ref r); break;
                        }
                    })); break;
                    default: Skip(ref r); break;
                }
            }); break;
            case "rdma": res.Rdma = MapOrNull(ref r, static (ref r) => Obj(ref r, new LinuxRdma(), static (ref r, o, n) =>
            {
                switch (n)
                {
                    case "hcahandles": o.HcaHandles = Null(ref r) ? null : U32(ref r); break;
                    case "hcaobjects": o.HcaObjects = Null(ref r) ? null : U32(ref r); break;
                    default: Skip(ref r); break;
                }
            })); break;
            case "unified": res.Unified = Strings(ref r); break;
            default: Skip(ref r); break;
        }
    }

    private static LinuxThrottleDevice Throttle(ref Utf8JsonReader r) => Obj(ref r, new LinuxThrottleDevice(), static (ref r, o, n) =>
    {
        switch (n)
        {
            case "major": o.Major = I64(ref r); break;
            case "minor": o.Minor = I64(ref r); break;
            case "rate": o.Rate = U64(ref r); break;
            default: Skip(ref r); break;
        }
    });

    // ---- tokens

    /// <summary>An object: each member's name (ASCII, lower-cased: names match in any letter
    /// case) and the reader on its value go to <paramref name="member"/>.</summary>
    private static T Obj<T>(ref Utf8JsonReader r, T o, Member<T> member)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw new GiveUp();
        while (true)
        {
            Next(ref r);
            if (r.TokenType == JsonTokenType.EndObject)
                return o;
            var name = MemberName(ref r);
            Next(ref r);
            member(ref r, o, name);
        }
    }

    private static List<T>? ListOrNull<T>(ref Utf8JsonReader r, Item<T> item)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.StartArray)
            throw new GiveUp();
        var list = new List<T>();
        while (true)
        {
            Next(ref r);
            if (r.TokenType == JsonTokenType.EndArray)
                return list;
            list.Add(item(ref r));
        }
    }

    private static Dictionary<string, T>? MapOrNull<T>(ref Utf8JsonReader r, Item<T> item)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.StartObject)
            throw new GiveUp();
        var map = new Dictionary<string, T>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref r);
            if (r.TokenType == JsonTokenType.EndObject)
                return map;
            var key = r.GetString()!;
            Next(ref r);
            map[key] = item(ref r);
        }
    }

    private static Dictionary<string, string>? Strings(ref Utf8JsonReader r) => MapOrNull(ref r, Str);

    private static string MemberName(ref Utf8JsonReader r)
    {
        var raw = r.ValueIsEscaped ? System.Text.Encoding.UTF8.GetBytes(r.GetString()!) : r.ValueSpan;
        Span<char> lower = raw.Length <= 64 ? stackalloc char[raw.Length] : new char[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b >= 0x80)
                throw new GiveUp(); // the serializer's case-insensitive match is Unicode-aware
            lower[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b | 0x20 : b);
        }
        return new string(lower);
    }

    private static void Next(ref Utf8JsonReader r)
    {
        if (!r.Read())
            throw new GiveUp();
    }

    private static void Skip(ref Utf8JsonReader r)
    {
        if (!r.TrySkip())
            throw new GiveUp();
    }

    private static bool Null(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null;

    private static string Str(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.String ? r.GetString()! : throw new GiveUp();

    private static string? StrOrNull(ref Utf8JsonReader r) => Null(ref r) ? null : Str(ref r);

    private static bool Bool(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw new GiveUp(),
    };

    private static uint U32(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt32(out var v) ? v : throw new GiveUp();

    private static ushort U16(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt16(out var v) ? v : throw new GiveUp();

    private static int I32(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt32(out var v) ? v : throw new GiveUp();

    private static long I64(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var v) ? v : throw new GiveUp();

    private static ulong U64(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number && r.TryGetUInt64(out var v) ? v : throw new GiveUp();
}
