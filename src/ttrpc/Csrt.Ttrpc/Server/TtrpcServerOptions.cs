using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>Settings of a <see cref="TtrpcServer"/>.</summary>
public sealed class TtrpcServerOptions
{
    /// <summary>
    /// Maps an exception thrown by a handler to the status sent to the client. It is consulted after
    /// the fixed rules (an <see cref="RpcException"/> keeps its status; an
    /// <see cref="OperationCanceledException"/> caused by the call's own deadline or connection close
    /// becomes DEADLINE_EXCEEDED or CANCELLED) and before the default (UNKNOWN with the exception's
    /// message, as the Go server does). Return <c>null</c> to fall through to the default.
    /// </summary>
    public Func<Exception, Status?>? ExceptionMapper { get; init; }

    /// <summary>
    /// Refuse connections whose peer (<c>SO_PEERCRED</c>) does not have this process's effective uid
    /// and gid, like Go ttrpc's <c>UnixSocketRequireSameUser</c> handshake that containerd shims use.
    /// </summary>
    public bool RequireSameUser { get; init; }

    /// <summary>
    /// Receives problems that cannot be answered to a peer: a refused or failing connection, an
    /// accept error, a response that could not be sent. The text says what failed; the exception,
    /// when there is one, says why. Null: such problems are dropped silently.
    /// </summary>
    public Action<string, Exception?>? ErrorLog { get; init; }
}
