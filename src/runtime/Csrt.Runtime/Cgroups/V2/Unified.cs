namespace Csrt.Runtime.Cgroups.V2;

/// <summary>linux.resources.unified: cgroup v2 files written as given ("memory.high": "1G").</summary>
internal static class Unified
{
    /// <summary>Checks the key is a plain file name of a cgroup interface file.</summary>
    public static void CheckKey(string key)
    {
        if (key.Length == 0 || key.Contains('/') || key is "." or ".." || !key.Contains('.'))
            throw CgroupException.Invalid($"linux.resources.unified key \"{key}\": expected a cgroup v2 file name such as \"memory.high\"");
    }

    /// <summary>The controller a key belongs to ("memory.high" → "memory"; "cgroup.*" is the core).</summary>
    public static string Controller(string key) => key[..key.IndexOf('.')];

    public static void Set(string dir, Dictionary<string, string> values)
    {
        foreach (var (key, value) in values)
        {
            CheckKey(key);
            if (!CgroupFs.Exists(dir, key))
            {
                var controller = Controller(key);
                throw CgroupException.Unsupported(controller == "cgroup"
                    ? $"linux.resources.unified \"{key}\": {CgroupFs.PathOf(dir, key)} does not exist"
                    : $"linux.resources.unified \"{key}\": {CgroupFs.PathOf(dir, key)} does not exist; is the {controller} controller enabled for this cgroup?");
            }
            CgroupFs.Write(dir, key, value);
        }
    }
}
