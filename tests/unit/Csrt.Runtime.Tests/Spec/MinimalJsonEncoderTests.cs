using System.Buffers;
using System.Text;
using System.Text.Json;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

public sealed class MinimalJsonEncoderTests
{
    private static string Write(string value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = MinimalJsonEncoder.Instance }))
            w.WriteStringValue(value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string ReadBack(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        Assert.True(reader.Read());
        return reader.GetString()!;
    }

    [Theory]
    [InlineData("2026-12-06T06:55:12.9179184+00:00")]
    [InlineData("a<b>&c'd`e")]
    [InlineData("/run/containerd/io.containerd.runtime.v2.task/k8s.io/äöü-日本")]
    [InlineData("emoji \U0001F600 pair")]
    public void TextJsonAllows_IsWrittenAsIs_AndReadsBack(string value)
    {
        var json = Write(value);

        Assert.Equal("\"" + value + "\"", json);
        Assert.Equal(value, ReadBack(json));
    }

    [Fact]
    public void ControlCharactersQuotesAndBackslashes_AreEscaped_AndReadBack()
    {
        var value = "a\"b\\c\nd\te\u0001f\u001f";

        var json = Write(value);

        Assert.Equal("\"a\\u0022b\\u005Cc\\u000Ad\\u0009e\\u0001f\\u001F\"", json);
        Assert.Equal(value, ReadBack(json));
    }

    [Fact]
    public void ALoneSurrogate_BecomesTheReplacementCharacter()
    {
        var json = Write("x\uD800y\uDC00z");

        Assert.Equal("x\uFFFDy\uFFFDz", ReadBack(json));
    }

    [Fact]
    public void Utf8Input_IsEscapedTheSameWay()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = MinimalJsonEncoder.Instance }))
            w.WriteStringValue("k=v+\"q\" ü\n"u8);

        Assert.Equal("\"k=v+\\u0022q\\u0022 ü\\u000A\"", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
