using Containerd;
using Containerd.Events;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;
using CgroupsV1 = Containerd.Cgroups.V1;
using CgroupsV2 = Containerd.Cgroups.V2;
using Runc = Containerd.Runc.V1;

namespace Csrt.Shim.Tests.Protos;

public sealed class TypeUrlTests
{
    [Fact]
    public void TaskExitIsPackedUnderItsBareFullName()
    {
        var any = TypeUrls.Pack(new TaskExit { ContainerId = "c", Pid = 3 });

        Assert.Equal("containerd.events.TaskExit", any.TypeUrl);
        Assert.Equal(new TaskExit { ContainerId = "c", Pid = 3 }.ToByteString(), any.Value);
    }

    public static TheoryData<IMessage, string> TaskEvents => new()
    {
        { new TaskCreate(), "containerd.events.TaskCreate" },
        { new TaskStart(), "containerd.events.TaskStart" },
        { new TaskDelete(), "containerd.events.TaskDelete" },
        { new TaskIO(), "containerd.events.TaskIO" },
        { new TaskOOM(), "containerd.events.TaskOOM" },
        { new TaskExecAdded(), "containerd.events.TaskExecAdded" },
        { new TaskExecStarted(), "containerd.events.TaskExecStarted" },
        { new TaskPaused(), "containerd.events.TaskPaused" },
        { new TaskResumed(), "containerd.events.TaskResumed" },
        { new TaskCheckpointed(), "containerd.events.TaskCheckpointed" },
    };

    [Theory]
    [MemberData(nameof(TaskEvents))]
    public void EveryTaskEventHasContainerdsTypeName(IMessage message, string expected)
    {
        Assert.Equal(expected, TypeUrls.Pack(message).TypeUrl);
    }

    [Fact]
    public void EveryKnownNameIsTheMessagesDescriptorFullName()
    {
        Assert.NotEmpty(TypeUrls.KnownNames);
        foreach (var (type, name) in TypeUrls.KnownNames)
        {
            var message = (IMessage)Activator.CreateInstance(type)!;
            Assert.Equal(message.Descriptor.FullName, name);
        }
    }

    [Fact]
    public void CgroupMetricsArePackedUnderTheCgroupsPackageNames()
    {
        Assert.Equal("io.containerd.cgroups.v1.Metrics", TypeUrls.Pack(new CgroupsV1.Metrics()).TypeUrl);
        Assert.Equal("io.containerd.cgroups.v2.Metrics", TypeUrls.Pack(new CgroupsV2.Metrics()).TypeUrl);
    }

    [Fact]
    public void OptionsTypesMatchWhatContainerdSends()
    {
        Assert.Equal("containerd.runc.v1.Options", TypeUrls.Pack(new Runc.Options()).TypeUrl);
        Assert.Equal("containerd.runc.v1.CheckpointOptions", TypeUrls.Pack(new Runc.CheckpointOptions()).TypeUrl);
        Assert.Equal("containerd.runc.v1.ProcessDetails", TypeUrls.Pack(new Runc.ProcessDetails()).TypeUrl);
        Assert.Equal("runtimeoptions.v1.Options", TypeUrls.Pack(new Containerd.RuntimeOptions.V1.Options()).TypeUrl);
    }

    [Theory]
    [InlineData("containerd.runc.v1.Options")]
    [InlineData("type.googleapis.com/containerd.runc.v1.Options")]
    public void UnpackAcceptsBareAndPrefixedUrls(string typeUrl)
    {
        var any = new Any { TypeUrl = typeUrl, Value = new Runc.Options { BinaryName = "csrt", SystemdCgroup = true }.ToByteString() };

        Assert.True(TypeUrls.Is(any, Runc.Options.Descriptor));
        var options = TypeUrls.Unpack<Runc.Options>(any);
        Assert.Equal("csrt", options.BinaryName);
        Assert.True(options.SystemdCgroup);
    }

    [Fact]
    public void GoogleUnpackRejectsBareUrlsWhichIsWhyTheHelperExists()
    {
        var any = TypeUrls.Pack(new TaskExit { Pid = 1 });

        Assert.False(any.TryUnpack<TaskExit>(out _));
        Assert.True(TypeUrls.TryUnpack<TaskExit>(any, out var exit));
        Assert.Equal(1u, exit.Pid);
    }

    [Theory]
    [InlineData("containerd.events.TaskStart")]
    [InlineData("containerd.events.TaskExitX")]
    [InlineData("x.containerd.events.TaskExit")]
    [InlineData("")]
    public void TryUnpackRefusesOtherTypes(string typeUrl)
    {
        var any = new Any { TypeUrl = typeUrl, Value = new TaskExit { Pid = 1 }.ToByteString() };

        Assert.False(TypeUrls.TryUnpack<TaskExit>(any, out var exit));
        Assert.Null(exit);
    }

    [Fact]
    public void UnpackOfAnotherTypeNamesBothTypes()
    {
        var any = TypeUrls.Pack(new TaskStart());

        var error = Assert.Throws<InvalidDataException>(() => TypeUrls.Unpack<TaskExit>(any));
        Assert.Contains("'containerd.events.TaskStart'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'containerd.events.TaskExit'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedPayloadOfTheRightTypeIsAProtobufError()
    {
        var any = new Any { TypeUrl = "containerd.events.TaskExit", Value = ByteString.CopyFrom(0x0A, 0x05, 0x61) };

        Assert.Throws<InvalidProtocolBufferException>(() => TypeUrls.Unpack<TaskExit>(any));
    }

    [Fact]
    public void TypeNameIsTheTextAfterTheLastSlash()
    {
        Assert.Equal("a.B", TypeUrls.TypeName("a.B").ToString());
        Assert.Equal("a.B", TypeUrls.TypeName("type.googleapis.com/a.B").ToString());
        Assert.Equal("Process", TypeUrls.TypeName(TypeUrls.OciProcess).ToString());
        Assert.Equal("", TypeUrls.TypeName("x/").ToString());
    }

    [Fact]
    public void ExecSpecJsonIsCarriedAsRawBytesUnderContainerdsUrl()
    {
        var json = """{"args":["sh"],"cwd":"/"}"""u8.ToArray();

        var any = TypeUrls.PackJson(TypeUrls.OciProcess, json);

        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/Process", any.TypeUrl);
        Assert.Equal(json, any.Value.ToByteArray());
        // Any on the wire: 1: type_url (57 bytes), 2: value.
        Assert.Equal([0x0A, 57, .. "types.containerd.io/opencontainers/runtime-spec/1/Process"u8, 0x12, (byte)json.Length, .. json], any.ToByteArray());
        Assert.True(TypeUrls.TryUnpackJson(any, TypeUrls.OciProcess, out var payload));
        Assert.Equal(json, payload.ToArray());
    }

    [Fact]
    public void JsonUrlsMustMatchExactly()
    {
        var any = TypeUrls.PackJson(TypeUrls.OciLinuxResources, """{"memory":{"limit":1}}"""u8);

        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources", any.TypeUrl);
        Assert.False(TypeUrls.TryUnpackJson(any, TypeUrls.OciProcess, out _));
        Assert.False(TypeUrls.TryUnpackJson(new Any { TypeUrl = "LinuxResources", Value = any.Value }, TypeUrls.OciLinuxResources, out _));
        var error = Assert.Throws<InvalidDataException>(() => TypeUrls.UnpackJson(any, TypeUrls.OciProcess));
        Assert.Contains(TypeUrls.OciProcess, error.Message, StringComparison.Ordinal);
        Assert.Equal("""{"memory":{"limit":1}}"""u8.ToArray(), TypeUrls.UnpackJson(any, TypeUrls.OciLinuxResources).ToArray());
    }
}
