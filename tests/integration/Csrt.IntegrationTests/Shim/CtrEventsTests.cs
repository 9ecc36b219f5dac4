using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// The task events csrt's shim publishes, as `ctr events` shows them: the documented order
/// (protocol doc §4.4), bare type URLs (containerd 1.6 could not decode them otherwise), and
/// non-zero timestamps.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed partial class CtrEventsTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public CtrEventsTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    /// <summary>`ctr events` output: Go's time.String(), namespace, topic, the event as JSON.</summary>
    [GeneratedRegex(@"^(?<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?) \+0000 UTC (?<ns>\S+) (?<topic>\S+) (?<json>\{.*\})$")]
    private static partial Regex EventLine();

    private sealed record Event(DateTime Time, string Topic, JsonElement Body)
    {
        public string Field(string name) => Body.TryGetProperty(name, out var v) ? v.ToString() : "";

        public override string ToString() => $"{Topic} {Body}";
    }

    /// <summary>A running `ctr events` collecting what it prints.</summary>
    private sealed class EventStream : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = new();

        public EventStream(PrivateContainerd containerd)
        {
            var psi = new ProcessStartInfo(PrivateContainerd.CtrBinary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--address", containerd.Address, "events" })
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    lock (_lines)
                        _lines.Add(line);
                }
            };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public List<string> Lines
        {
            get
            {
                lock (_lines)
                    return _lines.ToList();
            }
        }

        public bool WaitFor(Func<string, bool> match, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (Lines.Any(match))
                    return true;
                Thread.Sleep(50);
            }
            return false;
        }

        public void Dispose()
        {
            try
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }

    private List<Event> EventsOf(EventStream events, string id) =>
        events.Lines.Select(l => EventLine().Match(l)).Where(m => m.Success && m.Groups["topic"].Value.StartsWith("/tasks/", StringComparison.Ordinal))
            .Select(m => new Event(DateTime.Parse(m.Groups["date"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
                m.Groups["topic"].Value, JsonDocument.Parse(m.Groups["json"].Value).RootElement.Clone()))
            .Where(e => e.Field("container_id") == id).ToList();

    [Fact]
    public void TaskAndExecEvents_ArriveInTheDocumentedOrder_WithRealTimestamps_AndExecExitsBeforeTheInitsExit()
    {
        var id = TestBundle.NewId("ctr-events");
        var probe = TestBundle.NewId("ctr-probe");
        using var events = new EventStream(_containerd);
        try
        {
            // Wait until the subscription is live: a container create is an event too.
            _containerd.CtrOk("containers", "create", TestImages.BusyboxImage, probe);
            Assert.True(events.WaitFor(l => l.Contains(probe, StringComparison.Ordinal), TimeSpan.FromSeconds(30)), "ctr events printed nothing");

            _containerd.CtrOk("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "sleep", "1000");
            Assert.Equal(5, _containerd.Ctr("tasks", "exec", "--exec-id", "once", id, "sh", "-c", "exit 5").ExitCode);
            _containerd.CtrOk("tasks", "pause", id);
            _containerd.CtrOk("tasks", "resume", id);
            _containerd.CtrOk("tasks", "exec", "-d", "--exec-id", "long", id, "sleep", "1000");
            Assert.True(events.WaitFor(l => l.Contains("/tasks/exec-started", StringComparison.Ordinal) && l.Contains("\"long\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30)));
            _containerd.CtrOk("tasks", "kill", "--all", "-s", "KILL", id);
            Assert.True(events.WaitFor(l => l.Contains("/tasks/exit", StringComparison.Ordinal) && l.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30)), "no exit event for the init");
            _containerd.CtrOk("tasks", "delete", id);
            Assert.True(events.WaitFor(l => l.Contains("/tasks/delete", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal), TimeSpan.FromSeconds(30)), "no delete event");

            var seen = EventsOf(events, id);
            _log.WriteLine(string.Join('\n', seen));
            var summary = seen.Select(e => e.Topic + (e.Field("exec_id") is { Length: > 0 } x ? " " + x : e.Topic == "/tasks/exit" ? " " + (e.Field("id") == id ? "init" : e.Field("id")) : "")).ToList();
            Assert.Equal(new[]
            {
                "/tasks/create",
                "/tasks/start",
                "/tasks/exec-added once",
                "/tasks/exec-started once",
                "/tasks/exit once",
                "/tasks/paused",
                "/tasks/resumed",
                "/tasks/exec-added long",
                "/tasks/exec-started long",
                "/tasks/exit long",
                "/tasks/exit init",
                "/tasks/delete",
            }, summary);

            var before = DateTime.UtcNow.AddMinutes(-10);
            Assert.All(seen, e => Assert.InRange(e.Time, before, DateTime.UtcNow.AddMinutes(1)));
            for (var i = 1; i < seen.Count; i++)
                Assert.True(seen[i].Time >= seen[i - 1].Time, $"event {seen[i]} is stamped before {seen[i - 1]}");

            var initExit = seen.Single(e => e.Topic == "/tasks/exit" && e.Field("id") == id);
            Assert.Equal("137", initExit.Field("exit_status"));
            Assert.InRange(DateTime.Parse(initExit.Field("exited_at"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), before, DateTime.UtcNow.AddMinutes(1));
            var onceExit = seen.Single(e => e.Topic == "/tasks/exit" && e.Field("id") == "once");
            Assert.Equal("5", onceExit.Field("exit_status"));
            var start = seen.Single(e => e.Topic == "/tasks/start");
            Assert.Equal(seen[0].Field("pid"), start.Field("pid"));
            Assert.NotEqual("", start.Field("pid"));
            var delete = seen.Single(e => e.Topic == "/tasks/delete");
            Assert.Equal("137", delete.Field("exit_status"));
            Assert.Equal(initExit.Field("exited_at"), delete.Field("exited_at"));
        }
        finally
        {
            _containerd.Ctr("tasks", "kill", "-a", "-s", "KILL", id);
            _containerd.Ctr("tasks", "delete", "-f", id);
            _containerd.Ctr("containers", "delete", id);
            _containerd.Ctr("containers", "delete", probe);
        }
    }
}
