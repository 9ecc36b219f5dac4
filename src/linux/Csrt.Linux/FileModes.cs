namespace Csrt.Linux;

/// <summary>
/// Permission bits by name. C# has no octal literals: each value is written in binary, one group
/// of three bits per octal digit, so <c>0b111_101_101</c> reads as 0755.
/// </summary>
public static class FileModes
{
    /// <summary>0600: rw-------.</summary>
    public const uint UserReadWrite = 0b110_000_000;

    /// <summary>0622: rw--w--w- (exec.fifo: anyone may open it for writing, only the owner reads).</summary>
    public const uint UserReadWriteOthersWrite = 0b110_010_010;

    /// <summary>0644: rw-r--r--.</summary>
    public const uint UserReadWriteOthersRead = 0b110_100_100;

    /// <summary>0666: rw-rw-rw-.</summary>
    public const uint AllReadWrite = 0b110_110_110;

    /// <summary>0700: rwx------.</summary>
    public const uint UserAll = 0b111_000_000;

    /// <summary>0711: rwx--x--x (others may pass through the directory, not list it).</summary>
    public const uint UserAllOthersExecute = 0b111_001_001;

    /// <summary>0755: rwxr-xr-x.</summary>
    public const uint UserAllOthersReadExecute = 0b111_101_101;

    /// <summary>0777: rwxrwxrwx.</summary>
    public const uint AllReadWriteExecute = 0b111_111_111;

    /// <summary>0111: an execute bit for anyone.</summary>
    public const uint AnyExecute = 0b001_001_001;

    /// <summary>07777: the permission bits with setuid, setgid and sticky (what chmod takes).</summary>
    public const uint Permissions = 0b111_111_111_111;
}
