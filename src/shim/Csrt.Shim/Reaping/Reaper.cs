using System.Runtime.InteropServices;
using Csrt.Linux;
using Csrt.Runtime.Processes;

namespace Csrt.Shim.Reaping;

/// <summary>
/// The shim is a child subreaper: every container process ends up as its child. On SIGCHLD this
/// loop reaps every exited child (waitid, WNOHANG) and hands each exit to the subscriptions open at
/// that moment and then to <see cref="Exited"/>. Anyone who spawns subscribes first, so an exit that
/// happens before the spawner knows the pid is never lost (containerd's reaper, same rule).
/// </summary>
public sealed class Reaper : IExitMonitor, IDisposable
{
    private readonly object _lock = new();
    private readonly List<Subscription> _subscriptions = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private PosixSignalRegistration? _registration;
    private volatile bool _stopping;

    public Reaper()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "reaper" };
    }

    /// <summary>Every reaped exit, after the subscriptions have seen it.</summary>
    public event Action<ChildExit>? Exited;

    public void Start()
    {
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
        {
            ctx.Cancel = true;
            _wake.Release();
        });
        _thread.Start();
        _wake.Release(); // children that exited before the handler existed
    }

    public IExitSubscription Subscribe()
    {
        var s = new Subscription(this);
        lock (_lock)
            _subscriptions.Add(s);
        return s;
    }

    private void Loop()
    {
        while (!_stopping)
        {
            // A lost or coalesced signal costs at most one second.
            _wake.Wait(TimeSpan.FromSeconds(1));
            while (Waiting.TryReapAny() is { } exit)
            {
                Subscription[] subs;
                lock (_lock)
                    subs = _subscriptions.ToArray();
                foreach (var s in subs)
                    s.Add(exit);
                try
                {
                    Exited?.Invoke(exit);
                }
                catch (Exception e)
                {
                    Log.Error($"handling the exit of pid {exit.Pid}", e);
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _registration?.Dispose();
        _wake.Release();
    }

    private sealed class Subscription : IExitSubscription
    {
        private readonly Reaper _reaper;
        private readonly Dictionary<int, ChildExit> _exits = new();

        public Subscription(Reaper reaper) => _reaper = reaper;

        public void Add(ChildExit exit)
        {
            lock (_exits)
            {
                _exits[exit.Pid] = exit;
                Monitor.PulseAll(_exits);
            }
        }

        /// <summary>An exit already seen for <paramref name="pid"/>, without waiting.</summary>
        public bool TryGet(int pid, out ChildExit exit)
        {
            lock (_exits)
                return _exits.TryGetValue(pid, out exit);
        }

        public ChildExit Wait(int pid, TimeSpan timeout)
        {
            var deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            lock (_exits)
            {
                while (true)
                {
                    if (_exits.TryGetValue(pid, out var exit))
                        return exit;
                    var left = deadline == long.MaxValue ? 1000 : deadline - Environment.TickCount64;
                    if (left <= 0)
                        throw new TimeoutException($"process {pid} did not exit within {timeout.TotalSeconds:0.#} s");
                    Monitor.Wait(_exits, (int)Math.Min(left, 1000));
                }
            }
        }

        public void Dispose()
        {
            lock (_reaper._lock)
                _reaper._subscriptions.Remove(this);
        }
    }

    /// <summary>Looks up an exit a subscription has already recorded.</summary>
    public static bool TryGetSeen(IExitSubscription subscription, int pid, out ChildExit exit)
    {
        if (subscription is Subscription s)
            return s.TryGet(pid, out exit);
        exit = default;
        return false;
    }
}
