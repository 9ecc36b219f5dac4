using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Csrt.Shim.Tasks;
using Grpc.Core;

namespace Csrt.Shim.Errors;

/// <summary>
/// The only place exceptions become ttrpc statuses. Messages end with containerd's class text
/// (errdefs.ToGRPC), e.g. "container not created: not found", which containerd strips again.
/// </summary>
public static class StatusMapping
{
    public static Status? Map(Exception e) => e switch
    {
        RpcException r => r.Status,
        NotFoundException or ContainerNotFoundException => new Status(StatusCode.NotFound, e.Message + ": not found"),
        AlreadyExistsException or ContainerExistsException => new Status(StatusCode.AlreadyExists, e.Message + ": already exists"),
        InvalidProcessStateException or InvalidContainerStateException => new Status(StatusCode.FailedPrecondition, e.Message + ": failed precondition"),
        // InvalidDataException: an Any of the wrong type (TypeUrls); InvalidProtocolBufferException: options that do not parse.
        SpecValidationException or InvalidContainerIdException or ArgumentException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException
            => new Status(StatusCode.InvalidArgument, e.Message + ": invalid argument"),
        NotSupportedException => new Status(StatusCode.Unimplemented, e.Message + ": not implemented"),
        CgroupException { Kind: CgroupErrorKind.InvalidArgument } => new Status(StatusCode.InvalidArgument, e.Message + ": invalid argument"),
        CgroupException { Kind: CgroupErrorKind.Unsupported } => new Status(StatusCode.Unimplemented, e.Message + ": not implemented"),
        ContainerInitException or ContainerStartException or ContainerSetupException or HookFailedException or SyscallException or CgroupException or IOException or TimeoutException
            => new Status(StatusCode.Unknown, e.Message),
        _ => new Status(StatusCode.Internal, $"{e.GetType().Name}: {e.Message}"),
    };
}
