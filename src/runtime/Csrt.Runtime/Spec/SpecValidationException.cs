using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Spec;

/// <summary>
/// A config.json (or exec process JSON) that cannot be used. The message always starts with the
/// file, then the JSON path when there is one: <c>config.json: $.process.user.uid: expected an
/// unsigned 32-bit integer, got "abc"</c>.
/// </summary>
public sealed class SpecValidationException : CsrtException
{
    public SpecValidationException(string file, string? jsonPath, string? expected, string detail, Exception? inner = null)
        : base(ErrorKind.InvalidArgument, Compose(file, jsonPath, detail), inner)
    {
        File = file;
        JsonPath = jsonPath;
        Expected = expected;
        Detail = detail;
    }

    /// <summary>The file as the caller named it (e.g. "config.json" or the --process path).</summary>
    public string File { get; }

    /// <summary>Where in the document, e.g. "$.linux.namespaces[2].type"; null for file-level errors
    /// (missing, unreadable, empty).</summary>
    public string? JsonPath { get; }

    /// <summary>What a valid value looks like (e.g. "an unsigned 32-bit integer", "an absolute path");
    /// null when the error is not about one value.</summary>
    public string? Expected { get; }

    /// <summary>The message without the file and path prefix.</summary>
    public string Detail { get; }

    /// <summary>For malformed JSON: 1-based line and column (byte in the line) of the failure.</summary>
    public long? Line { get; init; }
    public long? Column { get; init; }

    /// <summary>For malformed JSON: 0-based byte offset of the failure in the file.</summary>
    public long? ByteOffset { get; init; }

    private static string Compose(string file, string? jsonPath, string detail) =>
        jsonPath is null ? $"{file}: {detail}" : $"{file}: {jsonPath}: {detail}";
}
