using Csrt.Cli;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cli;

/// <summary>`csrt exec` flags that change the process's identity and capabilities.</summary>
public sealed class ExecFlagsTests
{
    [Fact]
    public void Cap_adds_to_bounding_effective_and_permitted_but_never_to_inheritable()
    {
        var p = new Process { Capabilities = new LinuxCapabilities { Bounding = ["CAP_CHOWN"], Effective = ["CAP_CHOWN"], Permitted = ["CAP_CHOWN"] } };

        ExecCommand.AddCapability(p, "CAP_SYS_ADMIN");
        ExecCommand.AddCapability(p, "net_admin");

        Assert.Equal(["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"], p.Capabilities.Bounding);
        Assert.Equal(["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"], p.Capabilities.Effective);
        Assert.Equal(["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"], p.Capabilities.Permitted);
        Assert.Null(p.Capabilities.Inheritable);
        Assert.Null(p.Capabilities.Ambient);
    }

    [Fact]
    public void Cap_on_a_process_without_capabilities_leaves_inheritable_empty()
    {
        var p = new Process();

        ExecCommand.AddCapability(p, "CAP_SYS_ADMIN");

        Assert.Equal(["CAP_SYS_ADMIN"], p.Capabilities!.Permitted);
        Assert.Null(p.Capabilities.Inheritable);
    }

    [Fact]
    public void Cap_is_ambient_only_when_the_container_already_makes_it_inheritable()
    {
        var p = new Process { Capabilities = new LinuxCapabilities { Inheritable = ["CAP_NET_RAW"] } };

        ExecCommand.AddCapability(p, "CAP_NET_RAW");
        ExecCommand.AddCapability(p, "CAP_SYS_ADMIN");

        Assert.Equal(["CAP_NET_RAW"], p.Capabilities.Inheritable);
        Assert.Equal(["CAP_NET_RAW"], p.Capabilities.Ambient);
    }

    [Theory]
    [InlineData("0", 0u)]
    [InlineData("1000", 1000u)]
    [InlineData("2147483647", 2147483647u)]
    public void User_ids_up_to_2147483647_are_taken(string text, uint expected) =>
        Assert.Equal(expected, ExecCommand.ParseId(text, "--user"));

    [Theory]
    [InlineData("4294967295")]
    [InlineData("2147483648")]
    [InlineData("99999999999")]
    public void User_ids_past_2147483647_are_refused_naming_the_flag(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => ExecCommand.ParseId(text, "--additional-gids"));

        Assert.Equal($"--additional-gids: uids and gids must be in range 0-2147483647, got {text}", e.Message);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("root")]
    [InlineData("")]
    public void User_ids_that_are_not_numbers_are_refused_naming_the_flag(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => ExecCommand.ParseId(text, "--user"));

        Assert.StartsWith("--user: expected a numeric id", e.Message, StringComparison.Ordinal);
    }
}
