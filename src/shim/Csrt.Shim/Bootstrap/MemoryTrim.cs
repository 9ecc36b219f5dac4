namespace Csrt.Shim.Bootstrap;

/// <summary>
/// Gives back the memory the GC keeps committed after a burst of work. A shim lives as long as its
/// pod and idles most of that time; after a Create, an exec or a run of stats calls the GC holds
/// on to the pages its allocations went through (up to the 1 MiB gen0 budget, plus freed regions),
/// a per-pod cost of 1-2 MB (hack/bench/shim). Every <c>period</c>: when at least
/// <see cref="Threshold"/> bytes were allocated since the last trim and nothing was allocated
/// during the last period (the burst is over), one full compacting collection in
/// <see cref="GCCollectionMode.Aggressive"/> mode decommits what is free. The shim's live heap is
/// about 100 KB, so that collection costs about a millisecond, at most once per burst.
/// </summary>
internal sealed class MemoryTrim : IDisposable
{
    /// <summary>Allocations since the last trim below this are left alone (a few stats calls).</summary>
    public const long Threshold = 256 * 1024;

    private readonly Timer _timer;
    private long _lastSeen;
    private long _afterTrim;

    public MemoryTrim(TimeSpan period)
    {
        _lastSeen = _afterTrim = GC.GetTotalAllocatedBytes(precise: false);
        _timer = new Timer(static s => ((MemoryTrim)s!).Tick(), this, period, period);
    }

    private void Tick()
    {
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var quiet = allocated == _lastSeen;
        _lastSeen = allocated;
        var since = allocated - _afterTrim;
        if (!quiet || since < Threshold)
            return;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _lastSeen = _afterTrim = GC.GetTotalAllocatedBytes(precise: false);
        if (Log.Debug)
        {
            var info = GC.GetGCMemoryInfo();
            Log.Trace($"memory trim: {since / 1024} KB allocated since the last one; GC heap {info.HeapSizeBytes / 1024} KB, committed {info.TotalCommittedBytes / 1024} KB");
        }
    }

    public void Dispose() => _timer.Dispose();
}
