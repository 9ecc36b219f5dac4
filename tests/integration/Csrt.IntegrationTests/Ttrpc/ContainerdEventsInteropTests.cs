using System.Diagnostics;
using Containerd;
using Containerd.Events;
using Containerd.Services.Events.Ttrpc.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;

namespace Csrt.IntegrationTests.Ttrpc;

/// <summary>
/// Our ttrpc client publishing to containerd's own ttrpc events endpoint (what a shim does with
/// TTRPC_ADDRESS), checked through containerd's event stream as <c>ctr events</c> prints it.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ContainerdEventsInteropTests(ContainerdFixture fixture)
{
    private readonly PrivateContainerd ctd = fixture.Containerd;

    private static CallOptions Options(string ns) => new(
        headers: new Metadata { { "containerd-namespace-ttrpc", ns } },
        deadline: DateTime.UtcNow.AddSeconds(5));

    private static ForwardRequest Oom(string containerId, string ns, Timestamp? timestamp) => new()
    {
        Envelope = new Envelope
        {
            Timestamp = timestamp,
            Namespace = ns,
            Topic = "/tasks/oom",
            Event = TypeUrls.Pack(new TaskOOM { ContainerId = containerId }),
        },
    };

    [Fact]
    public async Task ForwardedTaskOomEnvelopeArrivesInContainerdsEventStream()
    {
        string containerId = TestBundle.NewId("oom");
        using var events = Process.Start(new ProcessStartInfo(PrivateContainerd.CtrBinary, ["--address", ctd.Address, "events"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            events.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line && line.Contains(containerId, StringComparison.Ordinal))
                {
                    seen.TrySetResult(line);
                }
            };
            events.BeginOutputReadLine();

            await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromPath(ctd.TtrpcAddress));
            var client = new Events.EventsClient(channel);
            // ctr subscribes asynchronously; publish until the subscription catches one.
            string line = "";
            for (int attempt = 0; attempt < 50 && !seen.Task.IsCompleted; attempt++)
            {
                await client.ForwardAsync(Oom(containerId, PrivateContainerd.DefaultNamespace, Timestamp.FromDateTime(DateTime.UtcNow)), Options(PrivateContainerd.DefaultNamespace));
                try
                {
                    line = await seen.Task.WaitAsync(TimeSpan.FromMilliseconds(200));
                }
                catch (TimeoutException)
                {
                }
            }

            Assert.True(seen.Task.IsCompleted, $"ctr events never printed the forwarded event for {containerId}");
            Assert.Contains($" {PrivateContainerd.DefaultNamespace} /tasks/oom ", line);
            Assert.Contains($"\"container_id\":\"{containerId}\"", line.Replace(" ", ""));
        }
        finally
        {
            events.Kill();
            await events.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task EnvelopeWithoutTimestampIsRefusedByContainerdAsInvalidArgument()
    {
        await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromPath(ctd.TtrpcAddress));
        var client = new Events.EventsClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ForwardAsync(Oom("no-timestamp", PrivateContainerd.DefaultNamespace, timestamp: null), Options(PrivateContainerd.DefaultNamespace)).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }
}
