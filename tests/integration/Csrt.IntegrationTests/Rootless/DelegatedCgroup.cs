using System.Security.Cryptography;
using Csrt.IntegrationTests.Fixtures;

namespace Csrt.IntegrationTests.Rootless;

/// <summary>
/// A cgroup subtree delegated to the unprivileged user, as systemd delegates one to a user
/// session: a directory in every hierarchy (but devices, which a user never gets) owned by the
/// user with its cgroup.procs and tasks, cpuset initialised from its parent. <see cref="Run"/>
/// moves a root shell into it and then becomes the user, so the user's runtime starts from inside
/// its delegated cgroup, where it may create and join children. Dispose kills what is left in
/// it and removes it.
/// </summary>
public sealed class DelegatedCgroup : IDisposable
{
    private const string Mount = "/sys/fs/cgroup";
    private readonly UnprivilegedUser _user;
    private readonly string _name = "csrt-rootless-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly List<string> _dirs = new();

    public DelegatedCgroup(UnprivilegedUser user)
    {
        _user = user;
        try
        {
            foreach (var hierarchy in System.IO.Directory.GetDirectories(Mount))
            {
                if (Path.GetFileName(hierarchy) == "devices" || !File.Exists(Path.Combine(hierarchy, "cgroup.procs")))
                    continue;
                var dir = Path.Combine(hierarchy, _name);
                System.IO.Directory.CreateDirectory(dir);
                _dirs.Add(dir);
                foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
                {
                    if (File.Exists(Path.Combine(hierarchy, file)))
                        File.WriteAllText(Path.Combine(dir, file), File.ReadAllText(Path.Combine(hierarchy, file)));
                }
                foreach (var owned in new[] { dir, Path.Combine(dir, "cgroup.procs"), Path.Combine(dir, "tasks"), Path.Combine(dir, "cgroup.subtree_control") })
                {
                    if (File.Exists(owned) || System.IO.Directory.Exists(owned))
                        user.Chown(owned);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The delegated directory in the hierarchy mounted at /sys/fs/cgroup/<paramref name="hierarchy"/>.</summary>
    public string Directory(string hierarchy) => Path.Combine(Mount, hierarchy, _name);

    /// <summary>Runs <paramref name="file"/> as the user from inside the delegated cgroup.</summary>
    public CommandResult Run(string file, IEnumerable<string> args)
    {
        var join = string.Concat(_dirs.Select(d => $"echo $$ > {d}/cgroup.procs && "));
        return Commands.Run("/bin/sh", new[] { "-c", join + "exec setpriv \"$@\"", "sh" }.Concat(_user.AsUser(file, args)),
            UnprivilegedUser.Timeout, workingDirectory: _user.WorkDir);
    }

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            // Children first: whatever a failed test left is killed and its directories removed.
            foreach (var sub in System.IO.Directory.GetDirectories(dir, "*", SearchOption.AllDirectories).Reverse().Append(dir))
            {
                foreach (var pid in File.ReadAllLines(Path.Combine(sub, "cgroup.procs")))
                    Commands.Run("kill", ["-KILL", pid], UnprivilegedUser.Timeout);
                for (var attempt = 0; attempt < 100 && System.IO.Directory.Exists(sub); attempt++)
                {
                    try
                    {
                        System.IO.Directory.Delete(sub);
                    }
                    catch (IOException)
                    {
                        Thread.Sleep(50); // the killed tasks are still exiting
                    }
                }
            }
        }
    }
}
