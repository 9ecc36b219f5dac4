using System.Collections.Concurrent;
using Csrt.Ttrpc.Tests.Protos;
using Grpc.Core;

namespace Csrt.Ttrpc.Tests;

/// <summary>The test implementation of the Echo service; see Protos/echo_test.proto.</summary>
internal sealed class TestService : Echo.EchoBase
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CancellationToken>> _entered = new();

    /// <summary>Releases the Block calls waiting on <paramref name="gate"/>.</summary>
    public void Release(string gate) => Gate(gate).TrySetResult();

    /// <summary>Completes when a Block call on <paramref name="gate"/> has started; gives its token.</summary>
    public Task<CancellationToken> Entered(string gate) => _entered.GetOrAdd(gate, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public override Task<EchoReply> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(Reply(request, context));

    public override async Task<EchoReply> EchoLater(EchoRequest request, ServerCallContext context)
    {
        await Task.Delay((int)(request.Id % 7));
        return Reply(request, context);
    }

    public override async Task<EchoReply> Block(EchoRequest request, ServerCallContext context)
    {
        _entered.GetOrAdd(request.Text, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(context.CancellationToken);
        await Gate(request.Text).Task.WaitAsync(context.CancellationToken);
        return Reply(request, context);
    }

    public override Task<EchoReply> SleepSync(EchoRequest request, ServerCallContext context)
    {
        Thread.Sleep((int)request.Id);
        return Task.FromResult(Reply(request, context));
    }

    public override Task<EchoReply> Fail(EchoRequest request, ServerCallContext context) => request.Text switch
    {
        "rpc-not-found" => throw new RpcException(new Status(StatusCode.NotFound, "container x: not found")),
        "key-not-found" => throw new KeyNotFoundException("no such key"),
        "invalid-operation" => throw new InvalidOperationException("boom"),
        "async-invalid-operation" => ThrowLater(),
        _ => throw new ArgumentException($"unknown failure kind '{request.Text}'"),
    };

    private static async Task<EchoReply> ThrowLater()
    {
        await Task.Yield();
        throw new InvalidOperationException("boom later");
    }

    private TaskCompletionSource Gate(string name) => _gates.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

    private static EchoReply Reply(EchoRequest request, ServerCallContext context)
    {
        var reply = new EchoReply
        {
            Text = request.Text,
            Id = request.Id,
            BlobLength = request.Blob.Length,
            DeadlineMs = context.Deadline == DateTime.MaxValue ? -1 : (long)(context.Deadline - DateTime.UtcNow).TotalMilliseconds,
        };
        foreach (Metadata.Entry entry in context.RequestHeaders)
        {
            reply.Headers.Add($"{entry.Key}={(entry.IsBinary ? Convert.ToHexString(entry.ValueBytes) : entry.Value)}");
        }
        return reply;
    }
}
