using Csrt.Runtime.Cgroups;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

public class ConversionsTests
{
    [Theory]
    [InlineData(0UL, 0UL)]        // unset
    [InlineData(1UL, 1UL)]
    [InlineData(2UL, 1UL)]        // v1 minimum → v2 minimum
    [InlineData(1024UL, 100UL)]   // v1 default → v2 default (the point of the quadratic fit)
    [InlineData(512UL, 59UL)]
    [InlineData(2048UL, 174UL)]
    [InlineData(102UL, 17UL)]
    [InlineData(262144UL, 10000UL)] // v1 maximum → v2 maximum
    [InlineData(300000UL, 10000UL)]
    public void Cpu_shares_convert_to_weight_with_runcs_formula(ulong shares, ulong weight)
    {
        Assert.Equal(weight, Conversions.CpuSharesToWeight(shares));
    }

    [Fact]
    public void Cpu_weight_grows_with_shares()
    {
        ulong last = 0;
        for (ulong s = 2; s <= 262144; s += 97)
        {
            var w = Conversions.CpuSharesToWeight(s);
            Assert.InRange(w, last, 10000UL);
            last = w;
        }
    }

    [Theory]
    [InlineData((ushort)0, 0UL)]
    [InlineData((ushort)10, 1UL)]
    [InlineData((ushort)500, 4950UL)]
    [InlineData((ushort)1000, 10000UL)]
    public void Blkio_weight_converts_to_io_weight(ushort blkio, ulong io)
    {
        Assert.Equal(io, Conversions.BlkioWeightToIoWeight(blkio));
    }

    [Theory]
    [InlineData(0L, -1L, -1L)]              // unlimited memory, swap unset: unlimited swap
    [InlineData(-1L, 1024L, -1L)]
    [InlineData(0L, 1024L, 0L)]              // swap unset: leave it
    [InlineData(3072L, 1024L, 2048L)]        // memory+swap 3 KiB, memory 1 KiB: 2 KiB of swap
    [InlineData(1024L, 1024L, 0L)]           // no swap at all
    public void Oci_swap_converts_to_v2_swap_alone(long swap, long limit, long expected)
    {
        Assert.Equal(expected, Conversions.MemorySwapToV2(swap, limit));
    }

    [Theory]
    [InlineData(2048L, 0L, "needs a memory.limit")]
    [InlineData(2048L, -1L, "needs a memory.limit")]
    [InlineData(1024L, 2048L, "must be at least memory.limit")]
    [InlineData(2048L, -5L, "invalid memory.limit")]
    public void Impossible_swap_values_are_refused(long swap, long limit, string why)
    {
        var e = Assert.Throws<CgroupException>(() => Conversions.MemorySwapToV2(swap, limit));

        Assert.Contains(why, e.Message);
    }

    [Theory]
    [InlineData("hugepages-2048kB", "2MB")]
    [InlineData("hugepages-1048576kB", "1GB")]
    [InlineData("hugepages-64kB", "64KB")]
    [InlineData("hugepages-32768kB", "32MB")]
    [InlineData("hugepages-100kB", "100KB")]
    [InlineData("something-else", null)]
    public void Hugepage_directories_name_the_sizes_cgroup_files_use(string dir, string? size)
    {
        Assert.Equal(size, Conversions.HugePageDirToSize(dir));
    }
}
