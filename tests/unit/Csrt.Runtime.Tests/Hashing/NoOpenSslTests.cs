using System.Reflection;
using Csrt.Runtime.Lifecycle;
using Xunit;

namespace Csrt.Runtime.Tests.Hashing;

// `csrt` is a static executable: System.Security.Cryptography would dlopen OpenSSL into it, which
// brings a second C library (its own malloc) into the process and corrupts memory (a `csrt fn run`
// of an image crashed in the allocator after hashing a layer). The runtime core and the syscall
// layer, which csrt is made of, must not reference that assembly at all.
public sealed class NoOpenSslTests
{
    [Theory]
    [InlineData("Csrt.Runtime")]
    [InlineData("Csrt.Linux")]
    [InlineData("csrt")]
    public void TheAssembliesOfTheStaticCsrt_DoNotReferenceSystemSecurityCryptography(string name)
    {
        var assembly = name switch
        {
            "Csrt.Runtime" => typeof(ContainerRuntime).Assembly,
            "Csrt.Linux" => typeof(Csrt.Linux.Files).Assembly,
            _ => Assembly.Load(name),
        };
#pragma warning disable IL2026 // a test host, not trimmed
        var references = assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
#pragma warning restore IL2026
        Assert.DoesNotContain("System.Security.Cryptography", references);
    }
}
