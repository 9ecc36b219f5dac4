using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;
using TaskV2 = Containerd.Task.V2;
using TaskV3 = Containerd.Task.V3;

namespace Csrt.Shim.Tests.Protos;

public sealed class TaskServiceBindingTests
{
    // The rpc names containerd sends as ttrpc Request.method (runtime/v2/task/shim.proto).
    private static readonly string[] TaskMethods =
    [
        "State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint", "Kill",
        "Exec", "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect", "Shutdown",
    ];

    [Fact]
    public void TaskV2BindsAllSeventeenUnaryMethodsUnderItsServiceName()
    {
        var binder = new RecordingBinder();
        TaskV2.Task.BindService(binder, new UnimplementedV2());

        Assert.All(binder.Methods, m => Assert.Equal("containerd.task.v2.Task", m.ServiceName));
        Assert.All(binder.Methods, m => Assert.Equal(MethodType.Unary, m.Type));
        Assert.Equal(TaskMethods.Order(StringComparer.Ordinal), binder.Methods.Select(m => m.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TaskV3BindsTheSameMethodsUnderTheV3ServiceName()
    {
        var binder = new RecordingBinder();
        TaskV3.Task.BindService(binder, new UnimplementedV3());

        Assert.All(binder.Methods, m => Assert.Equal("containerd.task.v3.Task", m.ServiceName));
        Assert.All(binder.Methods, m => Assert.Equal(MethodType.Unary, m.Type));
        Assert.Equal(TaskMethods.Order(StringComparer.Ordinal), binder.Methods.Select(m => m.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void V2AndV3MessagesHaveIdenticalFieldTables()
    {
        // containerd 2.x's bridge relies on the two versions being the same wire format.
        var v2 = TaskV2.ShimReflection.Descriptor.MessageTypes;
        var v3 = TaskV3.ShimReflection.Descriptor.MessageTypes;
        Assert.Equal(v2.Select(m => m.Name), v3.Select(m => m.Name));
        for (int i = 0; i < v2.Count; i++)
        {
            var a = v2[i].Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.Name, f.FieldType, f.IsRepeated, f.IsMap));
            var b = v3[i].Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.Name, f.FieldType, f.IsRepeated, f.IsMap));
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public async Task BoundHandlerDispatchesToTheImplementation()
    {
        var binder = new RecordingBinder();
        TaskV2.Task.BindService(binder, new ConnectOnlyV2());

        var handler = Assert.IsType<UnaryServerMethod<TaskV2.ConnectRequest, TaskV2.ConnectResponse>>(binder.Handlers["Connect"]);
        var response = await handler(new TaskV2.ConnectRequest { Id = "c1" }, null!);

        Assert.Equal(42u, response.ShimPid);
        Assert.Equal(7u, response.TaskPid);
    }

    [Fact]
    public void TtrpcEventsServiceIsForwardOnly()
    {
        var service = Assert.Single(Containerd.Services.Events.Ttrpc.V1.EventsReflection.Descriptor.Services);
        Assert.Equal("containerd.services.events.ttrpc.v1.Events", service.FullName);
        var forward = Assert.Single(service.Methods);
        Assert.Equal("Forward", forward.Name);
        Assert.Equal("containerd.services.events.ttrpc.v1.ForwardRequest", forward.InputType.FullName);
        Assert.Equal(Empty.Descriptor.FullName, forward.OutputType.FullName);
    }

    [Fact]
    public void GrpcEventsServiceStreamsEnvelopesOnSubscribe()
    {
        var service = Assert.Single(Containerd.Services.Events.V1.EventsReflection.Descriptor.Services);
        Assert.Equal("containerd.services.events.v1.Events", service.FullName);
        Assert.Equal(["Publish", "Forward", "Subscribe"], service.Methods.Select(m => m.Name));
        var subscribe = service.FindMethodByName("Subscribe");
        Assert.True(subscribe.IsServerStreaming);
        Assert.False(subscribe.IsClientStreaming);
        Assert.Equal("containerd.services.events.v1.Envelope", subscribe.OutputType.FullName);
    }

    private sealed class UnimplementedV2 : TaskV2.Task.TaskBase;

    private sealed class UnimplementedV3 : TaskV3.Task.TaskBase;

    private sealed class ConnectOnlyV2 : TaskV2.Task.TaskBase
    {
        public override Task<TaskV2.ConnectResponse> Connect(TaskV2.ConnectRequest request, ServerCallContext context) =>
            Task.FromResult(new TaskV2.ConnectResponse { ShimPid = 42, TaskPid = request.Id == "c1" ? 7u : 0u });
    }

    /// <summary>Records what generated BindService registers, the way the ttrpc server will see it.</summary>
    private sealed class RecordingBinder : ServiceBinderBase
    {
        public List<IMethod> Methods { get; } = [];
        public Dictionary<string, Delegate?> Handlers { get; } = [];

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) => Record(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) => Record(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) => Record(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) => Record(method, handler);

        private void Record(IMethod method, Delegate? handler)
        {
            Methods.Add(method);
            Handlers.Add(method.Name, handler);
        }
    }
}
