using Csrt.Linux;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// Gives back the memory the GC keeps committed after a burst of work. A shim lives as long as its
/// pod and idles most of that time; after a Create, an exec or a run of stats calls the GC holds
/// on to the pages its allocations went through (up to the 1 MiB gen0 budget, plus freed regions),
/// a per-pod cost (docs/benchmarks.md). Every <c>period</c>: when at least
/// <see cref="Threshold"/> bytes were allocated since the last trim and nothing was allocated
/// during the last period (the burst is over), one full compacting collection in
/// <see cref="GCCollectionMode.Aggressive"/> mode decommits what is free. The shim's live heap is
/// small, so that collection is cheap, and it runs at most once per burst.
/// <para>
/// After any work, once quiet, the shim also drops its view of the binary's code and read-only
/// data (<see cref="Memory.ReleaseReadOnlyFileMappings"/>): pages shared with every other shim
/// through the page cache, a large part of an idle shim's RSS (docs/benchmarks.md); the next
/// request faults back in the part it needs.
/// </para>
/// </summary>
internal sealed class MemoryTrim : IDisposable
{
    /// <summary>Allocations since the last trim below this are left alone (a few stats calls).</summary>
    public const long Threshold = 256 * 1024;

    private readonly Timer _timer;
    private long _lastSeen;
    private long _afterTrim;
    private long _afterRelease = -1;

    public MemoryTrim(TimeSpan period)
    {
        _lastSeen = _afterTrim = Allocated();
        _timer = new Timer(static s => ((MemoryTrim)s!).Tick(), this, period, period);
    }

    private void Tick()
    {
        var allocated = Allocated();
        var quiet = allocated == _lastSeen;
        _lastSeen = allocated;
        // Any work allocates; no allocation since the last release means nothing was faulted back in.
        if (!quiet || allocated == _afterRelease)
            return;
        var since = allocated - _afterTrim;
        var trimmed = since >= Threshold;
        if (trimmed)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var released = Memory.ReleaseReadOnlyFileMappings();
        // What the trim itself allocated (reading smaps) is not work.
        _lastSeen = _afterRelease = Allocated();
        if (trimmed)
            _afterTrim = _afterRelease;
        if (Log.Debug)
        {
            var info = GC.GetGCMemoryInfo();
            Log.Trace($"memory trim: {since / 1024} KB allocated since the last collection{(trimmed ? " (collected)" : "")}; GC heap {info.HeapSizeBytes / 1024} KB, committed {info.TotalCommittedBytes / 1024} KB; read-only file mappings of {released / 1024} KB released");
        }
    }

    /// <summary>Precise: the imprecise count leaves out what threads allocated in their current
    /// allocation contexts, so a few small requests (stats calls) could go unseen and the pages
    /// they faulted back in would never be released again.</summary>
    private static long Allocated() => GC.GetTotalAllocatedBytes(precise: true);

    public void Dispose() => _timer.Dispose();
}
