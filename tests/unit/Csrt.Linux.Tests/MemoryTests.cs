using System.Runtime.InteropServices;
using Csrt.Linux;
using Xunit;

namespace Csrt.Linux.Tests;

public class MemoryTests
{
    private const string Smaps = """
        00400000-00401000 r--p 00000000 00:27 5309225                            /csrt
        Size:                  4 kB
        Rss:                   4 kB
        Anonymous:             0 kB
        VmFlags: rd mr mw me sd
        00401000-0076d000 r-xp 00001000 00:27 5309225                            /csrt
        Size:               3504 kB
        Rss:                1216 kB
        Anonymous:             0 kB
        VmFlags: rd ex mr mw me sd
        0090b000-00910000 r--p 0050a000 00:27 5309225                            /csrt
        Size:                 20 kB
        Rss:                  20 kB
        Anonymous:             8 kB
        00910000-00a9a000 rw-p 0050f000 00:27 5309225                            /csrt
        Size:               1576 kB
        Rss:                1192 kB
        Anonymous:            60 kB
        7f0000000000-7f0000010000 r--p 00000000 00:27 77                         /usr/lib/x.so
        Size:                 64 kB
        Rss:                   0 kB
        Anonymous:             0 kB
        7f0000010000-7f0000020000 r--s 00000000 00:27 78                         /dev/shm/shared
        Size:                 64 kB
        Rss:                  64 kB
        Anonymous:             0 kB
        7ffeddfcf000-7ffeddff0000 rw-p 00000000 00:00 0                          [stack]
        Rss:                   8 kB
        Anonymous:             8 kB
        7fea475d9000-7fea475db000 r-xp 00000000 00:00 0                          [vdso]
        Rss:                   4 kB
        Anonymous:             0 kB
        """;

    [Fact]
    public void ReadOnlyFileMappings_AreThePrivateUnwritableResidentOnes_WithNoCopiedPage()
    {
        var ranges = Memory.ReadOnlyFileMappings(Smaps);

        Assert.Equal(
            new (ulong, ulong)[] { (0x400000, 0x1000), (0x401000, 0x36c000) },
            ranges.Select(r => (r.start, r.length)).ToArray());
    }

    [Fact]
    public void ReleasingTheReadOnlyFileMappings_OfThisProcess_LowersItsResidentSize_AndLosesNothing()
    {
        var before = ResidentKbOfReadOnlyFileMappings();

        var spanned = Memory.ReleaseReadOnlyFileMappings();
        var after = ResidentKbOfReadOnlyFileMappings();

        Assert.True(spanned > 0, "nothing was released");
        Assert.True(after < before, $"resident read-only file pages: {before} KB before, {after} KB after");
        // The released code faults back in: the runtime, the JIT and this assembly keep working.
        GC.Collect();
        Assert.NotEmpty(Memory.ReadOnlyFileMappings(File.ReadAllText("/proc/self/smaps")));
    }

    [Fact]
    public unsafe void AFakedMemoryMap_ThatCallsTheHeapAReadOnlyFileMapping_DropsNothingOfIt()
    {
        // What a container's rootfs could put at /proc/self/smaps: our own written memory
        // described as an unmodified read-only file mapping.
        const int size = 64 * 1024;
        var block = (byte*)NativeMemory.AlignedAlloc(size, 4096);
        try
        {
            new Span<byte>(block, size).Fill(0x5a);
            var start = (ulong)block;
            var fake = $"""
                {start:x}-{start + size:x} r-xp 00000000 00:27 5309225                            /csrt
                Size:                 64 kB
                Rss:                  64 kB
                Anonymous:             0 kB
                """;
            Assert.Single(Memory.ReadOnlyFileMappings(fake));

            Memory.Release(fake);

            Assert.True(new Span<byte>(block, size).IndexOfAnyExcept((byte)0x5a) < 0, "pages of the heap were dropped");
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    private static long ResidentKbOfReadOnlyFileMappings()
    {
        long total = 0;
        var inOne = false;
        foreach (var line in File.ReadAllLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0].Contains('-') && fields[1].Length == 4)
                inOne = fields[1] is "r--p" or "r-xp" && fields.Length >= 6 && fields[5].StartsWith('/');
            else if (inOne && fields[0] == "Rss:")
                total += long.Parse(fields[1]);
        }
        return total;
    }
}
