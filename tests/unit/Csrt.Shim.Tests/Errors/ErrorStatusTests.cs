using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Csrt.Shim.Errors;
using Grpc.Core;
using Xunit;

namespace Csrt.Shim.Tests.Errors;

/// <summary>
/// Exceptions become the ttrpc statuses containerd branches on (errdefs.FromGRPC), with messages
/// ending in the class text errdefs.ToGRPC would write (protocol doc §2.6).
/// </summary>
public sealed class ErrorStatusTests
{
    public static TheoryData<ErrorKind, StatusCode, string> Kinds => new()
    {
        { ErrorKind.NotFound, StatusCode.NotFound, "m: not found" },
        { ErrorKind.AlreadyExists, StatusCode.AlreadyExists, "m: already exists" },
        { ErrorKind.FailedPrecondition, StatusCode.FailedPrecondition, "m: failed precondition" },
        { ErrorKind.InvalidArgument, StatusCode.InvalidArgument, "m: invalid argument" },
        { ErrorKind.Unsupported, StatusCode.Unimplemented, "m: not implemented" },
        { ErrorKind.Failed, StatusCode.Unknown, "m" },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EachKind_GetsItsStatusCode_AndTheClassSuffix(ErrorKind kind, StatusCode code, string message)
    {
        var status = ErrorStatus.Map(new CsrtException(kind, "m"));
        Assert.NotNull(status);
        Assert.Equal(code, status.Value.StatusCode);
        Assert.Equal(message, status.Value.Detail);
    }

    [Fact]
    public void EveryKind_HasAStatusOtherThanInternal()
    {
        foreach (var kind in Enum.GetValues<ErrorKind>())
            Assert.NotEqual(StatusCode.Internal, ErrorStatus.Map(new CsrtException(kind, "m"))!.Value.StatusCode);
    }

    public static TheoryData<Exception, StatusCode, string> Cases => new()
    {
        { CsrtException.NotFound("container not created"), StatusCode.NotFound, "container not created: not found" },
        { new ContainerNotFoundException("c1"), StatusCode.NotFound, "container \"c1\" does not exist: not found" },
        { CsrtException.AlreadyExists("id e1"), StatusCode.AlreadyExists, "id e1: already exists" },
        { new ContainerExistsException("c1"), StatusCode.AlreadyExists, "container with id \"c1\" already exists: already exists" },
        { CsrtException.FailedPrecondition("cannot start a running process"), StatusCode.FailedPrecondition, "cannot start a running process: failed precondition" },
        { new InvalidContainerStateException("c1", ContainerStatus.Stopped, "pause"), StatusCode.FailedPrecondition, "cannot pause container \"c1\": it is stopped: failed precondition" },
        { new ArgumentException("exec: no process spec"), StatusCode.InvalidArgument, "exec: no process spec: invalid argument" },
        { new InvalidContainerIdException("a/b", "bad id"), StatusCode.InvalidArgument, "bad id: invalid argument" },
        { new SpecValidationException("exec process spec", "$.args", null, "expected an array"), StatusCode.InvalidArgument, "exec process spec: $.args: expected an array: invalid argument" },
        { new InvalidDataException("google.protobuf.Any has type_url 'x', expected 'y'"), StatusCode.InvalidArgument, "google.protobuf.Any has type_url 'x', expected 'y': invalid argument" },
        { new NotSupportedException("restoring a checkpoint is not supported by csrt"), StatusCode.Unimplemented, "restoring a checkpoint is not supported by csrt: not implemented" },
        { CsrtException.Unsupported("checkpoint is not implemented by csrt (no CRIU support yet)"), StatusCode.Unimplemented, "checkpoint is not implemented by csrt (no CRIU support yet): not implemented" },
        { new CgroupException(ErrorKind.InvalidArgument, "cpu quota below 1000"), StatusCode.InvalidArgument, "cpu quota below 1000: invalid argument" },
        { new CgroupException(ErrorKind.Unsupported, "no hugetlb"), StatusCode.Unimplemented, "no hugetlb: not implemented" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachErrorClass_GetsItsStatusCode_AndTheClassSuffix(Exception e, StatusCode code, string message)
    {
        var status = ErrorStatus.Map(e);
        Assert.NotNull(status);
        Assert.Equal(code, status.Value.StatusCode);
        Assert.Equal(message, status.Value.Detail);
    }

    [Fact]
    public void OptionsThatDoNotParse_AreAnInvalidArgument()
    {
        // A length-delimited field that claims more bytes than follow.
        var e = Assert.Throws<Google.Protobuf.InvalidProtocolBufferException>(() => Google.Protobuf.WellKnownTypes.Any.Parser.ParseFrom(new byte[] { 0x0a, 0x05 }));
        var status = ErrorStatus.Map(e)!.Value;
        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Equal(e.Message + ": invalid argument", status.Detail);
    }

    [Fact]
    public void AnRpcException_KeepsItsOwnStatus()
    {
        var status = ErrorStatus.Map(new RpcException(new Status(StatusCode.Unimplemented, "checkpoint: not implemented")));
        Assert.Equal(new Status(StatusCode.Unimplemented, "checkpoint: not implemented"), status);
    }

    [Fact]
    public void RuntimeFailures_AreUnknown_WithTheRuntimesMessageAsIs()
    {
        var syscall = new SyscallException("mount", Errno.EPERM, "/run/x/rootfs");
        Assert.Equal(StatusCode.Unknown, ErrorStatus.Map(syscall)!.Value.StatusCode);
        Assert.Equal(syscall.Message, ErrorStatus.Map(syscall)!.Value.Detail);
        Assert.Equal(StatusCode.Unknown, ErrorStatus.Map(new IOException("disk full"))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unknown, ErrorStatus.Map(new TimeoutException("init did not answer"))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unknown, ErrorStatus.Map(new CgroupException(ErrorKind.Failed, "freeze stuck"))!.Value.StatusCode);
        Assert.Equal(StatusCode.Unknown, ErrorStatus.Map(CsrtException.Failed("exec: \"x\": no such file or directory"))!.Value.StatusCode);
    }

    [Fact]
    public void Bugs_AreInternal_NamingTheExceptionType()
    {
        var status = ErrorStatus.Map(new NullReferenceException("oops"))!.Value;
        Assert.Equal(StatusCode.Internal, status.StatusCode);
        Assert.Equal("NullReferenceException: oops", status.Detail);
        Assert.Equal(StatusCode.Internal, ErrorStatus.Map(new InvalidOperationException("collection was modified"))!.Value.StatusCode);
    }
}
