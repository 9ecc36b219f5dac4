using Csrt.Linux;

namespace Csrt.Runtime.Rootfs;

/// <summary>Copies a directory tree between two directory fds (for tmpcopyup), keeping modes,
/// owners and symlinks; never follows a symlink.</summary>
internal static class TreeCopy
{
    public static void Copy(FileDescriptor from, FileDescriptor to)
    {
        foreach (var name in Files.ListDirectory(from))
        {
            var info = Files.LstatAt(from, name);
            if (info.IsDirectory)
            {
                Files.MakeDirectoryAt(to, name, info.Mode & FileModes.Permissions);
                using var sub = Files.OpenAt(from, name, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW);
                using var dst = Files.OpenAt(to, name, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW);
                Copy(sub, dst);
            }
            else if (info.IsSymlink)
            {
                Files.CreateSymlinkAt(Files.ReadLinkAt(from, name), to, name);
            }
            else if (info.IsRegular)
            {
                using var src = Files.OpenAt(from, name, OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW);
                using var dst = Files.OpenAt(to, name, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL, info.Mode & FileModes.Permissions);
                Files.CopyAll(src, dst);
            }
            else
            {
                Files.MakeNodeAt(to, name, info.Mode, info.RDevice);
            }
            Files.ChownAt(to, name, info.Uid, info.Gid);
        }
    }
}
