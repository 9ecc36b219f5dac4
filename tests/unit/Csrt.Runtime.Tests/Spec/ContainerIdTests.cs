using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

public class ContainerIdTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("A_b+c-d.e")]
    [InlineData("..a")]
    [InlineData("a..")]
    [InlineData("...")]
    [InlineData("d2e5f8a1b4c7d0e3f6a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e7f0a3b6c9d2e5")]
    public void Ids_of_letters_digits_and_underscore_plus_dash_dot_are_accepted(string id)
    {
        ContainerId.Validate(id);
        Assert.True(ContainerId.IsValid(id, out _));
    }

    [Fact]
    public void An_id_of_exactly_255_characters_is_accepted()
    {
        ContainerId.Validate(new string('a', ContainerId.MaxLength));
    }

    [Fact]
    public void A_path_escape_is_refused_naming_the_character_and_what_is_allowed()
    {
        var e = Assert.Throws<InvalidContainerIdException>(() => ContainerId.Validate("../x"));

        Assert.Equal("../x", e.Id);
        Assert.Equal("invalid container id \"../x\": character '/' at position 3 is not allowed; an id may contain only ASCII letters, digits, " +
                     "'_', '+', '-' and '.', must not be \".\" or \"..\", and is 1 to 255 characters long", e.Message);
    }

    [Theory]
    [InlineData("a/b", "character '/' at position 2")]
    [InlineData("a b", "character ' ' at position 2")]
    [InlineData("a,b", "character ',' at position 2")]
    [InlineData("a:b", "character ':' at position 2")]
    [InlineData("caf\u00e9", "character U+00E9 at position 4")]
    [InlineData("a\nb", "character U+000A at position 2")]
    [InlineData(".", "\".\" and \"..\" are not allowed")]
    [InlineData("..", "\".\" and \"..\" are not allowed")]
    [InlineData("", "it is empty")]
    public void Bad_ids_are_refused_saying_what_is_wrong(string id, string what)
    {
        var e = Assert.Throws<InvalidContainerIdException>(() => ContainerId.Validate(id));

        Assert.Contains(what, e.Message);
        Assert.Contains("an id may contain only ASCII letters, digits", e.Message);
        Assert.False(ContainerId.IsValid(id, out var reason));
        Assert.Equal(e.Message, reason);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(1025)]
    public void Ids_longer_than_name_max_are_refused_with_their_length(int length)
    {
        var e = Assert.Throws<InvalidContainerIdException>(() => ContainerId.Validate(new string('x', length)));

        Assert.StartsWith($"invalid container id ({length} characters, starting \"xxxxxxxxxxxxxxxx\"): it is longer than 255 characters", e.Message);
        Assert.Contains("NAME_MAX", e.Message);
    }

    [Fact]
    public void A_null_id_is_refused_as_empty()
    {
        Assert.Contains("it is empty", Assert.Throws<InvalidContainerIdException>(() => ContainerId.Validate(null)).Message);
    }
}
