using Csrt.Runtime.Processes;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>/etc/passwd lookups: the owner's name and the HOME runc derives.</summary>
public sealed class PasswdTests
{
    private const string Text = "root:x:0:0:root:/root:/bin/sh\n" +
        "short:x\n" +
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
        "nohome:x:1000:1000:::/bin/sh\n" +
        "dup:x:1:1::/second:/bin/sh\n";

    [Fact]
    public void Find_ReturnsTheFirstEntryWithTheUid()
    {
        Assert.Equal(new PasswdEntry("daemon", "/usr/sbin"), Passwd.Find(Text, 1));
        Assert.Equal(new PasswdEntry("root", "/root"), Passwd.Find(Text, 0));
    }

    [Fact]
    public void Find_GivesSlashForAnEmptyHome() =>
        Assert.Equal("/", Passwd.Find(Text, 1000)?.Home);

    [Fact]
    public void Find_ReturnsNullWithoutTextOrEntry()
    {
        Assert.Null(Passwd.Find(null, 0));
        Assert.Null(Passwd.Find(Text, 4242));
        Assert.Null(Passwd.Find("name:x:notanumber:0::/h:/bin/sh", 0));
    }

    [Fact]
    public void WithHome_AddsTheUsersHome() =>
        Assert.Equal(["PATH=/bin", "HOME=/usr/sbin"], Passwd.WithHome(["PATH=/bin"], 1, () => Text));

    [Fact]
    public void WithHome_AddsSlashWithoutAnEntryOrAFile()
    {
        Assert.Equal(["HOME=/"], Passwd.WithHome([], 4242, () => Text));
        Assert.Equal(["HOME=/"], Passwd.WithHome([], 0, () => null));
    }

    [Fact]
    public void WithHome_KeepsAnExistingHomeWithoutReadingTheFile()
    {
        var env = new List<string> { "HOME=/mine" };
        Assert.Same(env, Passwd.WithHome(env, 0, () => throw new InvalidOperationException("read")));
    }
}
