using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// A client of containerd's CRI streaming server (the URL Exec or Attach returns) over WebSocket
/// with the <c>v4.channel.k8s.io</c> subprotocol: every binary message starts with a channel byte,
/// 0 stdin, 1 stdout, 2 stderr, 3 error/status (a JSON metav1.Status), 4 resize (JSON
/// {"Width":…,"Height":…}). The server closes the socket after writing the status.
/// </summary>
internal sealed class CriStream : IAsyncDisposable
{
    public const string Protocol = "v4.channel.k8s.io";

    private readonly ClientWebSocket _socket;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _status = new();
    private readonly Task _reader;
    private readonly object _lock = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CriStream(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Connects to a streaming URL (http://host:port/exec/&lt;token&gt; becomes ws://…).</summary>
    public static async Task<CriStream> ConnectAsync(string url)
    {
        var uri = new UriBuilder(url);
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Protocol);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(uri.Uri, timeout.Token);
            if (socket.SubProtocol != Protocol)
                throw new InvalidOperationException($"the streaming server chose subprotocol \"{socket.SubProtocol}\" (expected {Protocol})");
            return new CriStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public string Stdout
    {
        get
        {
            lock (_lock)
                return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock)
                return _stderr.ToString();
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var r = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                    break;
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage)
                    continue;
                var data = message.ToArray();
                message.SetLength(0);
                if (data.Length < 2)
                    continue; // the server's "channel open" messages carry no data
                var text = Encoding.UTF8.GetString(data, 1, data.Length - 1);
                lock (_lock)
                {
                    switch (data[0])
                    {
                        case 1: _stdout.Append(text); break;
                        case 2: _stderr.Append(text); break;
                        case 3: _status.Append(text); break;
                    }
                }
            }
        }
        catch (WebSocketException)
        {
            // The server closed the TCP connection without a close frame: the session is over.
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    public async Task SendStdinAsync(string text)
    {
        var data = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        data[0] = 0;
        Encoding.UTF8.GetBytes(text, 0, text.Length, data, 1);
        await _socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None);
    }

    public async Task ResizeAsync(int width, int height)
    {
        var json = Encoding.UTF8.GetBytes($"{{\"Width\":{width},\"Height\":{height}}}");
        var data = new byte[json.Length + 1];
        data[0] = 4;
        json.CopyTo(data, 1);
        await _socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None);
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>; returns stdout.</summary>
    public async Task<string> WaitForStdoutAsync(string text, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var s = Stdout;
            if (s.Contains(text, StringComparison.Ordinal))
                return s;
            if (clock.Elapsed > limit || (_closed.Task.IsCompleted && !Stdout.Contains(text, StringComparison.Ordinal)))
                throw new TimeoutException($"stdout of the stream has no \"{text}\" after {clock.Elapsed.TotalSeconds:0} s (closed: {_closed.Task.IsCompleted}); stdout: \"{Stdout}\", stderr: \"{Stderr}\", status: {StatusText}");
            await Task.Delay(50);
        }
    }

    private string StatusText
    {
        get
        {
            lock (_lock)
                return _status.ToString();
        }
    }

    /// <summary>
    /// Waits until the server closed the stream and returns the exit code its status carried:
    /// 0 for {"status":"Success"}, else the ExitCode cause of a NonZeroExitCode failure.
    /// </summary>
    public async Task<int> WaitForExitCodeAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        if (await Task.WhenAny(_closed.Task, Task.Delay(limit)) != _closed.Task)
            throw new TimeoutException($"the stream did not end within {limit.TotalSeconds:0} s; stdout: \"{Stdout}\", stderr: \"{Stderr}\", status: {StatusText}");
        var json = StatusText;
        if (json.Length == 0)
            throw new InvalidOperationException($"the stream ended without a status on channel 3; stdout: \"{Stdout}\", stderr: \"{Stderr}\"");
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.GetProperty("status").GetString() == "Success")
            return 0;
        if (root.TryGetProperty("reason", out var reason) && reason.GetString() == "NonZeroExitCode")
        {
            foreach (var cause in root.GetProperty("details").GetProperty("causes").EnumerateArray())
            {
                if (cause.GetProperty("reason").GetString() == "ExitCode")
                    return int.Parse(cause.GetProperty("message").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"the stream ended with a failure status that has no exit code: {json}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
        _socket.Abort();
        await Task.WhenAny(_reader, Task.Delay(5000));
        _socket.Dispose();
    }
}
