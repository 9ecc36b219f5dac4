using System.Text;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The <see cref="InitPlan"/> on the sync socket, in a compact binary form written and read by
/// hand. System.Text.Json builds its metadata for every type of a graph on first use, a cost every
/// process would pay under NativeAOT (docs/benchmarks.md, runtime: the init plan in a binary form): this way neither `create` nor the container
/// init pays it, and the init does not touch the serializer's code at all. Both ends are the same
/// binary, so the layout needs no versioning: every property of the plan's types is written in
/// declaration order, and InitPlanCodecTests fails when a property is added to them but not here.
/// </summary>
public static class InitPlanCodec
{
    public static byte[] Encode(InitPlan p)
    {
        var w = new Writer();
        w.String(p.ContainerId);
        w.String(p.Bundle);
        w.String(p.Rootfs);
        w.Bool(p.RootfsReadonly);
        w.Unsigned(p.RootPropagation);
        w.Unsigned(p.NewRootPropagation);
        w.Bool(p.NoPivot);
        w.Bool(p.NoNewKeyring);
        w.Bool(p.OwnMountNamespace);
        w.Bool(p.InUserNamespace);
        w.Bool(p.NewCgroupNamespace);
        w.Bool(p.NewNetworkNamespace);
        w.List(p.Mounts, static (w, m) =>
        {
            w.String(m.Kind);
            w.String(m.Source);
            w.String(m.Destination);
            w.String(m.Type);
            w.Unsigned(m.Flags);
            w.Unsigned(m.ClearedFlags);
            w.List(m.Propagation, static (w, v) => w.Unsigned(v));
            w.Unsigned(m.SetAttributes);
            w.Unsigned(m.ClearAttributes);
            w.String(m.Data);
            w.Bool(m.CopyUp);
            w.List(m.CgroupSources, static (w, c) =>
            {
                w.String(c.Name);
                w.String(c.HostPath);
                w.String(c.Options);
                w.Strings(c.Aliases);
            });
        });
        w.Bool(p.SetupDev);
        w.List(p.Devices, static (w, d) =>
        {
            w.String(d.Path);
            w.Unsigned(d.Type);
            w.Signed(d.Major);
            w.Signed(d.Minor);
            w.Unsigned(d.FileMode);
            w.Unsigned(d.Uid);
            w.Unsigned(d.Gid);
        });
        w.String(p.Hostname);
        w.String(p.Domainname);
        w.Dictionary(p.Sysctl);
        w.Strings(p.MaskedPaths);
        w.Strings(p.ReadonlyPaths);
        w.List(p.Rlimits, static (w, r) =>
        {
            w.Signed(r.Resource);
            w.String(r.Name);
            w.Unsigned(r.Soft);
            w.Unsigned(r.Hard);
        });
        w.NullableSigned(p.OomScoreAdj);
        WriteProcess(w, p.Process);
        w.List(p.CreateContainerHooks, WriteHook);
        w.List(p.StartContainerHooks, WriteHook);
        w.String(p.HookState);
        w.Signed(p.PreserveFds);
        w.Signed(p.ConsoleSocketFd);
        w.Signed(p.ExecFifoFd);
        return w.ToArray();
    }

    public static InitPlan Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        var p = new InitPlan
        {
            ContainerId = r.String() ?? "",
            Bundle = r.String() ?? "",
            Rootfs = r.String() ?? "",
            RootfsReadonly = r.Bool(),
            RootPropagation = r.Unsigned(),
            NewRootPropagation = r.Unsigned(),
            NoPivot = r.Bool(),
            NoNewKeyring = r.Bool(),
            OwnMountNamespace = r.Bool(),
            InUserNamespace = r.Bool(),
            NewCgroupNamespace = r.Bool(),
            NewNetworkNamespace = r.Bool(),
        };
        var mounts = r.Count();
        for (var i = 0; i < mounts; i++)
        {
            var m = new MountStep
            {
                Kind = r.String() ?? "",
                Source = r.String(),
                Destination = r.String() ?? "",
                Type = r.String(),
                Flags = r.Unsigned(),
                ClearedFlags = r.Unsigned(),
            };
            var propagation = r.Count();
            for (var j = 0; j < propagation; j++)
                m.Propagation.Add(r.Unsigned());
            m.SetAttributes = r.Unsigned();
            m.ClearAttributes = r.Unsigned();
            m.Data = r.String();
            m.CopyUp = r.Bool();
            var sources = r.Count();
            if (sources >= 0)
            {
                m.CgroupSources = new List<CgroupMountSource>(sources);
                for (var j = 0; j < sources; j++)
                    m.CgroupSources.Add(new CgroupMountSource
                    {
                        Name = r.String() ?? "",
                        HostPath = r.String() ?? "",
                        Options = r.String() ?? "",
                        Aliases = r.Strings() ?? new List<string>(),
                    });
            }
            p.Mounts.Add(m);
        }
        p.SetupDev = r.Bool();
        var devices = r.Count();
        for (var i = 0; i < devices; i++)
            p.Devices.Add(new DeviceNode
            {
                Path = r.String() ?? "",
                Type = (char)r.Unsigned(),
                Major = r.Signed(),
                Minor = r.Signed(),
                FileMode = (uint)r.Unsigned(),
                Uid = (uint)r.Unsigned(),
                Gid = (uint)r.Unsigned(),
            });
        p.Hostname = r.String();
        p.Domainname = r.String();
        p.Sysctl = r.Dictionary();
        p.MaskedPaths = r.Strings() ?? new List<string>();
        p.ReadonlyPaths = r.Strings() ?? new List<string>();
        var rlimits = r.Count();
        for (var i = 0; i < rlimits; i++)
            p.Rlimits.Add(new RlimitStep { Resource = (int)r.Signed(), Name = r.String() ?? "", Soft = r.Unsigned(), Hard = r.Unsigned() });
        p.OomScoreAdj = r.NullableSigned();
        p.Process = ReadProcess(ref r);
        p.CreateContainerHooks = ReadHooks(ref r);
        p.StartContainerHooks = ReadHooks(ref r);
        p.HookState = r.String() ?? "";
        p.PreserveFds = (int)r.Signed();
        p.ConsoleSocketFd = (int)r.Signed();
        p.ExecFifoFd = (int)r.Signed();
        if (!r.AtEnd)
            throw new IOException("sync protocol: init plan longer than its fields (a different csrt build at the other end?)");
        return p;
    }

    private static void WriteProcess(Writer w, ProcessPlan p)
    {
        w.Strings(p.Args);
        w.Strings(p.Env);
        w.String(p.Cwd);
        w.Unsigned(p.Uid);
        w.Unsigned(p.Gid);
        w.List(p.AdditionalGids, static (w, g) => w.Unsigned(g));
        w.NullableSigned(p.Umask);
        w.Bool(p.SetCapabilities);
        w.Unsigned(p.CapBounding);
        w.Unsigned(p.CapEffective);
        w.Unsigned(p.CapPermitted);
        w.Unsigned(p.CapInheritable);
        w.Unsigned(p.CapAmbient);
        w.Bool(p.NoNewPrivileges);
        w.Bytes(p.Seccomp);
        w.Unsigned(p.SeccompFlags);
        w.NullableSigned(p.Personality);
        w.Bool(p.Terminal);
        w.Unsigned(p.ConsoleHeight);
        w.Unsigned(p.ConsoleWidth);
    }

    private static ProcessPlan ReadProcess(ref Reader r)
    {
        var p = new ProcessPlan
        {
            Args = r.Strings() ?? new List<string>(),
            Env = r.Strings() ?? new List<string>(),
            Cwd = r.String() ?? "",
            Uid = (uint)r.Unsigned(),
            Gid = (uint)r.Unsigned(),
        };
        var gids = r.Count();
        if (gids >= 0)
        {
            p.AdditionalGids = new List<uint>(gids);
            for (var i = 0; i < gids; i++)
                p.AdditionalGids.Add((uint)r.Unsigned());
        }
        p.Umask = r.NullableSigned();
        p.SetCapabilities = r.Bool();
        p.CapBounding = r.Unsigned();
        p.CapEffective = r.Unsigned();
        p.CapPermitted = r.Unsigned();
        p.CapInheritable = r.Unsigned();
        p.CapAmbient = r.Unsigned();
        p.NoNewPrivileges = r.Bool();
        p.Seccomp = r.Bytes();
        p.SeccompFlags = (uint)r.Unsigned();
        p.Personality = r.NullableSigned();
        p.Terminal = r.Bool();
        p.ConsoleHeight = (ushort)r.Unsigned();
        p.ConsoleWidth = (ushort)r.Unsigned();
        return p;
    }

    private static void WriteHook(Writer w, HookStep h)
    {
        w.String(h.Path);
        w.Strings(h.Args);
        w.Strings(h.Env);
        w.NullableSigned(h.TimeoutSeconds);
    }

    private static List<HookStep> ReadHooks(ref Reader r)
    {
        var count = r.Count();
        var hooks = new List<HookStep>(Math.Max(count, 0));
        for (var i = 0; i < count; i++)
            hooks.Add(new HookStep
            {
                Path = r.String() ?? "",
                Args = r.Strings() ?? new List<string>(),
                Env = r.Strings() ?? new List<string>(),
                TimeoutSeconds = r.NullableSigned(),
            });
        return hooks;
    }

    /// <summary>LEB128 varints (signed ones zigzagged); strings, byte arrays and lists carry
    /// their length + 1, with 0 for null.</summary>
    private sealed class Writer
    {
        private byte[] _buffer = new byte[1024];
        private int _length;

        public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

        public void Bool(bool value) => Unsigned(value ? 1UL : 0);

        public void Unsigned(ulong value)
        {
            Ensure(10);
            while (value >= 0x80)
            {
                _buffer[_length++] = (byte)(value | 0x80);
                value >>= 7;
            }
            _buffer[_length++] = (byte)value;
        }

        public void Signed(long value) => Unsigned((ulong)((value << 1) ^ (value >> 63)));

        public void NullableSigned(int? value)
        {
            Bool(value.HasValue);
            if (value is { } v)
                Signed(v);
        }

        public void String(string? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return;
            }
            var n = Encoding.UTF8.GetByteCount(value);
            Unsigned((ulong)n + 1);
            Ensure(n);
            _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        }

        public void Bytes(byte[]? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return;
            }
            Unsigned((ulong)value.Length + 1);
            Ensure(value.Length);
            value.CopyTo(_buffer.AsSpan(_length));
            _length += value.Length;
        }

        public void List<T>(List<T>? items, Action<Writer, T> write)
        {
            if (items is null)
            {
                Unsigned(0);
                return;
            }
            Unsigned((ulong)items.Count + 1);
            foreach (var item in items)
                write(this, item);
        }

        public void Strings(List<string>? items) => List(items, static (w, s) => w.String(s));

        public void Dictionary(Dictionary<string, string>? map)
        {
            if (map is null)
            {
                Unsigned(0);
                return;
            }
            Unsigned((ulong)map.Count + 1);
            foreach (var (key, value) in map)
            {
                String(key);
                String(value);
            }
        }

        private void Ensure(int more)
        {
            if (_length + more > _buffer.Length)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }

    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _at;

        public Reader(ReadOnlySpan<byte> data) => _data = data;

        public readonly bool AtEnd => _at == _data.Length;

        public bool Bool() => Unsigned() != 0;

        public ulong Unsigned()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _data.Length)
                    throw Truncated();
                var b = _data[_at++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                    return value;
            }
            throw new IOException("sync protocol: malformed number in the init plan");
        }

        public long Signed()
        {
            var u = Unsigned();
            return (long)(u >> 1) ^ -(long)(u & 1);
        }

        public int? NullableSigned() => Bool() ? (int)Signed() : null;

        /// <summary>The element count of a list, -1 for null.</summary>
        public int Count()
        {
            var n = Unsigned();
            if (n > (ulong)(_data.Length - _at) + 1)
                throw Truncated();
            return (int)n - 1;
        }

        public string? String() => Span(out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

        public byte[]? Bytes() => Span(out var bytes) ? bytes.ToArray() : null;

        public List<string>? Strings()
        {
            var n = Count();
            if (n < 0)
                return null;
            var list = new List<string>(n);
            for (var i = 0; i < n; i++)
                list.Add(String() ?? "");
            return list;
        }

        public Dictionary<string, string>? Dictionary()
        {
            var n = Count();
            if (n < 0)
                return null;
            var map = new Dictionary<string, string>(n, StringComparer.Ordinal);
            for (var i = 0; i < n; i++)
            {
                var key = String() ?? "";
                map[key] = String() ?? "";
            }
            return map;
        }

        /// <summary>False for null.</summary>
        private bool Span(out ReadOnlySpan<byte> span)
        {
            span = default;
            var n = Unsigned();
            if (n == 0)
                return false;
            var length = n - 1;
            if (length > (ulong)(_data.Length - _at))
                throw Truncated();
            span = _data.Slice(_at, (int)length);
            _at += (int)length;
            return true;
        }

        private static IOException Truncated() => new("sync protocol: the init plan is truncated");
    }
}
