using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Win32.SafeHandles;

namespace Csrt.Runtime.Spec;

/// <summary>
/// Reads config.json (create/run), a process JSON (`exec --process`, containerd's exec spec) and
/// resources JSON (`update -r`), and refuses anything unusable with a <see cref="SpecValidationException"/>
/// naming the file, the JSON path and what was expected.
/// </summary>
public static class SpecLoader
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Reads, parses and validates a config.json. Errors name <paramref name="configPath"/> as given.</summary>
    public static RuntimeSpec Load(string configPath, SpecValidationOptions? options = null) =>
        ReadAndParse(configPath, "the runtime configuration (config.json in the bundle)", options, Parse);

    /// <summary>Parses and validates a config.json held in memory.</summary>
    public static RuntimeSpec Parse(ReadOnlySpan<byte> json, string fileNameForErrors, SpecValidationOptions? options = null)
    {
        // The hand-written reader reads valid documents; the serializer reads the rest (and says
        // what is wrong where): see SpecReader.
        var spec = SpecReader.TryRead(json.StartsWith(Utf8Bom) ? json[Utf8Bom.Length..] : json)
            ?? Deserialize(json, fileNameForErrors, SpecJsonContext.Default.RuntimeSpec, "the OCI runtime configuration");
        SpecValidator.Validate(spec, fileNameForErrors, options);
        Normalize(spec);
        return spec;
    }

    /// <summary>
    /// False when <paramref name="json"/> certainly has no "hooks" member: the name appears
    /// nowhere in it, in any letter case (names match case-insensitively), and no \u escape could
    /// spell it. True means "parse it to know".
    /// </summary>
    public static bool MayHaveHooks(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\\u"u8) >= 0)
            return true;
        ReadOnlySpan<byte> name = "hooks"u8;
        for (var i = 0; i + name.Length <= json.Length; i++)
        {
            var j = 0;
            while (j < name.Length && (json[i + j] | 0x20) == name[j])
                j++;
            if (j == name.Length)
                return true;
        }
        return false;
    }

    /// <summary>Reads and validates a process JSON file (`exec --process`).</summary>
    public static Process LoadProcess(string path, SpecValidationOptions? options = null) =>
        ReadAndParse(path, "the process JSON", options, ParseProcess);

    /// <summary>Parses and validates a process JSON (args must be non-empty: it is for exec). Paths in errors
    /// are relative to the process object: <c>$.args</c>, <c>$.user.uid</c>.</summary>
    public static Process ParseProcess(ReadOnlySpan<byte> json, string fileNameForErrors, SpecValidationOptions? options = null)
    {
        var process = Deserialize(json, fileNameForErrors, SpecJsonContext.Default.Process, "an OCI process");
        SpecValidator.ValidateProcess(process, fileNameForErrors, "$", requireArgs: true, options);
        return process;
    }

    /// <summary>Parses a linux.resources JSON (`update -r`). Type errors and NUL bytes are reported;
    /// values are checked by the cgroup managers that apply them.</summary>
    public static LinuxResources ParseResources(ReadOnlySpan<byte> json, string fileNameForErrors)
    {
        var resources = Deserialize(json, fileNameForErrors, SpecJsonContext.Default.LinuxResources, "linux.resources");
        SpecValidator.ValidateResources(resources, fileNameForErrors);
        return resources;
    }

    private static T Deserialize<T>(ReadOnlySpan<byte> json, string file, JsonTypeInfo<T> info, string what) where T : class
    {
        // A UTF-8 byte order mark is not JSON, but editors write one; skip it rather than fail on byte 0.
        if (json.StartsWith(Utf8Bom))
            json = json[Utf8Bom.Length..];
        if (json.Trim(" \t\r\n"u8).IsEmpty)
            throw new SpecValidationException(file, null, "a JSON object", $"the file is empty; expected a JSON object ({what})");

        T? value;
        try
        {
            value = JsonSerializer.Deserialize(json, info);
        }
        catch (JsonException e)
        {
            throw JsonErrors.Describe(json, file, e, info);
        }
        return value ?? throw new SpecValidationException(file, "$", "a JSON object", $"expected a JSON object ({what}), got null");
    }

    private delegate T Parser<T>(ReadOnlySpan<byte> json, string fileNameForErrors, SpecValidationOptions? options);

    /// <summary>
    /// Reads <paramref name="path"/> once into memory outside the GC heap, parses it, and frees
    /// it before returning: a large config then costs its parsed objects only, not also a dead
    /// copy of its text waiting for a full collection while the caller allocates more.
    /// </summary>
    private static unsafe T ReadAndParse<T>(string path, string what, SpecValidationOptions? options, Parser<T> parse)
    {
        byte* buffer = null;
        var read = 0;
        try
        {
            using (var handle = Open(path, what))
            {
                // Pipes (which cannot seek) and /proc files have no size: read them to their end.
                var length = Catching(path, what, () => SizeOf(handle));
                if (length == 0)
                {
                    using var whole = ReadToEnd(handle, path, what);
                    return parse(whole.GetBuffer().AsSpan(0, (int)whole.Length), path, options);
                }
                if (length > Array.MaxLength)
                    throw new SpecValidationException(path, null, null, $"{what} is {length} bytes long; expected at most {Array.MaxLength}");
                buffer = (byte*)NativeMemory.Alloc((nuint)length);
                var span = new Span<byte>(buffer, (int)length);
                while (read < span.Length)
                {
                    var n = ReadAt(handle, span[read..], read, path, what);
                    if (n == 0)
                        break;
                    read += n;
                }
            }
            return parse(new ReadOnlySpan<byte>(buffer, read), path, options);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    private static long SizeOf(SafeFileHandle handle)
    {
        try
        {
            return RandomAccess.GetLength(handle);
        }
        catch (NotSupportedException)
        {
            return 0; // a pipe
        }
    }

    private static SafeFileHandle Open(string path, string what) => Catching(path, what, () => File.OpenHandle(path));

    private static int ReadAt(SafeFileHandle handle, Span<byte> into, long offset, string path, string what)
    {
        try
        {
            return RandomAccess.Read(handle, into, offset);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw Unreadable(path, what, e);
        }
    }

    private static MemoryStream ReadToEnd(SafeFileHandle handle, string path, string what) => Catching(path, what, () =>
    {
        var whole = new MemoryStream();
        using (var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0))
            stream.CopyTo(whole);
        return whole;
    });

    private static TResult Catching<TResult>(string path, string what, Func<TResult> io)
    {
        try
        {
            return io();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SpecValidationException(path, null, null, $"no such file: {what} must exist", e);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw Unreadable(path, what, e);
        }
    }

    private static SpecValidationException Unreadable(string path, string what, Exception e)
    {
        // The BCL messages are bare resource keys in this build, so say it ourselves. .NET
        // reports EISDIR as UnauthorizedAccessException, hence the directory test first.
        var why = Directory.Exists(path) ? "it is a directory"
            : e is UnauthorizedAccessException ? "permission denied"
            : $"I/O error (HRESULT 0x{e.HResult:X8})";
        return new SpecValidationException(path, null, null, $"cannot read {what}: {why}", e);
    }

    /// <summary>Fills what validation allowed in a legacy form, so consumers see one form only.</summary>
    private static void Normalize(RuntimeSpec spec)
    {
        // runc 1.1 accepts relative mount destinations (deprecated) as relative to "/".
        if (spec.Mounts is { } mounts)
            foreach (var m in mounts)
                if (m.Destination.Length > 0 && m.Destination[0] != '/')
                    m.Destination = "/" + m.Destination;
    }
}
