using System.Buffers;
using Grpc.Core;

namespace Csrt.Ttrpc.Wire;

/// <summary>Hands a received payload to a Grpc.Core marshaller without copying (generated
/// deserializers read <see cref="PayloadAsReadOnlySequence"/>).</summary>
internal sealed class PayloadDeserializationContext : DeserializationContext
{
    private readonly ReadOnlyMemory<byte> _payload;

    internal PayloadDeserializationContext(ReadOnlyMemory<byte> payload)
    {
        _payload = payload;
    }

    /// <inheritdoc/>
    public override int PayloadLength => _payload.Length;

    /// <inheritdoc/>
    public override byte[] PayloadAsNewBuffer() => _payload.ToArray();

    /// <inheritdoc/>
    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(_payload);
}
