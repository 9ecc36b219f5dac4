using System.Text;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The <see cref="InitPlan"/> on the sync socket, in a compact binary form written and read by
/// hand. System.Text.Json builds its metadata for every type of a graph on first use, a cost every
/// process would pay under NativeAOT (docs/benchmarks.md, runtime: the init plan in a binary form): this way neither `create` nor the container
/// init pays it, and the init does not touch the serializer's code at all. Both ends are the same
/// binary, so the layout needs no versioning: every property of the plan's types is carried in
/// declaration order, and InitPlanCodecTests fails when a property is added to them but not here.
/// One list of fields (<see cref="Plan"/> and the methods it calls) runs in both directions: each
/// call of the <see cref="Codec"/> writes the value it is given and returns it (encode), or
/// returns the value it reads (decode), so the two directions cannot drift apart.
/// </summary>
public static class InitPlanCodec
{
    public static byte[] Encode(InitPlan p)
    {
        var w = new Writer();
        Plan(w, p);
        return w.ToArray();
    }

    public static InitPlan Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data.ToArray());
        var p = Plan(r, new InitPlan());
        if (!r.AtEnd)
            throw new IOException("sync protocol: init plan longer than its fields (a different csrt build at the other end?)");
        return p;
    }

    // The fields in their order on the wire. Each line assigns back what the codec returns: the
    // same value when encoding, the one read when decoding (into a new object of the type).

    private static InitPlan Plan(Codec c, InitPlan p)
    {
        p.ContainerId = c.Text(p.ContainerId);
        p.Bundle = c.Text(p.Bundle);
        p.Rootfs = c.Text(p.Rootfs);
        p.RootfsParentMount = c.String(p.RootfsParentMount);
        p.RootfsReadonly = c.Bool(p.RootfsReadonly);
        p.RootPropagation = c.Unsigned(p.RootPropagation);
        p.NewRootPropagation = c.Unsigned(p.NewRootPropagation);
        p.NoPivot = c.Bool(p.NoPivot);
        p.NoNewKeyring = c.Bool(p.NoNewKeyring);
        p.OwnMountNamespace = c.Bool(p.OwnMountNamespace);
        p.InUserNamespace = c.Bool(p.InUserNamespace);
        p.NewCgroupNamespace = c.Bool(p.NewCgroupNamespace);
        p.NewNetworkNamespace = c.Bool(p.NewNetworkNamespace);
        p.Mounts = c.List(p.Mounts, static (c, m) => Mount(c, m ?? new MountStep())) ?? new List<MountStep>();
        p.SetupDev = c.Bool(p.SetupDev);
        p.Devices = c.List(p.Devices, static (c, d) => Device(c, d ?? new DeviceNode())) ?? new List<DeviceNode>();
        p.Hostname = c.String(p.Hostname);
        p.Domainname = c.String(p.Domainname);
        p.Sysctl = c.Dictionary(p.Sysctl);
        p.MaskedPaths = c.Strings(p.MaskedPaths) ?? new List<string>();
        p.ReadonlyPaths = c.Strings(p.ReadonlyPaths) ?? new List<string>();
        p.Rlimits = c.List(p.Rlimits, static (c, r) => Rlimit(c, r ?? new RlimitStep())) ?? new List<RlimitStep>();
        p.OomScoreAdj = c.NullableSigned(p.OomScoreAdj);
        p.Process = Process(c, p.Process);
        p.CreateContainerHooks = c.List(p.CreateContainerHooks, static (c, h) => Hook(c, h ?? new HookStep())) ?? new List<HookStep>();
        p.StartContainerHooks = c.List(p.StartContainerHooks, static (c, h) => Hook(c, h ?? new HookStep())) ?? new List<HookStep>();
        p.HookState = c.Text(p.HookState);
        p.PreserveFds = (int)c.Signed(p.PreserveFds);
        p.ConsoleSocketFd = (int)c.Signed(p.ConsoleSocketFd);
        p.ExecFifoFd = (int)c.Signed(p.ExecFifoFd);
        return p;
    }

    private static MountStep Mount(Codec c, MountStep m)
    {
        m.Kind = c.Text(m.Kind);
        m.Source = c.String(m.Source);
        m.Destination = c.Text(m.Destination);
        m.Type = c.String(m.Type);
        m.Flags = c.Unsigned(m.Flags);
        m.ClearedFlags = c.Unsigned(m.ClearedFlags);
        m.Propagation = c.List(m.Propagation, static (c, v) => c.Unsigned(v)) ?? new List<ulong>();
        m.SetAttributes = c.Unsigned(m.SetAttributes);
        m.ClearAttributes = c.Unsigned(m.ClearAttributes);
        m.Data = c.String(m.Data);
        m.CopyUp = c.Bool(m.CopyUp);
        m.CgroupSources = c.List(m.CgroupSources, static (c, s) => CgroupSource(c, s ?? new CgroupMountSource()));
        m.MountFd = (int)c.Signed(m.MountFd);
        return m;
    }

    private static CgroupMountSource CgroupSource(Codec c, CgroupMountSource s)
    {
        s.Name = c.Text(s.Name);
        s.HostPath = c.Text(s.HostPath);
        s.Options = c.Text(s.Options);
        s.Aliases = c.Strings(s.Aliases) ?? new List<string>();
        return s;
    }

    private static DeviceNode Device(Codec c, DeviceNode d)
    {
        d.Path = c.Text(d.Path);
        d.Type = (char)c.Unsigned(d.Type);
        d.Major = c.Signed(d.Major);
        d.Minor = c.Signed(d.Minor);
        d.FileMode = (uint)c.Unsigned(d.FileMode);
        d.Uid = (uint)c.Unsigned(d.Uid);
        d.Gid = (uint)c.Unsigned(d.Gid);
        return d;
    }

    private static RlimitStep Rlimit(Codec c, RlimitStep r)
    {
        r.Resource = (int)c.Signed(r.Resource);
        r.Name = c.Text(r.Name);
        r.Soft = c.Unsigned(r.Soft);
        r.Hard = c.Unsigned(r.Hard);
        return r;
    }

    private static ProcessPlan Process(Codec c, ProcessPlan p)
    {
        p.Args = c.Strings(p.Args) ?? new List<string>();
        p.Env = c.Strings(p.Env) ?? new List<string>();
        p.Cwd = c.Text(p.Cwd);
        p.Uid = (uint)c.Unsigned(p.Uid);
        p.Gid = (uint)c.Unsigned(p.Gid);
        p.AdditionalGids = c.List(p.AdditionalGids, static (c, g) => (uint)c.Unsigned(g));
        p.Umask = c.NullableSigned(p.Umask);
        p.SetCapabilities = c.Bool(p.SetCapabilities);
        p.CapBounding = c.Unsigned(p.CapBounding);
        p.CapEffective = c.Unsigned(p.CapEffective);
        p.CapPermitted = c.Unsigned(p.CapPermitted);
        p.CapInheritable = c.Unsigned(p.CapInheritable);
        p.CapAmbient = c.Unsigned(p.CapAmbient);
        p.NoNewPrivileges = c.Bool(p.NoNewPrivileges);
        p.Seccomp = c.Bytes(p.Seccomp);
        p.SeccompFlags = (uint)c.Unsigned(p.SeccompFlags);
        p.Personality = c.NullableSigned(p.Personality);
        p.Terminal = c.Bool(p.Terminal);
        p.ConsoleHeight = (ushort)c.Unsigned(p.ConsoleHeight);
        p.ConsoleWidth = (ushort)c.Unsigned(p.ConsoleWidth);
        return p;
    }

    private static HookStep Hook(Codec c, HookStep h)
    {
        h.Path = c.Text(h.Path);
        h.Args = c.Strings(h.Args) ?? new List<string>();
        h.Env = c.Strings(h.Env) ?? new List<string>();
        h.TimeoutSeconds = c.NullableSigned(h.TimeoutSeconds);
        return h;
    }

    /// <summary>
    /// One direction of the wire form: LEB128 varints (signed ones zigzagged); strings, byte
    /// arrays, lists and dictionaries carry their length + 1, with 0 for null. Every method takes
    /// the value to write and returns the value carried.
    /// </summary>
    private abstract class Codec
    {
        protected abstract bool Reading { get; }

        public abstract ulong Unsigned(ulong value);

        public abstract string? String(string? value);

        public abstract byte[]? Bytes(byte[]? value);

        /// <summary>An element count, -1 for null.</summary>
        public abstract int Count(int count);

        public bool Bool(bool value) => Unsigned(value ? 1UL : 0) != 0;

        public long Signed(long value)
        {
            var u = Unsigned((ulong)((value << 1) ^ (value >> 63)));
            return (long)(u >> 1) ^ -(long)(u & 1);
        }

        public int? NullableSigned(int? value) => Bool(value.HasValue) ? (int)Signed(value.GetValueOrDefault()) : null;

        /// <summary>A string that is never null ("" when null was written).</summary>
        public string Text(string value) => String(value) ?? "";

        /// <summary>A list whose elements go through <paramref name="item"/>, which gets each element
        /// when encoding and default when decoding.</summary>
        public List<T>? List<T>(List<T>? items, Func<Codec, T?, T> item)
        {
            var n = Count(items?.Count ?? -1);
            if (n < 0)
                return null;
            if (!Reading)
            {
                foreach (var x in items!)
                    item(this, x);
                return items;
            }
            var list = new List<T>(n);
            for (var i = 0; i < n; i++)
                list.Add(item(this, default));
            return list;
        }

        public List<string>? Strings(List<string>? items) => List(items, static (c, s) => c.Text(s ?? ""));

        public Dictionary<string, string>? Dictionary(Dictionary<string, string>? map)
        {
            var n = Count(map?.Count ?? -1);
            if (n < 0)
                return null;
            if (!Reading)
            {
                foreach (var (key, value) in map!)
                {
                    String(key);
                    String(value);
                }
                return map;
            }
            var read = new Dictionary<string, string>(n, StringComparer.Ordinal);
            for (var i = 0; i < n; i++)
            {
                var key = Text("");
                read[key] = Text("");
            }
            return read;
        }
    }

    private sealed class Writer : Codec
    {
        private byte[] _buffer = new byte[1024];
        private int _length;

        protected override bool Reading => false;

        public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

        public override ulong Unsigned(ulong value)
        {
            Ensure(10);
            var v = value;
            while (v >= 0x80)
            {
                _buffer[_length++] = (byte)(v | 0x80);
                v >>= 7;
            }
            _buffer[_length++] = (byte)v;
            return value;
        }

        public override int Count(int count)
        {
            Unsigned((ulong)(count + 1));
            return count;
        }

        public override string? String(string? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return null;
            }
            var n = Encoding.UTF8.GetByteCount(value);
            Unsigned((ulong)n + 1);
            Ensure(n);
            _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
            return value;
        }

        public override byte[]? Bytes(byte[]? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return null;
            }
            Unsigned((ulong)value.Length + 1);
            Ensure(value.Length);
            value.CopyTo(_buffer.AsSpan(_length));
            _length += value.Length;
            return value;
        }

        private void Ensure(int more)
        {
            if (_length + more > _buffer.Length)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }

    private sealed class Reader : Codec
    {
        private readonly byte[] _data;
        private int _at;

        public Reader(byte[] data) => _data = data;

        protected override bool Reading => true;

        public bool AtEnd => _at == _data.Length;

        public override ulong Unsigned(ulong value)
        {
            ulong read = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _data.Length)
                    throw Truncated();
                var b = _data[_at++];
                read |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                    return read;
            }
            throw new IOException("sync protocol: malformed number in the init plan");
        }

        public override int Count(int count)
        {
            var n = Unsigned(0);
            if (n > (ulong)(_data.Length - _at) + 1)
                throw Truncated();
            return (int)n - 1;
        }

        public override string? String(string? value) => Span(out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

        public override byte[]? Bytes(byte[]? value) => Span(out var bytes) ? bytes.ToArray() : null;

        /// <summary>False for null.</summary>
        private bool Span(out ReadOnlySpan<byte> span)
        {
            span = default;
            var n = Unsigned(0);
            if (n == 0)
                return false;
            var length = n - 1;
            if (length > (ulong)(_data.Length - _at))
                throw Truncated();
            span = _data.AsSpan(_at, (int)length);
            _at += (int)length;
            return true;
        }

        private static IOException Truncated() => new("sync protocol: the init plan is truncated");
    }
}
