using System.Security.Cryptography;
using Csrt.Runtime.Hashing;
using Xunit;

namespace Csrt.Runtime.Tests.Hashing;

// csrt's own SHA-256 (the BCL's needs OpenSSL, which a static executable cannot load safely)
// must agree with the BCL's on every padding case and however the input is split.
public sealed class Sha256Tests
{
    [Fact]
    public void Hash_MatchesTheBcl_ForEveryPaddingCase()
    {
        var random = new Random(5);
        for (var length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(SHA256.HashData(data), Sha256.Hash(data));
        }
    }

    [Fact]
    public void Hash_OfAbc_IsTheFipsVector() =>
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(Sha256.Hash("abc"u8)));

    [Fact]
    public void Append_InChunksOfAnySize_GivesTheWholeInputsDigest()
    {
        var random = new Random(7);
        var data = new byte[5000];
        random.NextBytes(data);
        var expected = SHA256.HashData(data);
        foreach (var chunk in new[] { 1, 3, 55, 56, 63, 64, 65, 127, 1000, 4999 })
        {
            var sha = new Sha256();
            for (var i = 0; i < data.Length; i += chunk)
                sha.Append(data.AsSpan(i, Math.Min(chunk, data.Length - i)));
            Assert.Equal(expected, sha.Finish());
        }
    }

    [Fact]
    public void Finish_Twice_IsRefused()
    {
        var sha = new Sha256();
        sha.Finish();
        Assert.Throws<InvalidOperationException>(() => sha.Finish());
    }
}
