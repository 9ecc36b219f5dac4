using Csrt.Cli;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Xunit;

namespace Csrt.Runtime.Tests.Cli;

/// <summary>A failed command exits as runc does (1, or the command's own failure code) and prints
/// the message runc would.</summary>
public sealed class ErrorReportTests
{
    [Theory]
    [InlineData(ErrorKind.NotFound)]
    [InlineData(ErrorKind.AlreadyExists)]
    [InlineData(ErrorKind.FailedPrecondition)]
    [InlineData(ErrorKind.InvalidArgument)]
    [InlineData(ErrorKind.Unsupported)]
    [InlineData(ErrorKind.Failed)]
    public void EachKind_ExitsOne_WithTheMessageAlone(ErrorKind kind)
    {
        Assert.Equal((1, "container \"c1\": m"), CommandLine.Report(new CsrtException(kind, "container \"c1\": m")));
    }

    [Fact]
    public void Exec_ExitsWithItsOwnFailureCode()
    {
        Assert.Equal((255, "exec: \"x\": no such file or directory"), CommandLine.Report(CsrtException.Failed("exec: \"x\": no such file or directory"), 255));
    }

    [Fact]
    public void ARuntimeError_IsPrintedAsRuncPrintsIt()
    {
        Assert.Equal((1, "container \"c1\" does not exist"), CommandLine.Report(new ContainerNotFoundException("c1")));
        Assert.Equal((1, "cannot delete container \"c1\": it is running (stop it first, or use --force)"),
            CommandLine.Report(new InvalidContainerStateException("c1", ContainerStatus.Running, "delete", "stop it first, or use --force")));
    }

    [Fact]
    public void ABug_ExitsOne_NamingTheExceptionType()
    {
        Assert.Equal((1, "NullReferenceException: oops"), CommandLine.Report(new NullReferenceException("oops")));
    }
}
