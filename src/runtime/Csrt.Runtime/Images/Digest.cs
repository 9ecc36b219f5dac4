using Csrt.Runtime.Errors;
using Csrt.Runtime.Hashing;

namespace Csrt.Runtime.Images;

/// <summary>A content digest "algorithm:hex" (image-spec descriptor.md), checked before it is
/// used as a file name: sha256 with lower-case hex of the right length. sha512 (which the image
/// spec lets registries use, and which they do not in practice) is refused by name: csrt verifies
/// blobs with its own SHA-256 (see <see cref="Sha256"/>).</summary>
public readonly record struct Digest(string Algorithm, string Hex)
{
    public static Digest Parse(string text, string what)
    {
        var colon = text.IndexOf(':');
        if (colon > 0)
        {
            var algorithm = text[..colon];
            var hex = text[(colon + 1)..];
            if (algorithm == "sha512")
                throw CsrtException.Unsupported($"{what}: \"{text}\": sha512 digests are not supported by csrt (sha256 only)");
            if (algorithm == "sha256" && hex.Length == 64 && hex.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
                return new Digest(algorithm, hex);
        }
        throw CsrtException.InvalidArgument($"{what}: \"{text}\" is not a sha256 digest");
    }

    public override string ToString() => Algorithm + ":" + Hex;
}

/// <summary>Reads a blob through, hashing what passes; <see cref="Verify"/> reads whatever the
/// consumer left and checks the size and digest the descriptor promised.</summary>
internal sealed class VerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly Sha256 _hash;
    private readonly Digest _digest;
    private readonly long _size;
    private readonly string _what;
    private long _read;

    public VerifyingStream(Stream inner, Digest digest, long size, string what)
    {
        _inner = inner;
        _digest = digest;
        _size = size;
        _what = what;
        _hash = new Sha256();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        _hash.Append(buffer[..n]);
        _read += n;
        return n;
    }

    /// <summary>Drains the rest and throws, naming the blob, when its size or digest differ.</summary>
    public void Verify()
    {
        var rest = new byte[1 << 16];
        while (Read(rest) > 0)
        {
        }
        var actual = Convert.ToHexStringLower(_hash.Finish());
        if (actual != _digest.Hex)
            throw CsrtException.Failed($"{_what} {_digest}: digest mismatch: the blob's {_digest.Algorithm} is {actual} ({_read} bytes, {_size} expected); the blob is corrupt or truncated");
        if (_read != _size)
            throw CsrtException.Failed($"{_what} {_digest}: size mismatch: {_read} bytes, the descriptor says {_size}");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
