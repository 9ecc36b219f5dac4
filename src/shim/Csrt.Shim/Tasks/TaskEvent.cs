using Google.Protobuf;

namespace Csrt.Shim.Tasks;

/// <summary>A task event for containerd: its topic ("/tasks/exit") and message.</summary>
public readonly record struct TaskEvent(string Topic, IMessage Message);
