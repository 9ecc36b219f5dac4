using System.Globalization;
using Tmds.DBus.Protocol;

namespace Csrt.Runtime.Cgroups.Systemd;

/// <summary>
/// The calls of systemd's manager (org.freedesktop.systemd1(5)) the driver makes, over the system
/// bus with Tmds.DBus.Protocol. One connection per operation: the CLI runs one operation per
/// process, and a fresh connection in the shim needs no reconnect logic when systemd re-executes.
/// Every wait is bounded; a timeout or an unreachable bus is a <see cref="CgroupException"/> that
/// names the bus address or the unit.
/// </summary>
public sealed class SystemdBus : IDisposable
{
    private const string Service = "org.freedesktop.systemd1";
    private const string ObjectPath = "/org/freedesktop/systemd1";
    private const string Manager = "org.freedesktop.systemd1.Manager";

    /// <summary>How long a connection, a call or a job may take (runc waits 30 s for a job).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly DBusConnection _connection;
    private readonly object _jobsLock = new();
    private readonly Dictionary<string, string> _finishedJobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<string>> _waitingJobs = new(StringComparer.Ordinal);
    private IDisposable? _jobWatch;
    private int _version = -2;

    private SystemdBus(DBusConnection connection, string address)
    {
        _connection = connection;
        Address = address;
    }

    /// <summary>The bus address in use (for messages).</summary>
    public string Address { get; }

    /// <summary>$DBUS_SYSTEM_BUS_ADDRESS, else the standard system bus socket.</summary>
    public static string SystemBusAddress()
    {
        var env = Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS");
        return string.IsNullOrEmpty(env) ? "unix:path=/run/dbus/system_bus_socket" : env;
    }

    /// <summary>Connects to <paramref name="address"/> (default: <see cref="SystemBusAddress"/>).</summary>
    /// <exception cref="CgroupException">The bus cannot be reached within <see cref="Timeout"/>.</exception>
    public static SystemdBus Connect(string? address = null)
    {
        address ??= SystemBusAddress();
        var connection = new DBusConnection(new DBusConnectionOptions(address) { AutoConnect = false });
        try
        {
            Wait(connection.ConnectAsync().AsTask(), $"connecting to the D-Bus system bus at {address}");
        }
        catch (Exception e) when (e is not CgroupException)
        {
            connection.Dispose();
            throw CgroupException.Failed($"the systemd cgroup driver cannot reach the D-Bus system bus at {address}: {e.Message} (is dbus running, and systemd the init?)", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        return new SystemdBus(connection, address);
    }

    public void Dispose()
    {
        _jobWatch?.Dispose();
        _connection.Dispose();
    }

    /// <summary>The manager's Version property as a number ("252.22-1~deb12u1" → 252); -1 when it does not parse.</summary>
    public int Version()
    {
        if (_version != -2)
            return _version;
        var text = Call(GetProperty(Manager, "Version"), static (m, _) =>
        {
            var reader = m.GetBodyReader();
            reader.ReadSignature("s");
            return reader.ReadString();
        }, "reading systemd's Version", null);
        _version = ParseVersion(text);
        return _version;
    }

    /// <summary>"v245.4-1.fc32", "252.22-1~deb12u1", "\"245\"" → the leading number; -1 when there is none.</summary>
    public static int ParseVersion(string text)
    {
        var s = text.TrimStart('"', 'v');
        var n = 0;
        while (n < s.Length && char.IsAsciiDigit(s[n]))
            n++;
        return n > 0 && int.TryParse(s.AsSpan(0, n), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
    }

    /// <summary>StartTransientUnit(mode "replace") and the wait for its job. A unit of that name that
    /// already exists is reset (a failed leftover is then removed by systemd) and tried once more, as
    /// runc does.</summary>
    /// <exception cref="CgroupException">systemd refused the unit, the job did not finish "done" or in time.</exception>
    public void StartTransientUnit(string unit, IReadOnlyList<UnitProperty> properties)
    {
        WatchJobs();
        string job;
        try
        {
            job = StartTransientUnitCall(unit, properties);
        }
        catch (DBusErrorReplyException e) when (e.ErrorName == "org.freedesktop.systemd1.UnitExists")
        {
            TryResetFailedUnit(unit);
            try
            {
                job = StartTransientUnitCall(unit, properties);
            }
            catch (DBusErrorReplyException again) when (again.ErrorName == "org.freedesktop.systemd1.UnitExists")
            {
                throw new CgroupException(Errors.ErrorKind.AlreadyExists,
                    $"systemd unit {unit} already exists and is active (a container with this cgroupsPath is running, or its processes outlived it; `systemctl stop {unit}` removes it)", again);
            }
        }
        var result = WaitForJob(job, unit, "start");
        if (result != "done")
        {
            TryResetFailedUnit(unit);
            throw CgroupException.Failed($"systemd could not start unit {unit}: its start job finished \"{result}\" (see `journalctl -u {unit}`)");
        }
    }

    private string StartTransientUnitCall(string unit, IReadOnlyList<UnitProperty> properties)
    {
        MessageBuffer message;
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ObjectPath, @interface: Manager,
                member: "StartTransientUnit", signature: "ssa(sv)a(sa(sv))");
            writer.WriteString(unit);
            writer.WriteString("replace");
            WriteProperties(ref writer, properties);
            var aux = writer.WriteArrayStart(DBusType.Struct);
            writer.WriteArrayEnd(aux);
            message = writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
        return CallRaw(message, ReadObjectPath, $"starting systemd unit {unit}", unit);
    }

    /// <summary>StopUnit(mode "replace"), the wait for its job, then ResetFailedUnit (so a unit that
    /// failed is unloaded), as runc does. A unit systemd no longer has (it removes a scope whose last
    /// process exited) is not an error.</summary>
    public void StopUnit(string unit, Action<string>? warn)
    {
        WatchJobs();
        string? job = null;
        try
        {
            job = Call(UnitCall("StopUnit", "ss", unit, "replace"), ReadObjectPath, $"stopping systemd unit {unit}", unit);
        }
        catch (CgroupException e) when (e.InnerException is DBusErrorReplyException { ErrorName: "org.freedesktop.systemd1.NoSuchUnit" })
        {
        }
        if (job is not null)
        {
            var result = WaitForJob(job, unit, "stop");
            if (result != "done")
                warn?.Invoke($"stopping systemd unit {unit}: its stop job finished \"{result}\"");
        }
        TryResetFailedUnit(unit);
    }

    /// <summary>SetUnitProperties(runtime = true): the change lasts until the unit goes away.</summary>
    public void SetUnitProperties(string unit, IReadOnlyList<UnitProperty> properties)
    {
        if (properties.Count == 0)
            return;
        MessageBuffer message;
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ObjectPath, @interface: Manager,
                member: "SetUnitProperties", signature: "sba(sv)");
            writer.WriteString(unit);
            writer.WriteBool(true);
            WriteProperties(ref writer, properties);
            message = writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
        CallRaw(message, static (_, _) => true, $"setting properties of systemd unit {unit}", unit);
    }

    /// <summary>ResetFailedUnit; errors (the unit is gone, or not failed) are ignored, as runc ignores them.</summary>
    public void TryResetFailedUnit(string unit)
    {
        try
        {
            Call(UnitCall("ResetFailedUnit", "s", unit, null), static (_, _) => true, $"resetting systemd unit {unit}", unit);
        }
        catch (CgroupException)
        {
        }
    }

    /// <summary>Writes a(sv).</summary>
    internal static void WriteProperties(ref MessageWriter writer, IReadOnlyList<UnitProperty> properties)
    {
        var array = writer.WriteArrayStart(DBusType.Struct);
        foreach (var p in properties)
        {
            writer.WriteStructureStart();
            writer.WriteString(p.Name);
            // A variant is its signature followed by the value.
            writer.WriteSignature(p.Signature);
            switch (p.Type)
            {
                case UnitPropertyType.String:
                    writer.WriteString(p.String ?? "");
                    break;
                case UnitPropertyType.Boolean:
                    writer.WriteBool(p.Boolean);
                    break;
                case UnitPropertyType.UInt64:
                    writer.WriteUInt64(p.UInt64);
                    break;
                case UnitPropertyType.UInt32Array:
                    writer.WriteArray(p.UInt32Array ?? Array.Empty<uint>());
                    break;
                case UnitPropertyType.Bytes:
                    writer.WriteArray(p.Bytes ?? Array.Empty<byte>());
                    break;
                case UnitPropertyType.StringArray:
                    writer.WriteArray(p.Strings ?? Array.Empty<string>());
                    break;
                default:
                {
                    var entries = writer.WriteArrayStart(DBusType.Struct);
                    foreach (var (path, access) in p.DeviceAllow ?? Array.Empty<(string, string)>())
                    {
                        writer.WriteStructureStart();
                        writer.WriteString(path);
                        writer.WriteString(access);
                    }
                    writer.WriteArrayEnd(entries);
                    break;
                }
            }
        }
        writer.WriteArrayEnd(array);
    }

    private MessageBuffer UnitCall(string member, string signature, string unit, string? mode)
    {
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ObjectPath, @interface: Manager, member: member, signature: signature);
            writer.WriteString(unit);
            if (mode is not null)
                writer.WriteString(mode);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private MessageBuffer GetProperty(string @interface, string name)
    {
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ObjectPath, @interface: "org.freedesktop.DBus.Properties", member: "Get", signature: "ss");
            writer.WriteString(@interface);
            writer.WriteString(name);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static string ReadObjectPath(Message m, object? state) => m.GetBodyReader().ReadObjectPathAsString();

    /// <summary>Subscribes to the manager's JobRemoved signals before any job is queued, so none is
    /// missed; the results are kept by job path.</summary>
    private void WatchJobs()
    {
        if (_jobWatch is not null)
            return;
        _jobWatch = Wait(_connection.WatchSignalAsync(Service, ObjectPath, Manager, "JobRemoved",
            static (m, _) =>
            {
                var reader = m.GetBodyReader();
                reader.ReadUInt32();
                var job = reader.ReadObjectPathAsString();
                reader.ReadString();
                return (Job: job, Result: reader.ReadString());
            },
            (Notification<(string Job, string Result)> n) =>
            {
                if (!n.HasValue)
                    return;
                var signal = n.Value;
                lock (_jobsLock)
                {
                    if (_waitingJobs.Remove(signal.Job, out var waiter))
                        waiter.TrySetResult(signal.Result);
                    else
                        _finishedJobs[signal.Job] = signal.Result;
                }
            }, ObserverFlags.None, false, null).AsTask(), $"subscribing to systemd's JobRemoved signals on {Address}");
        // systemd sends job signals to subscribed clients (and to the job's requester).
        Call(UnitCallNoArgs("Subscribe"), static (_, _) => true, "subscribing to systemd's manager signals", null);
    }

    private MessageBuffer UnitCallNoArgs(string member)
    {
        var writer = _connection.GetMessageWriter();
        try
        {
            writer.WriteMethodCallHeader(destination: Service, path: ObjectPath, @interface: Manager, member: member);
            return writer.CreateMessage();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private string WaitForJob(string job, string unit, string what)
    {
        Task<string> task;
        lock (_jobsLock)
        {
            if (_finishedJobs.Remove(job, out var done))
                return done;
            var tcs = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitingJobs[job] = tcs;
            task = tcs.Task;
        }
        if (!task.Wait(Timeout))
        {
            TryResetFailedUnit(unit);
            throw CgroupException.Failed($"systemd did not finish the {what} job {job} of unit {unit} within {Timeout.TotalSeconds:0} s");
        }
        return task.Result;
    }

    private T Call<T>(MessageBuffer message, MessageValueReader<T> reader, string what, string? unit)
    {
        try
        {
            return CallRaw(message, reader, what, unit);
        }
        catch (DBusErrorReplyException e)
        {
            throw CgroupException.Failed($"{what}: systemd answered {e.ErrorName}: {e.ErrorMessage}", e);
        }
    }

    // Lets DBusErrorReplyException through for the callers that handle some error names.
    private T CallRaw<T>(MessageBuffer message, MessageValueReader<T> reader, string what, string? unit)
    {
        try
        {
            return Wait(_connection.CallMethodAsync(message, reader, null), $"{what} over {Address}");
        }
        catch (DBusErrorReplyException e) when (unit is not null && e.ErrorName is not ("org.freedesktop.systemd1.UnitExists" or "org.freedesktop.systemd1.NoSuchUnit"))
        {
            throw CgroupException.Failed($"{what}: systemd refused it with {e.ErrorName}: {e.ErrorMessage}", e);
        }
        catch (Exception e) when (e is not DBusErrorReplyException and not CgroupException)
        {
            throw CgroupException.Failed($"{what} over the D-Bus system bus at {Address}: {e.Message}", e);
        }
    }

    private static T Wait<T>(Task<T> task, string what)
    {
        try
        {
            if (!task.Wait(Timeout))
                throw CgroupException.Failed($"{what}: no answer within {Timeout.TotalSeconds:0} s");
            return task.Result;
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    private static void Wait(Task task, string what)
    {
        try
        {
            if (!task.Wait(Timeout))
                throw CgroupException.Failed($"{what}: no answer within {Timeout.TotalSeconds:0} s");
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }
}
