using Csrt.Ttrpc.Protocol;
using Google.Protobuf.Collections;
using Grpc.Core;

namespace Csrt.Ttrpc.Wire;

/// <summary>Turns the <c>KeyValue</c> list of a Request into <see cref="Metadata"/>.</summary>
internal static class MetadataConversion
{
    /// <summary>
    /// Every entry becomes one metadata entry, in order. Keys are lower-cased by Grpc.Core (Go's MD
    /// helpers do the same). A "-bin" key's value is base64 (how <see cref="Envelope"/> sends bytes).
    /// Entries Grpc.Core cannot represent (characters a gRPC key may not hold, a "-bin" value that is
    /// not base64) are skipped: metadata is advisory and a peer's odd key must not fail its call.
    /// </summary>
    internal static Metadata FromRequest(RepeatedField<KeyValue> entries)
    {
        var metadata = new Metadata();
        foreach (KeyValue entry in entries)
        {
            try
            {
                if (entry.Key.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.OrdinalIgnoreCase))
                {
                    metadata.Add(entry.Key, Convert.FromBase64String(entry.Value));
                }
                else
                {
                    metadata.Add(entry.Key, entry.Value);
                }
            }
            catch (ArgumentException)
            {
            }
            catch (FormatException)
            {
            }
        }
        return metadata;
    }
}
