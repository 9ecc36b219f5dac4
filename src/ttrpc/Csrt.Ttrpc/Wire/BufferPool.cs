using System.Buffers;

namespace Csrt.Ttrpc.Wire;

/// <summary>
/// Buffers for frames. Small frames (every containerd call in practice) come from the shared pool;
/// large ones are allocated and left to the GC so a rare 4 MiB message does not stay pinned in a
/// pool for the life of a long-running, memory-counted process.
/// </summary>
internal static class BufferPool
{
    /// <summary>Largest buffer that is pooled.</summary>
    internal const int MaxPooledLength = 64 * 1024;

    internal static byte[] Rent(int minimumLength) =>
        minimumLength == 0 ? [] :
        minimumLength <= MaxPooledLength
            ? ArrayPool<byte>.Shared.Rent(minimumLength)
            : GC.AllocateUninitializedArray<byte>(minimumLength);

    internal static void Return(byte[] buffer)
    {
        // Pool arrays have power-of-two lengths up to MaxPooledLength; anything longer was allocated.
        if (buffer.Length != 0 && buffer.Length <= MaxPooledLength)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
