using System.Text;
using System.Text.Encodings.Web;

namespace Csrt.Runtime.Spec;

/// <summary>
/// The JSON writers' encoder: escapes only what JSON requires (control characters, '"', '\'), so
/// '+', '&lt;', '&amp;' and non-ASCII text stay readable in the files and output people read, as with
/// <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>; ill-formed UTF-16 becomes U+FFFD.
/// Why not the built-in encoders: the first use of any of them (a writer without an encoder uses
/// <see cref="JavaScriptEncoder.Default"/>) builds the allow-lists of every code point for both
/// built-in instances, a cost every short `csrt` command paid on its first JSON string
/// (docs/benchmarks.md, Runtime).
/// </summary>
public sealed class MinimalJsonEncoder : JavaScriptEncoder
{
    public static readonly MinimalJsonEncoder Instance = new();

    private MinimalJsonEncoder()
    {
    }

    /// <summary>An escaped code unit is six characters: a backslash, "u" and four hex digits.</summary>
    public override int MaxOutputCharactersPerInputCharacter => 6;

    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar < 0x20 || unicodeScalar == '"' || unicodeScalar == '\\';

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (var i = 0; i < textLength; i++)
        {
            var c = text[i];
            if (c < 0x20 || c == '"' || c == '\\')
                return i;
            if (char.IsSurrogate(c))
            {
                // A well-formed pair passes; a lone surrogate is encoded (as U+FFFD).
                if (char.IsHighSurrogate(c) && i + 1 < textLength && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }
                return i;
            }
        }
        return -1;
    }

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        numberOfCharactersWritten = 0;
        if (!WillEncode(unicodeScalar))
        {
            var rune = Rune.IsValid(unicodeScalar) ? new Rune(unicodeScalar) : Rune.ReplacementChar;
            if (!rune.TryEncodeToUtf16(new Span<char>(buffer, bufferLength), out var written))
                return false;
            numberOfCharactersWritten = written;
            return true;
        }
        if (bufferLength < 6)
            return false;
        const string Hex = "0123456789ABCDEF";
        buffer[0] = '\\';
        buffer[1] = 'u';
        buffer[2] = '0';
        buffer[3] = '0';
        buffer[4] = Hex[(unicodeScalar >> 4) & 0xF];
        buffer[5] = Hex[unicodeScalar & 0xF];
        numberOfCharactersWritten = 6;
        return true;
    }
}
