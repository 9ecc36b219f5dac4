using Xunit;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>
/// One private containerd shared by every test class in <c>[Collection(ContainerdCollection.Name)]</c>
/// (xunit runs a collection's tests one at a time). Tests must leave it as they found it: delete
/// their tasks and containers, use unique ids (<see cref="TestBundle.NewId"/>), and restart it only
/// if they leave it running. Tests that break containerd on purpose should start their own
/// <see cref="PrivateContainerd"/> instead.
/// </summary>
public sealed class ContainerdFixture : IDisposable
{
    public ContainerdFixture()
    {
        Containerd = PrivateContainerd.Start();
    }

    public PrivateContainerd Containerd { get; }

    public void Dispose() => Containerd.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ContainerdCollection : ICollectionFixture<ContainerdFixture>
{
    public const string Name = "containerd";
}
