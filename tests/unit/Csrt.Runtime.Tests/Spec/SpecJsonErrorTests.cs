using System.Text;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>Documents that cannot be read as the model: each error names file, path, what was expected and what was found.</summary>
public class SpecJsonErrorTests
{
    private const string Valid = """{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}""";

    private static SpecValidationException ParseFails(string json, string file = "config.json") =>
        Assert.Throws<SpecValidationException>(() => SpecLoader.Parse(Encoding.UTF8.GetBytes(json), file));

    [Fact]
    public void A_string_where_an_unsigned_integer_belongs_is_reported_with_path_type_and_value()
    {
        var e = ParseFails(Valid.Replace("\"uid\":0", "\"uid\":\"abc\""));

        Assert.Equal("""config.json: $.process.user.uid: expected an unsigned 32-bit integer, got "abc" """.TrimEnd(), e.Message);
        Assert.Equal("config.json", e.File);
        Assert.Equal("$.process.user.uid", e.JsonPath);
        Assert.Equal("an unsigned 32-bit integer", e.Expected);
    }

    [Theory]
    [InlineData("""{"args":["sh"],"cwd":"/","user":{"uid":-1,"gid":0}}""", "$.process.user.uid", "expected an unsigned 32-bit integer, got -1")]
    [InlineData("""{"args":["sh"],"cwd":"/","user":{"uid":4294967296,"gid":0}}""", "$.process.user.uid", "expected an unsigned 32-bit integer, got 4294967296")]
    [InlineData("""{"args":["sh"],"cwd":"/","user":{"uid":1.5,"gid":0}}""", "$.process.user.uid", "expected an unsigned 32-bit integer, got 1.5")]
    [InlineData("""{"args":["sh"],"cwd":"/","user":{"uid":null,"gid":0}}""", "$.process.user.uid", "expected an unsigned 32-bit integer, got null")]
    [InlineData("""{"args":"sh","cwd":"/"}""", "$.process.args", "expected an array, got \"sh\"")]
    [InlineData("""{"args":["sh",7],"cwd":"/"}""", "$.process.args[1]", "expected a string, got 7")]
    [InlineData("""{"args":["sh"],"cwd":null}""", "$.process.cwd", "expected a string, got null")]
    [InlineData("""{"args":["sh"],"cwd":{}}""", "$.process.cwd", "expected a string, got an object")]
    [InlineData("""{"args":["sh"],"cwd":"/","user":"root"}""", "$.process.user", "expected an object, got \"root\"")]
    [InlineData("""{"args":["sh"],"cwd":"/","oomScoreAdj":"high"}""", "$.process.oomScoreAdj", "expected a signed 32-bit integer, got \"high\"")]
    [InlineData("""{"args":["sh"],"cwd":"/","capabilities":{"bounding":"CAP_KILL"}}""", "$.process.capabilities.bounding", "expected an array, got \"CAP_KILL\"")]
    public void A_value_of_the_wrong_type_names_its_path_and_what_was_expected(string process, string path, string detail)
    {
        var e = ParseFails($$"""{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{{process}}}""");

        Assert.Equal(path, e.JsonPath);
        Assert.Equal($"config.json: {path}: {detail}", e.Message);
    }

    [Fact]
    public void Numbers_in_strings_are_refused_as_runc_refuses_them()
    {
        var e = ParseFails(Valid.Replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":\"1024\",\"soft\":1}]"));

        Assert.Equal("$.process.rlimits[0].hard", e.JsonPath);
        Assert.EndsWith("expected an unsigned 64-bit integer, got \"1024\"", e.Message);
    }

    [Fact]
    public void A_boolean_field_given_a_string_says_true_or_false()
    {
        var e = ParseFails(Valid.Replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"terminal\":\"yes\""));

        Assert.Equal("config.json: $.process.terminal: expected a boolean (true or false), got \"yes\"", e.Message);
    }

    [Fact]
    public void A_wrongly_typed_value_under_a_dotted_map_key_names_the_key()
    {
        var e = ParseFails(Valid.Replace("\"root\":", "\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":1}},\"root\":"));

        Assert.Equal("$.linux.sysctl['net.ipv4.ip_forward']", e.JsonPath);
        Assert.EndsWith("expected a string, got 1", e.Message);
    }

    [Fact]
    public void A_document_that_is_not_an_object_is_refused_at_the_root()
    {
        var e = ParseFails("[1, 2]");

        Assert.Equal("$", e.JsonPath);
        Assert.Equal("config.json: $: expected an object, got an array", e.Message);
    }

    [Fact]
    public void A_null_document_is_refused()
    {
        var e = ParseFails("null");

        Assert.Equal("config.json: $: expected a JSON object (the OCI runtime configuration), got null", e.Message);
    }

    [Fact]
    public void Malformed_json_names_line_column_byte_offset_and_the_path_where_it_broke()
    {
        var json = "{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\n    \"args\": [\"sh\" \"-c\"],\n    \"cwd\": \"/\"\n  }\n}\n";

        var e = ParseFails(json);

        var line4 = "    \"args\": [\"sh\" \"-c\"],";
        var column = line4.IndexOf("\"-c\"", StringComparison.Ordinal) + 1;
        var offset = json.IndexOf("\"-c\"", StringComparison.Ordinal);
        Assert.Equal(4, e.Line);
        Assert.Equal(column, e.Column);
        Assert.Equal(offset, e.ByteOffset);
        Assert.Equal("$.process.args[0]", e.JsonPath);
        Assert.Equal($"config.json: $.process.args[0]: malformed JSON at line 4, column {column} (byte offset {offset}): unexpected character '\"'", e.Message);
    }

    [Fact]
    public void A_truncated_document_says_it_ends_too_early()
    {
        var e = ParseFails("{\"ociVersion\": \"1.2.0\", \"process\": {\"args\": [\"sh\"");

        Assert.Equal("$.process.args[0]", e.JsonPath);
        Assert.Contains("malformed JSON at line 1", e.Message);
        Assert.Contains("the document ends too early", e.Message);
    }

    [Fact]
    public void Trailing_commas_and_comments_are_refused_like_go_does()
    {
        Assert.Contains("unexpected character '}'", ParseFails("{\"ociVersion\": \"1.2.0\",}").Message);
        Assert.Contains("unexpected character '/'", ParseFails("{\"ociVersion\": \"1.2.0\" // note\n}").Message);
    }

    [Fact]
    public void Single_quoted_strings_are_refused_with_a_hint()
    {
        var e = ParseFails("{\"linux\": {\"namespaces\": [{\"type\": 'pid'}]}}");

        Assert.Equal("$.linux.namespaces[0].type", e.JsonPath);
        Assert.EndsWith("unexpected character \"'\" (JSON strings use double quotes)", e.Message);
    }

    [Fact]
    public void Content_after_the_document_is_refused()
    {
        var e = ParseFails(Valid + " x");

        Assert.Contains("unexpected character 'x'", e.Message);
        Assert.Equal("$", e.JsonPath);
    }

    [Fact]
    public void A_property_name_without_quotes_is_refused_under_its_parent_path()
    {
        var e = ParseFails("{\"root\": {path: \"rootfs\"}}");

        Assert.Equal("$.root", e.JsonPath);
        Assert.Contains("line 1, column 11", e.Message);
        Assert.Contains("unexpected character 'p'", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n\t ")]
    public void An_empty_file_says_it_is_empty(string content)
    {
        var e = ParseFails(content);

        Assert.Null(e.JsonPath);
        Assert.Equal("config.json: the file is empty; expected a JSON object (the OCI runtime configuration)", e.Message);
    }

    [Fact]
    public void A_missing_file_names_the_path()
    {
        using var dir = new TempDir();
        var path = dir.File("config.json");

        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Load(path));

        Assert.Equal(path, e.File);
        Assert.Null(e.JsonPath);
        Assert.Equal($"{path}: no such file: the runtime configuration (config.json in the bundle) must exist", e.Message);
    }

    [Fact]
    public void A_directory_in_place_of_the_file_is_named_as_such()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("config.json"));

        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Load(dir.File("config.json")));

        Assert.EndsWith("cannot read the runtime configuration (config.json in the bundle): it is a directory", e.Message);
    }

    [Fact]
    public void Process_json_errors_use_paths_relative_to_the_process_object()
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            SpecLoader.ParseProcess("""{"args": ["sh"], "cwd": "/", "user": {"uid": "root"}}"""u8, "/tmp/process.json"));

        Assert.Equal("/tmp/process.json: $.user.uid: expected an unsigned 32-bit integer, got \"root\"", e.Message);
    }

    [Fact]
    public void Resources_json_errors_name_the_path()
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            SpecLoader.ParseResources("""{"cpu": {"shares": -2}}"""u8, "resources.json"));

        Assert.Equal("resources.json: $.cpu.shares: expected an unsigned 64-bit integer, got -2", e.Message);
    }
}
