using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Hashing;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>
/// Compiled seccomp programs kept on disk, keyed by a hash of the profile and the machine's
/// architecture: compiling containerd's profile with libseccomp costs more than the rest of a
/// function call's user-space work, and every call uses the same profile. The file is the
/// filter flags (4 bytes, little-endian) and the BPF program; written atomically, so a reader
/// sees a whole program or none.
/// </summary>
public static class SeccompCache
{
    public static CompiledSeccomp Get(LinuxSeccomp profile, string cacheRoot)
    {
        var dir = Path.Combine(cacheRoot, "seccomp");
        var path = Path.Combine(dir, KeyOf(profile) + ".bpf");
        using (var fd = Files.TryOpen(path, OpenFlags.O_RDONLY))
        {
            if (fd is not null)
            {
                var bytes = Files.ReadToEnd(fd);
                // A BPF program is a whole number of 8-byte instructions.
                if (bytes.Length > 4 && (bytes.Length - 4) % 8 == 0)
                    return new CompiledSeccomp(bytes[4..], BinaryPrimitives.ReadUInt32LittleEndian(bytes));
            }
        }
        var compiled = SeccompProfileCompiler.Compile(profile);
        var file = new byte[4 + compiled.Program.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(file, compiled.Flags);
        compiled.Program.CopyTo(file, 4);
        Files.MakeDirectories(dir, FileModes.UserAll);
        Files.WriteAtomic(path, file, FileModes.UserReadWrite);
        return compiled;
    }

    /// <summary>SHA-256 of every field of the profile that changes the program, and the architecture.</summary>
    internal static string KeyOf(LinuxSeccomp p)
    {
        var text = new StringBuilder();
        text.Append(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture).Append('|')
            .Append(p.DefaultAction).Append('|').Append(p.DefaultErrnoRet).Append('|')
            .AppendJoin(',', p.Architectures ?? []).Append('|').AppendJoin(',', p.Flags ?? []).Append('\n');
        foreach (var s in p.Syscalls ?? [])
        {
            text.AppendJoin(',', s.Names).Append('|').Append(s.Action).Append('|').Append(s.ErrnoRet);
            foreach (var a in s.Args ?? [])
                text.Append('|').Append(a.Index).Append(' ').Append(a.Op).Append(' ').Append(a.Value.ToString(CultureInfo.InvariantCulture))
                    .Append(' ').Append(a.ValueTwo.ToString(CultureInfo.InvariantCulture));
            text.Append('\n');
        }
        return Convert.ToHexStringLower(Sha256.Hash(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
