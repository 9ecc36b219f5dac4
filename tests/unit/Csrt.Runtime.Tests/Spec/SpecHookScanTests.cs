using System.Text;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>`start` and `delete` skip parsing the saved config.json when it cannot have hooks;
/// the scan must never say "no hooks" for a config whose parse would find some.</summary>
public class SpecHookScanTests
{
    private static bool Scan(string json) => SpecLoader.MayHaveHooks(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_config_without_the_word_hooks_has_none()
    {
        Assert.False(Scan("""{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]}}"""));
    }

    [Theory]
    [InlineData("""{"hooks":{"poststop":[{"path":"/bin/true"}]}}""")]
    [InlineData("""{"HOOKS":{"poststop":[{"path":"/bin/true"}]}}""")]
    [InlineData("""{"Hooks":{}}""")]
    [InlineData("""{"annotations":{"x":"hooks"}}""")]
    public void Any_spelling_of_hooks_in_any_letter_case_means_parse(string json)
    {
        Assert.True(Scan(json));
    }

    [Fact]
    public void A_unicode_escape_could_spell_hooks_so_it_means_parse()
    {
        Assert.True(Scan("""{"\u0068ooks":{"poststop":[{"path":"/bin/true"}]}}"""));
        var spec = SpecLoader.Parse(Encoding.UTF8.GetBytes("""{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"\u0068ooks":{"poststop":[{"path":"/bin/true"}]}}"""), "config.json");
        Assert.Single(spec.Hooks!.Poststop!);
    }

    [Fact]
    public void Every_config_the_parser_gives_hooks_is_one_the_scan_keeps()
    {
        var json = """{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"hooks":{"poststart":[{"path":"/bin/true"}]}}""";
        Assert.NotNull(SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json").Hooks);
        Assert.True(Scan(json));
    }
}
