using Google.Protobuf;
using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>
/// The one place where a handler's exception becomes the status a client receives. Order:
/// <list type="number">
/// <item><see cref="RpcException"/> keeps its status (and its details, if it carries a serialized
/// <c>google.rpc.Status</c> in the <c>grpc-status-details-bin</c> trailer, as Grpc.StatusProto does).</item>
/// <item><see cref="OperationCanceledException"/> while the call's own token is cancelled:
/// DEADLINE_EXCEEDED ("context deadline exceeded") when the deadline passed, else CANCELLED
/// ("context canceled") — the texts of Go's context errors, which containerd knows.</item>
/// <item>The user's <see cref="TtrpcServerOptions.ExceptionMapper"/>, if it returns a status.</item>
/// <item>Otherwise UNKNOWN with the exception's message, as the Go server does; any other
/// <see cref="OperationCanceledException"/> is CANCELLED.</item>
/// </list>
/// A status of OK is never sent for a failure: it would make the client decode an empty response.
/// </summary>
internal static class StatusMapping
{
    /// <summary>The trailer key gRPC uses for a serialized <c>google.rpc.Status</c> with details.</summary>
    internal const string StatusDetailsTrailer = "grpc-status-details-bin";

    internal static Protocol.Status ToWireStatus(Exception exception, ServerCall call, Func<Exception, Grpc.Core.Status?>? mapper)
    {
        Grpc.Core.Status status;
        IEnumerable<Google.Protobuf.WellKnownTypes.Any>? details = null;
        if (exception is RpcException rpc)
        {
            status = rpc.Status;
            details = DetailsFrom(rpc.Trailers);
        }
        else if (exception is OperationCanceledException && call.CancellationToken.IsCancellationRequested)
        {
            status = call.DeadlineExpired
                ? new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded")
                : new Grpc.Core.Status(StatusCode.Cancelled, "context canceled");
        }
        else
        {
            status = Mapped(exception, mapper) ?? Default(exception);
        }

        if (status.StatusCode == StatusCode.OK)
        {
            status = new Grpc.Core.Status(StatusCode.Unknown, $"handler of {call.Method} failed with status OK: {status.Detail}");
        }
        return Wire.Envelope.ToProtocolStatus(status, details);
    }

    private static Grpc.Core.Status? Mapped(Exception exception, Func<Exception, Grpc.Core.Status?>? mapper)
    {
        if (mapper is null)
        {
            return null;
        }
        try
        {
            return mapper(exception);
        }
        catch (Exception mapperFailure)
        {
            return new Grpc.Core.Status(StatusCode.Unknown,
                $"{exception.Message} (and the exception mapper failed: {mapperFailure.Message})");
        }
    }

    private static Grpc.Core.Status Default(Exception exception) => exception is OperationCanceledException
        ? new Grpc.Core.Status(StatusCode.Cancelled, exception.Message)
        : new Grpc.Core.Status(StatusCode.Unknown, exception.Message);

    private static IEnumerable<Google.Protobuf.WellKnownTypes.Any>? DetailsFrom(Metadata trailers)
    {
        byte[]? serialized = trailers.GetValueBytes(StatusDetailsTrailer);
        if (serialized is null)
        {
            return null;
        }
        try
        {
            return Protocol.Status.Parser.ParseFrom(serialized).Details;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }
}
