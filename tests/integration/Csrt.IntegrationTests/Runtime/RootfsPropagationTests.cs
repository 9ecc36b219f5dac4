using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>linux.rootfsPropagation is the propagation of the container's "/" once it is the root
/// (crun gives it to "/" again after pivot_root): the root's mountinfo tags and what a bind of "/"
/// made in the container does.</summary>
public sealed class RootfsPropagationTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("rootprop");

    public void Dispose() => _csrt.Dispose();

    // Prints the optional fields of the root's mountinfo line, then binds "/" onto /home and mounts a
    // tmpfs under the bind: with a shared root it appears on /tmp too.
    private const string Probe =
        "line=$(grep ' / / ' /proc/self/mountinfo | head -n 1); " +
        "echo \"tags:$(echo \"$line\" | sed -e 's/ - .*//' | cut -d ' ' -f 7- | tr ' ' ',')\"; " +
        "if mount -o bind / /home 2>/dev/null; then " +
        "  mount -t tmpfs probe /home/tmp; " +
        "  if grep -q ' /tmp .* - tmpfs probe ' /proc/self/mountinfo; then echo propagated; else echo not-propagated; fi; " +
        "else echo bind-refused; fi";

    // The root's tags as crun 1.8.1 shows them for the same spec: "slave" ends private, because the
    // root is a bind of the rootfs made under a private parent (there is no master to follow).
    [Theory]
    [InlineData("shared", "shared:", "propagated")]
    [InlineData("slave", "", "not-propagated")]
    [InlineData("private", "", "not-propagated")]
    [InlineData("unbindable", "unbindable", "bind-refused")]
    public void TheRootGetsTheSpecsPropagation_AfterPivotRoot(string propagation, string expectedTag, string expectedBehaviour)
    {
        var bundle = _csrt.Bundle(["sh", "-c", Probe], c =>
        {
            c["linux"]!["rootfsPropagation"] = propagation;
            foreach (var set in new[] { "bounding", "effective", "permitted" })
                c["process"]!["capabilities"]![set]!.AsArray().Add((JsonNode)"CAP_SYS_ADMIN");
        });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var tags = lines[0]["tags:".Length..].Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (expectedTag.Length == 0)
            Assert.DoesNotContain(tags, t => t.StartsWith("shared:", StringComparison.Ordinal) || t.StartsWith("master:", StringComparison.Ordinal) || t == "unbindable");
        else
            Assert.Contains(tags, t => t.StartsWith(expectedTag, StringComparison.Ordinal));
        Assert.Equal(expectedBehaviour, lines[1]);
        _csrt.AssertNothingLeft(bundle);
    }
}
