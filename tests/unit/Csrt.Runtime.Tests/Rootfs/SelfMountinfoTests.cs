using System.Runtime.InteropServices;
using Csrt.Runtime.Rootfs;
using Xunit;

namespace Csrt.Runtime.Tests.Rootfs;

public class SelfMountinfoTests
{
    private static byte[] ArrayOf(ReadOnlyMemory<byte> text)
    {
        Assert.True(MemoryMarshal.TryGetArray(text, out var segment));
        return segment.Array!;
    }

    [Fact]
    public void Reads_in_a_shared_scope_return_one_read_of_the_table()
    {
        using (SelfMountinfo.Share())
        {
            var first = SelfMountinfo.Read();
            var second = SelfMountinfo.Read();

            Assert.Same(ArrayOf(first), ArrayOf(second));
            Assert.Contains(" / / ", System.Text.Encoding.UTF8.GetString(first.Span), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Reads_outside_a_scope_read_the_table_again()
    {
        using (SelfMountinfo.Share())
            SelfMountinfo.Read();

        Assert.NotSame(ArrayOf(SelfMountinfo.Read()), ArrayOf(SelfMountinfo.Read()));
    }

    [Fact]
    public void A_nested_scope_leaves_the_outer_one_in_place()
    {
        using (SelfMountinfo.Share())
        {
            var outer = SelfMountinfo.Read();
            using (SelfMountinfo.Share())
                SelfMountinfo.Read();

            Assert.Same(ArrayOf(outer), ArrayOf(SelfMountinfo.Read()));
        }
    }
}
