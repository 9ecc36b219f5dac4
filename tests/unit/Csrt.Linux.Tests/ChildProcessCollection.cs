using Xunit;

namespace Csrt.Linux.Tests;

/// <summary>Test classes that start child processes, and those whose fds must not be copied into
/// one (a forked child holds every fd of the test host until it execs), run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ChildProcessCollection
{
    public const string Name = "child processes";
}
