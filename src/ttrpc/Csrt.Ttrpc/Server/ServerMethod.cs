using Csrt.Ttrpc.Wire;
using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>A method the server can dispatch to, with its types erased.</summary>
internal abstract class ServerMethod
{
    protected ServerMethod(string fullName)
    {
        FullName = fullName;
    }

    /// <summary>"/package.Service/Method".</summary>
    internal string FullName { get; }

    /// <summary>Decodes the payload, runs the handler and returns the finished Response frame.
    /// Failures are thrown and turned into a status by the caller, in one place.</summary>
    internal abstract Task<FrameBuilder> InvokeAsync(ReadOnlyMemory<byte> payload, ServerCall call);
}

/// <summary>A unary method bound from generated code.</summary>
internal sealed class UnaryMethod<TRequest, TResponse> : ServerMethod
    where TRequest : class
    where TResponse : class
{
    private readonly Method<TRequest, TResponse> _method;
    private readonly UnaryServerMethod<TRequest, TResponse> _handler;

    internal UnaryMethod(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse> handler)
        : base(method.FullName)
    {
        _method = method;
        _handler = handler;
    }

    internal override async Task<FrameBuilder> InvokeAsync(ReadOnlyMemory<byte> payload, ServerCall call)
    {
        TRequest request;
        try
        {
            request = _method.RequestMarshaller.ContextualDeserializer(new PayloadDeserializationContext(payload));
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"ttrpc: error unmarshalling payload: {ex.Message}"));
        }

        TResponse response = await _handler(request, call).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.Internal, $"ttrpc: handler of {FullName} returned null"));

        FrameBuilder frame = Envelope.NewResponse();
        try
        {
            try
            {
                _method.ResponseMarshaller.ContextualSerializer(response, frame);
            }
            catch (Exception ex) when (ex is not RpcException)
            {
                throw new RpcException(new Status(StatusCode.Internal, $"ttrpc: error marshaling payload: {ex.Message}"));
            }
            if (!frame.IsCompleted)
            {
                throw new RpcException(new Status(StatusCode.Internal, $"ttrpc: the response marshaller of {FullName} did not complete its serialization context"));
            }
            Envelope.CompleteResponse(frame, call.StreamId);
            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }
}

/// <summary>A client-, server- or duplex-streaming method: registered so a caller gets a clear
/// UNIMPLEMENTED naming the reason instead of "method not found"; this server runs unary methods only.</summary>
internal sealed class StreamingMethod : ServerMethod
{
    internal StreamingMethod(string fullName)
        : base(fullName)
    {
    }

    internal override Task<FrameBuilder> InvokeAsync(ReadOnlyMemory<byte> payload, ServerCall call) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, $"method {FullName} is a streaming method; this ttrpc server serves unary methods only"));
}
