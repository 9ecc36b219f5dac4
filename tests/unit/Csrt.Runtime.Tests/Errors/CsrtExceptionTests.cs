using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Xunit;

namespace Csrt.Runtime.Tests.Errors;

/// <summary>Every failure csrt expects has one kind; anything without one is a bug.</summary>
public sealed class CsrtExceptionTests
{
    public static TheoryData<Exception, ErrorKind> Kinds => new()
    {
        { new ContainerNotFoundException("c1"), ErrorKind.NotFound },
        { new ContainerExistsException("c1"), ErrorKind.AlreadyExists },
        { new InvalidContainerStateException("c1", ContainerStatus.Running, "delete"), ErrorKind.FailedPrecondition },
        { new SpecValidationException("config.json", "$.process", null, "missing"), ErrorKind.InvalidArgument },
        { new InvalidContainerIdException("a/b", "bad id"), ErrorKind.InvalidArgument },
        { new CgroupException(ErrorKind.Unsupported, "no hugetlb"), ErrorKind.Unsupported },
        { new HookFailedException("prestart hook /bin/false failed: exit status 1"), ErrorKind.Failed },
        { new SyscallException("mount", Errno.EPERM, "/run/x"), ErrorKind.Failed },
        { new ArgumentException("--signal: unknown signal"), ErrorKind.InvalidArgument },
        { new InvalidDataException("stdin is not an Any"), ErrorKind.InvalidArgument },
        { new NotSupportedException("--apparmor"), ErrorKind.Unsupported },
        { new IOException("disk full"), ErrorKind.Failed },
        { new TimeoutException("init did not answer"), ErrorKind.Failed },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EachExpectedException_HasItsKind_AndIsDescribedByItsMessageAlone(Exception e, ErrorKind kind)
    {
        Assert.Equal(kind, CsrtException.KindOf(e));
        Assert.Equal(e.Message, CsrtException.Describe(e));
    }

    [Theory]
    [InlineData(ErrorKind.NotFound)]
    [InlineData(ErrorKind.AlreadyExists)]
    [InlineData(ErrorKind.FailedPrecondition)]
    [InlineData(ErrorKind.InvalidArgument)]
    [InlineData(ErrorKind.Unsupported)]
    [InlineData(ErrorKind.Failed)]
    public void ACsrtException_KeepsTheKindItWasGiven(ErrorKind kind)
    {
        var e = new CsrtException(kind, "m");
        Assert.Equal(kind, CsrtException.KindOf(e));
        Assert.Equal("m", CsrtException.Describe(e));
    }

    [Fact]
    public void ABug_HasNoKind_AndIsDescribedWithItsTypeName()
    {
        var e = new InvalidOperationException("collection was modified");
        Assert.Null(CsrtException.KindOf(e));
        Assert.Equal("InvalidOperationException: collection was modified", CsrtException.Describe(e));
        Assert.Null(CsrtException.KindOf(new NullReferenceException()));
    }
}
