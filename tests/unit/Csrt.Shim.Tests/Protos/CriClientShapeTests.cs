using Cri.V1;
using Grpc.Core;
using Xunit;

namespace Csrt.Shim.Tests.Protos;

// The CRI v1 client the integration tests use against containerd's CRI socket. Binding each call
// to a typed delegate makes a missing or mistyped RPC a compile error; the recording invoker
// checks the gRPC paths the generated client actually sends.
public sealed class CriClientShapeTests
{
    [Fact]
    public void RuntimeServiceClientHasEveryV1RpcWithItsMessageTypes()
    {
        var client = new RuntimeService.RuntimeServiceClient(new RecordingInvoker());

        Func<VersionRequest, CallOptions, AsyncUnaryCall<VersionResponse>> version = client.VersionAsync;
        Func<RunPodSandboxRequest, CallOptions, AsyncUnaryCall<RunPodSandboxResponse>> runPodSandbox = client.RunPodSandboxAsync;
        Func<StopPodSandboxRequest, CallOptions, AsyncUnaryCall<StopPodSandboxResponse>> stopPodSandbox = client.StopPodSandboxAsync;
        Func<RemovePodSandboxRequest, CallOptions, AsyncUnaryCall<RemovePodSandboxResponse>> removePodSandbox = client.RemovePodSandboxAsync;
        Func<PodSandboxStatusRequest, CallOptions, AsyncUnaryCall<PodSandboxStatusResponse>> podSandboxStatus = client.PodSandboxStatusAsync;
        Func<ListPodSandboxRequest, CallOptions, AsyncUnaryCall<ListPodSandboxResponse>> listPodSandbox = client.ListPodSandboxAsync;
        Func<CreateContainerRequest, CallOptions, AsyncUnaryCall<CreateContainerResponse>> createContainer = client.CreateContainerAsync;
        Func<StartContainerRequest, CallOptions, AsyncUnaryCall<StartContainerResponse>> startContainer = client.StartContainerAsync;
        Func<StopContainerRequest, CallOptions, AsyncUnaryCall<StopContainerResponse>> stopContainer = client.StopContainerAsync;
        Func<RemoveContainerRequest, CallOptions, AsyncUnaryCall<RemoveContainerResponse>> removeContainer = client.RemoveContainerAsync;
        Func<ListContainersRequest, CallOptions, AsyncUnaryCall<ListContainersResponse>> listContainers = client.ListContainersAsync;
        Func<ContainerStatusRequest, CallOptions, AsyncUnaryCall<ContainerStatusResponse>> containerStatus = client.ContainerStatusAsync;
        Func<UpdateContainerResourcesRequest, CallOptions, AsyncUnaryCall<UpdateContainerResourcesResponse>> updateResources = client.UpdateContainerResourcesAsync;
        Func<ReopenContainerLogRequest, CallOptions, AsyncUnaryCall<ReopenContainerLogResponse>> reopenLog = client.ReopenContainerLogAsync;
        Func<ExecSyncRequest, CallOptions, AsyncUnaryCall<ExecSyncResponse>> execSync = client.ExecSyncAsync;
        Func<ExecRequest, CallOptions, AsyncUnaryCall<ExecResponse>> exec = client.ExecAsync;
        Func<AttachRequest, CallOptions, AsyncUnaryCall<AttachResponse>> attach = client.AttachAsync;
        Func<PortForwardRequest, CallOptions, AsyncUnaryCall<PortForwardResponse>> portForward = client.PortForwardAsync;
        Func<ContainerStatsRequest, CallOptions, AsyncUnaryCall<ContainerStatsResponse>> containerStats = client.ContainerStatsAsync;
        Func<ListContainerStatsRequest, CallOptions, AsyncUnaryCall<ListContainerStatsResponse>> listContainerStats = client.ListContainerStatsAsync;
        Func<PodSandboxStatsRequest, CallOptions, AsyncUnaryCall<PodSandboxStatsResponse>> podSandboxStats = client.PodSandboxStatsAsync;
        Func<ListPodSandboxStatsRequest, CallOptions, AsyncUnaryCall<ListPodSandboxStatsResponse>> listPodSandboxStats = client.ListPodSandboxStatsAsync;
        Func<UpdateRuntimeConfigRequest, CallOptions, AsyncUnaryCall<UpdateRuntimeConfigResponse>> updateRuntimeConfig = client.UpdateRuntimeConfigAsync;
        Func<StatusRequest, CallOptions, AsyncUnaryCall<StatusResponse>> status = client.StatusAsync;
        Func<CheckpointContainerRequest, CallOptions, AsyncUnaryCall<CheckpointContainerResponse>> checkpoint = client.CheckpointContainerAsync;
        Func<GetEventsRequest, CallOptions, AsyncServerStreamingCall<ContainerEventResponse>> events = client.GetContainerEvents;

        Delegate[] calls =
        [
            version, runPodSandbox, stopPodSandbox, removePodSandbox, podSandboxStatus, listPodSandbox,
            createContainer, startContainer, stopContainer, removeContainer, listContainers, containerStatus,
            updateResources, reopenLog, execSync, exec, attach, portForward, containerStats, listContainerStats,
            podSandboxStats, listPodSandboxStats, updateRuntimeConfig, status, checkpoint, events,
        ];
        var service = Assert.Single(ApiReflection.Descriptor.Services, s => s.Name == "RuntimeService");
        Assert.Equal("runtime.v1.RuntimeService", service.FullName);
        Assert.Equal(calls.Length, service.Methods.Count);
    }

    [Fact]
    public void ImageServiceClientHasEveryV1Rpc()
    {
        var client = new ImageService.ImageServiceClient(new RecordingInvoker());

        Func<ListImagesRequest, CallOptions, AsyncUnaryCall<ListImagesResponse>> listImages = client.ListImagesAsync;
        Func<ImageStatusRequest, CallOptions, AsyncUnaryCall<ImageStatusResponse>> imageStatus = client.ImageStatusAsync;
        Func<PullImageRequest, CallOptions, AsyncUnaryCall<PullImageResponse>> pullImage = client.PullImageAsync;
        Func<RemoveImageRequest, CallOptions, AsyncUnaryCall<RemoveImageResponse>> removeImage = client.RemoveImageAsync;
        Func<ImageFsInfoRequest, CallOptions, AsyncUnaryCall<ImageFsInfoResponse>> imageFsInfo = client.ImageFsInfoAsync;

        Delegate[] calls = [listImages, imageStatus, pullImage, removeImage, imageFsInfo];
        var service = Assert.Single(ApiReflection.Descriptor.Services, s => s.Name == "ImageService");
        Assert.Equal("runtime.v1.ImageService", service.FullName);
        Assert.Equal(calls.Length, service.Methods.Count);
    }

    [Fact]
    public void ClientCallsUseTheRuntimeV1GrpcPaths()
    {
        var invoker = new RecordingInvoker();
        var runtime = new RuntimeService.RuntimeServiceClient(invoker);
        var images = new ImageService.ImageServiceClient(invoker);

        _ = runtime.RunPodSandboxAsync(new RunPodSandboxRequest { RuntimeHandler = "csrt" });
        _ = runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = "c", Cmd = { "true" } });
        _ = runtime.GetContainerEvents(new GetEventsRequest());
        _ = images.PullImageAsync(new PullImageRequest { Image = new ImageSpec { Image = "pause" } });

        Assert.Equal(
            [
                (MethodType.Unary, "/runtime.v1.RuntimeService/RunPodSandbox"),
                (MethodType.Unary, "/runtime.v1.RuntimeService/ExecSync"),
                (MethodType.ServerStreaming, "/runtime.v1.RuntimeService/GetContainerEvents"),
                (MethodType.Unary, "/runtime.v1.ImageService/PullImage"),
            ],
            invoker.Calls);
    }

    [Fact]
    public void CriMessagesKeepUpstreamFieldNumbers()
    {
        // A few numbers that are easy to get wrong: out-of-order additions upstream.
        Assert.Equal(2, RunPodSandboxRequest.RuntimeHandlerFieldNumber);
        Assert.Equal(8, LinuxSandboxSecurityContext.RunAsGroupFieldNumber);
        Assert.Equal(12, LinuxContainerSecurityContext.RunAsGroupFieldNumber);
        Assert.Equal(16, LinuxContainerSecurityContext.ApparmorFieldNumber);
        Assert.Equal(2, Namespace.OptionsFieldNumber);
        Assert.Equal(9, LinuxContainerResources.UnifiedFieldNumber);
        Assert.Equal(10, ContainerStatus.ReasonFieldNumber);
        Assert.Equal(3, PodSandboxStatusResponse.ContainersStatusesFieldNumber);
    }

    /// <summary>Records each call's kind and path instead of sending it anywhere.</summary>
    private sealed class RecordingInvoker : CallInvoker
    {
        public List<(MethodType, string)> Calls { get; } = [];

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw Record(method);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            var failure = Record(method);
            return new AsyncUnaryCall<TResponse>(
                Task.FromException<TResponse>(failure), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
        {
            Record(method);
            return new AsyncServerStreamingCall<TResponse>(
                new EmptyStream<TResponse>(), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });
        }

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw Record(method);

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
            throw Record(method);

        private RpcException Record(IMethod method)
        {
            Calls.Add((method.Type, method.FullName));
            return new RpcException(new Status(StatusCode.Unimplemented, "recorded, not sent"));
        }

        private sealed class EmptyStream<T> : IAsyncStreamReader<T>
        {
            public T Current => throw new InvalidOperationException("empty stream");

            public Task<bool> MoveNext(CancellationToken cancellationToken) => Task.FromResult(false);
        }
    }
}
