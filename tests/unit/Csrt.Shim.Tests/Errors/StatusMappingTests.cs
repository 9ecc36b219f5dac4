using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Csrt.Shim.Errors;
using Csrt.Shim.Tasks;
using Grpc.Core;
using Xunit;

namespace Csrt.Shim.Tests.Errors;

/// <summary>
/// Exceptions become the ttrpc statuses containerd branches on (errdefs.FromGRPC), with messages
/// ending in the class text errdefs.ToGRPC would write (protocol doc §2.6).
/// </summary>
public sealed class StatusMappingTests
{
    public static TheoryData<Exception, StatusCode, string> Cases => new()
    {
        { new NotFoundException("container not created"), StatusCode.NotFound, "container not created: not found" },
        { new ContainerNotFoundException("c1"), StatusCode.NotFound, "container \"c1\" does not exist: not found" },
        { new AlreadyExistsException("id e1"), StatusCode.AlreadyExists, "id e1: already exists" },
        { new ContainerExistsException("c1"), StatusCode.AlreadyExists, "container with id \"c1\" already exists: already exists" },
        { new InvalidProcessStateException("cannot start a running process"), StatusCode.FailedPrecondition, "cannot start a running process: failed precondition" },
        { new InvalidContainerStateException("c1", ContainerStatus.Stopped, "pause"), StatusCode.FailedPrecondition, "cannot pause container \"c1\": it is stopped: failed precondition" },
        { new ArgumentException("exec: no process spec"), StatusCode.InvalidArgument, "exec: no process spec: invalid argument" },
        { new InvalidContainerIdException("a/b", "bad id"), StatusCode.InvalidArgument, "bad id: invalid argument" },
        { new InvalidDataException("google.protobuf.Any has type_url 'x', expected 'y'"), StatusCode.InvalidArgument, "google.protobuf.Any has type_url 'x', expected 'y': invalid argument" },
        { new NotSupportedException("restoring a checkpoint is not supported by csrt"), StatusCode.Unimplemented, "restoring a checkpoint is not supported by csrt: not implemented" },
        { new CgroupException(CgroupErrorKind.InvalidArgument, "cpu quota below 1000"), StatusCode.InvalidArgument, "cpu quota below 1000: invalid argument" },
        { new CgroupException(CgroupErrorKind.Unsupported, "no hugetlb"), StatusCode.Unimplemented, "no hugetlb: not implemented" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachErrorClass_GetsItsStatusCode_AndTheClassSuffix(Exception e, StatusCode code, string message)
    {
        var status = StatusMapping.Map(e);
        Assert.NotNull(status);
        Assert.Equal(code, status.Value.StatusCode);
        Assert.Equal(message, status.Value.Detail);
    }

    [Fact]
    public void AnRpcException_KeepsItsOwnStatus()
    {
        var status = StatusMapping.Map(new RpcException(new Status(StatusCode.Unimplemented, "checkpoint: not implemented")));
        Assert.Equal(new Status(StatusCode.Unimplemented, "checkpoint: not implemented"), status);
    }

    [Fact]
    public void RuntimeFailures_AreUnknown_WithTheRuntimesMessageAsIs()
    {
        var syscall = new SyscallException("mount", Errno.EPERM, "/run/x/rootfs");
        Assert.Equal(StatusCode.Unknown, StatusMapping.Map(syscall)!.Value.StatusCode);
        Assert.Equal(syscall.Message, StatusMapping.Map(syscall)!.Value.Detail);
        Assert.Equal(StatusCode.Unknown, StatusMapping.Map(new IOException("disk full"))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unknown, StatusMapping.Map(new TimeoutException("init did not answer"))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unknown, StatusMapping.Map(new CgroupException(CgroupErrorKind.Failed, "freeze stuck"))!.Value.StatusCode);
    }

    [Fact]
    public void Bugs_AreInternal_NamingTheExceptionType()
    {
        var status = StatusMapping.Map(new NullReferenceException("oops"))!.Value;
        Assert.Equal(StatusCode.Internal, status.StatusCode);
        Assert.Equal("NullReferenceException: oops", status.Detail);
    }
}
