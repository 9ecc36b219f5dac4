using Csrt.Runtime.Errors;
using Google.Protobuf;
using Grpc.Core;

namespace Csrt.Shim.Errors;

/// <summary>
/// The only place exceptions become ttrpc statuses, by <see cref="ErrorKind"/>. Messages end with
/// containerd's class text (errdefs.ToGRPC), e.g. "container not created: not found", which
/// containerd strips again.
/// </summary>
public static class ErrorStatus
{
    public static Status? Map(Exception e) => e switch
    {
        RpcException r => r.Status,
        // Protobuf derives it from IOException, but it is the caller's bytes that do not parse (options).
        InvalidProtocolBufferException => Of(ErrorKind.InvalidArgument, e),
        _ => Of(CsrtException.KindOf(e), e),
    };

    private static Status Of(ErrorKind? kind, Exception e) => kind switch
    {
        ErrorKind.NotFound => new Status(StatusCode.NotFound, e.Message + ": not found"),
        ErrorKind.AlreadyExists => new Status(StatusCode.AlreadyExists, e.Message + ": already exists"),
        ErrorKind.FailedPrecondition => new Status(StatusCode.FailedPrecondition, e.Message + ": failed precondition"),
        ErrorKind.InvalidArgument => new Status(StatusCode.InvalidArgument, e.Message + ": invalid argument"),
        ErrorKind.Unsupported => new Status(StatusCode.Unimplemented, e.Message + ": not implemented"),
        // containerd's runc shim returns runc's failures as UNKNOWN with runc's text.
        ErrorKind.Failed => new Status(StatusCode.Unknown, e.Message),
        _ => new Status(StatusCode.Internal, $"{e.GetType().Name}: {e.Message}"),
    };
}
