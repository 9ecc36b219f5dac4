using System.Text.Json;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.State;

/// <summary>
/// The runtime's root directory (`--root`, default /run/csrt, or $XDG_RUNTIME_DIR/csrt when
/// rootless: <see cref="NamespaceSetup.Rootless.DefaultStateRoot()"/>): one directory per container with
/// state.json (written atomically: temp file + rename), a copy of config.json (exec reads the
/// container's process defaults and seccomp from it), exec.fifo while the container is created,
/// and a lock file that serialises commands on the same container.
/// </summary>
public sealed class StateStore
{
    public static string DefaultRoot => NamespaceSetup.Rootless.DefaultStateRoot();
    public const string StateFile = "state.json";
    public const string ConfigFile = "config.json";
    public const string ExecFifo = "exec.fifo";
    private const string LockFile = ".lock";

    public StateStore(string? root = null)
    {
        Root = string.IsNullOrEmpty(root) ? DefaultRoot : Path.GetFullPath(root);
    }

    public string Root { get; }

    public string DirectoryOf(string id) => Path.Combine(Root, id);

    public string ExecFifoOf(string id) => Path.Combine(Root, id, ExecFifo);

    public string ConfigOf(string id) => Path.Combine(Root, id, ConfigFile);

    /// <summary>Creates the container's directory, refusing an id that exists. Returns its lock (held).</summary>
    public ContainerLock CreateDirectory(string id)
    {
        ContainerId.Validate(id);
        Files.MakeDirectories(Root, FileModes.UserAll);
        var dir = DirectoryOf(id);
        try
        {
            Files.MakeDirectory(dir, FileModes.UserAllOthersExecute);
        }
        catch (SyscallException e) when (e.Errno == Errno.EEXIST)
        {
            throw new ContainerExistsException(id);
        }
        return ContainerLock.Acquire(Path.Combine(dir, LockFile), id);
    }

    /// <summary>Takes the container's lock (waits for another command on it to finish).</summary>
    public ContainerLock Lock(string id)
    {
        ContainerId.Validate(id);
        var dir = DirectoryOf(id);
        if (!Files.IsDirectory(dir))
            throw new ContainerNotFoundException(id);
        try
        {
            return ContainerLock.Acquire(Path.Combine(dir, LockFile), id);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            throw new ContainerNotFoundException(id);
        }
    }

    public bool Exists(string id) => Files.Exists(Path.Combine(DirectoryOf(id), StateFile));

    public ContainerRecord Load(string id)
    {
        ContainerId.Validate(id);
        var path = Path.Combine(DirectoryOf(id), StateFile);
        using var fd = Files.TryOpen(path, OpenFlags.O_RDONLY) ?? throw new ContainerNotFoundException(id);
        var bytes = Files.ReadToEnd(fd);
        try
        {
            return ContainerRecordJson.Read(bytes);
        }
        catch (JsonException e)
        {
            throw CsrtException.Failed($"container {id}: its state file {path} is corrupt ({e.Message}); remove the container with `delete --force`", e);
        }
    }

    public void Save(ContainerRecord record) =>
        Files.WriteAtomic(Path.Combine(DirectoryOf(record.Id), StateFile),
            ContainerRecordJson.Write(record), FileModes.UserReadWrite);

    /// <summary>Ids of the containers under the root (directories with a state file).</summary>
    public List<string> List()
    {
        if (!Files.IsDirectory(Root))
            return new List<string>();
        var ids = Files.ListDirectory(Root).Where(name => ContainerId.IsValid(name, out _) && Exists(name)).ToList();
        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    /// <summary>Removes the container's directory and everything in it.</summary>
    public void Remove(string id)
    {
        ContainerId.Validate(id);
        var dir = DirectoryOf(id);
        if (!Files.IsDirectory(dir))
            return;
        foreach (var name in Files.ListDirectory(dir))
            Files.TryUnlink(Path.Combine(dir, name));
        try
        {
            Files.RemoveDirectory(dir);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
        }
    }
}

/// <summary>An exclusive flock on a container's lock file, released on dispose.</summary>
public sealed class ContainerLock : IDisposable
{
    private readonly FileDescriptor _fd;

    private ContainerLock(FileDescriptor fd) => _fd = fd;

    internal static ContainerLock Acquire(string path, string id)
    {
        var fd = Files.Open(path, OpenFlags.O_RDWR | OpenFlags.O_CREAT, FileModes.UserReadWrite);
        Files.Lock(fd, Files.LockKind.Exclusive, path: path);
        return new ContainerLock(fd);
    }

    public void Dispose() => _fd.Dispose();
}

/// <summary>No container with that id exists under the root.</summary>
public sealed class ContainerNotFoundException : CsrtException
{
    public ContainerNotFoundException(string id) : base(ErrorKind.NotFound, $"container \"{id}\" does not exist")
    {
        Id = id;
    }

    public string Id { get; }
}

/// <summary>A container with that id already exists under the root.</summary>
public sealed class ContainerExistsException : CsrtException
{
    public ContainerExistsException(string id) : base(ErrorKind.AlreadyExists, $"container with id \"{id}\" already exists")
    {
        Id = id;
    }

    public string Id { get; }
}

/// <summary>The operation is not allowed in the container's current state.</summary>
public sealed class InvalidContainerStateException : CsrtException
{
    public InvalidContainerStateException(string id, ContainerStatus current, string operation, string? hint = null)
        : base(ErrorKind.FailedPrecondition, $"cannot {operation} container \"{id}\": it is {Spec.OciStateJson.StatusName(current)}" + (hint is null ? "" : $" ({hint})"))
    {
        Id = id;
        Current = current;
        Operation = operation;
    }

    public string Id { get; }

    public ContainerStatus Current { get; }

    public string Operation { get; }
}
