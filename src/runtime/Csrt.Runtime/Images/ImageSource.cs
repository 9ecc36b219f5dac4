using System.Formats.Tar;
using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Images;

/// <summary>The blobs of an OCI image layout, in a directory or in a tar of one.</summary>
internal abstract class ImageSource : IDisposable
{
    /// <summary>Largest JSON document (index, manifest, config) read into memory.</summary>
    private const long MaxDocument = 16 << 20;

    public static ImageSource Open(ImageReference reference) =>
        reference.IsArchive ? new ArchiveSource(reference.Path) : new DirectorySource(reference.Path);

    /// <summary>index.json, the layout's entry point.</summary>
    public abstract byte[] ReadIndex();

    /// <summary>The raw bytes of a blob; null when the layout has none by that digest.</summary>
    protected abstract Stream? OpenRaw(Digest digest);

    public abstract void Dispose();

    /// <summary>A blob checked against its descriptor as it is read; call Verify at its end.</summary>
    public VerifyingStream OpenBlob(OciDescriptor d, string what)
    {
        var digest = Digest.Parse(d.Digest, what + " digest");
        var raw = OpenRaw(digest) ?? throw CsrtException.NotFound($"{what} {digest}: no such blob in the image layout");
        return new VerifyingStream(raw, digest, d.Size, what);
    }

    /// <summary>A small JSON blob, verified.</summary>
    public byte[] ReadDocument(OciDescriptor d, string what)
    {
        if (d.Size < 0 || d.Size > MaxDocument)
            throw CsrtException.InvalidArgument($"{what} {d.Digest}: size {d.Size} is out of range (at most {MaxDocument} bytes)");
        using var blob = OpenBlob(d, what);
        var bytes = new byte[d.Size];
        var n = 0;
        while (n < bytes.Length)
        {
            var r = blob.Read(bytes.AsSpan(n));
            if (r == 0)
                break;
            n += r;
        }
        blob.Verify();
        return bytes;
    }

    private sealed class DirectorySource : ImageSource
    {
        private readonly string _dir;

        public DirectorySource(string dir)
        {
            if (!Directory.Exists(dir))
                throw CsrtException.NotFound($"oci:{dir}: no such directory");
            _dir = dir;
        }

        public override byte[] ReadIndex()
        {
            var path = System.IO.Path.Combine(_dir, "index.json");
            if (!File.Exists(path))
                throw CsrtException.InvalidArgument($"oci:{_dir}: not an OCI image layout (no index.json)");
            return File.ReadAllBytes(path);
        }

        protected override Stream? OpenRaw(Digest digest)
        {
            var path = System.IO.Path.Combine(_dir, "blobs", digest.Algorithm, digest.Hex);
            return File.Exists(path) ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16) : null;
        }

        public override void Dispose()
        {
        }
    }

    /// <summary>A tar of a layout: its entries' data offsets are indexed once (headers only, the
    /// data is skipped by seeking), then blobs are read in place.</summary>
    private sealed class ArchiveSource : ImageSource
    {
        private readonly string _file;
        private readonly FileStream _stream;
        private readonly Dictionary<string, (long Offset, long Length)> _entries = new(StringComparer.Ordinal);

        public ArchiveSource(string file)
        {
            _file = file;
            try
            {
                _stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw CsrtException.NotFound($"oci-archive:{file}: no such file");
            }
            try
            {
                using var reader = new TarReader(_stream, leaveOpen: true);
                while (reader.GetNextEntry() is { } entry)
                {
                    if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                        _entries[Normalize(entry.Name)] = (entry.DataOffset, entry.Length);
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                _stream.Dispose();
                throw CsrtException.InvalidArgument($"oci-archive:{file}: not a readable tar archive: {e.Message}", e);
            }
        }

        private static string Normalize(string name)
        {
            while (name.StartsWith("./", StringComparison.Ordinal))
                name = name[2..];
            return name.TrimStart('/');
        }

        public override byte[] ReadIndex()
        {
            if (!_entries.TryGetValue("index.json", out var e))
                throw CsrtException.InvalidArgument($"oci-archive:{_file}: not an OCI image layout (no index.json in the archive)");
            using var s = Slice(e);
            var bytes = new byte[e.Length];
            s.ReadExactly(bytes);
            return bytes;
        }

        protected override Stream? OpenRaw(Digest digest) =>
            _entries.TryGetValue("blobs/" + digest.Algorithm + "/" + digest.Hex, out var e) ? Slice(e) : null;

        private Stream Slice((long Offset, long Length) e)
        {
            // A file stream of its own per blob: the slice is read while others may be open.
            var s = new FileStream(_file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            s.Position = e.Offset;
            return new BoundedStream(s, e.Length);
        }

        public override void Dispose() => _stream.Dispose();
    }

    /// <summary>The next <c>length</c> bytes of a stream; a short file reads as a short blob.</summary>
    private sealed class BoundedStream(Stream inner, long length) : Stream
    {
        private long _left = length;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_left <= 0)
                return 0;
            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            _left -= n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
