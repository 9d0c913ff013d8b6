using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>
/// TorchSharp loads and computes on this OS: where the system's libstdc++ lacks GLIBCXX_3.4.32, the build marks that
/// one requirement of the output's libLibTorchSharp.so weak (Training/Build/LibTorchSharp.targets). readelf, from
/// binutils, is the independent reader of the ELF version tables.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class TorchSharpLoadingTests
{
    const string Version = "GLIBCXX_3.4.32";
    const string SystemLibstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";

    /// <summary>The flags readelf gives the library's requirement of <see cref="Version"/>: "none" or "WEAK".</summary>
    static string RequirementFlags(string library)
    {
        var line = TestData.Run("readelf", "-V", "--wide", library).Split('\n').Single(l => l.Contains($"Name: {Version} "));
        return line[(line.IndexOf("Flags: ", StringComparison.Ordinal) + 7)..].Split(' ')[0];
    }

    static string PackageCopy()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
    }

    [Fact]
    public void OutputCopy_IsWeakenedExactlyWhenTheSystemLacksTheVersion_AndThePackageCacheIsLeftAlone()
    {
        var definitions = TestData.Run("readelf", "-V", "--wide", SystemLibstdcxx);
        var systemHasIt = definitions.Contains($"Name: {Version}\n") || definitions.Contains($"Name: {Version} ");
        var output = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        Assert.Equal("none", RequirementFlags(PackageCopy()));
        Assert.Equal(systemHasIt ? "none" : "WEAK", RequirementFlags(output));
        // nothing else differs: one byte, the flags' low byte
        var (ours, theirs) = (File.ReadAllBytes(output), File.ReadAllBytes(PackageCopy()));
        Assert.Equal(theirs.Length, ours.Length);
        Assert.Equal(systemHasIt ? 0 : 1, Enumerable.Range(0, ours.Length).Count(i => ours[i] != theirs[i]));
    }

    [Fact]
    public void Weakening_IsIdempotent_AndSkippedWhereTheSystemHasTheVersion()
    {
        var dir = TestData.TempDirectory();
        var lacking = Path.Combine(dir, "lacking.so");
        var having = Path.Combine(dir, "having.so");
        File.Copy(PackageCopy(), lacking);
        File.Copy(PackageCopy(), having);
        // stand-ins for the system's libstdc++: what the task looks for is the version's name in its string table
        File.WriteAllText(Path.Combine(dir, "old-libstdc++.so"), "GLIBCXX_3.4.29\0GLIBCXX_3.4.30\0");
        File.WriteAllText(Path.Combine(dir, "new-libstdc++.so"), "GLIBCXX_3.4.30\0GLIBCXX_3.4.32\0");
        var targets = Path.Combine(TestData.RepositoryRoot, "Training", "Build", "LibTorchSharp.targets");
        File.WriteAllText(Path.Combine(dir, "weaken.proj"), $"""
            <Project>
              <Import Project="{targets}" />
              <Target Name="Weaken">
                <WeakenVersionNeed File="{lacking}" Version="{Version}" SystemLibrary="{dir}/old-libstdc++.so"><Output TaskParameter="Outcome" PropertyName="First" /></WeakenVersionNeed>
                <WeakenVersionNeed File="{lacking}" Version="{Version}" SystemLibrary="{dir}/old-libstdc++.so"><Output TaskParameter="Outcome" PropertyName="Second" /></WeakenVersionNeed>
                <WeakenVersionNeed File="{having}" Version="{Version}" SystemLibrary="{dir}/new-libstdc++.so"><Output TaskParameter="Outcome" PropertyName="Third" /></WeakenVersionNeed>
                <WeakenVersionNeed File="{having}" Version="GLIBCXX_9.9" SystemLibrary="{dir}/old-libstdc++.so"><Output TaskParameter="Outcome" PropertyName="Fourth" /></WeakenVersionNeed>
                <Message Importance="high" Text="outcomes: $(First)|$(Second)|$(Third)|$(Fourth)" />
              </Target>
            </Project>
            """);
        var log = TestData.Run("dotnet", "msbuild", Path.Combine(dir, "weaken.proj"), "-t:Weaken", "-nologo", "-v:m");
        Assert.Contains("outcomes: weakened|already weak|not needed|not asked", log);
        Assert.Equal("WEAK", RequirementFlags(lacking));
        Assert.Equal(File.ReadAllBytes(PackageCopy()), File.ReadAllBytes(having));
        var (weakened, original) = (File.ReadAllBytes(lacking), File.ReadAllBytes(PackageCopy()));
        Assert.Equal(1, Enumerable.Range(0, weakened.Length).Count(i => weakened[i] != original[i]));
    }

    [Fact]
    public void TorchSharp_ComputesGradientsAndAdamSteps_AsTheirClosedForms()
    {
        using var scope = NewDisposeScope();
        // loss = mean((x·w − y)²): its gradient is 2/n · xᵀ(x·w − y)
        var x = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]);
        var y = tensor(new float[] { 1, -1, 2 }, [3, 1]);
        var w = tensor(new float[] { 0.5f, -0.25f }, [2, 1]).requires_grad_();
        var loss = (x.matmul(w) - y).pow(2).mean();
        loss.backward();
        var residual = new[] { 1 * 0.5 - 2 * 0.25 - 1, 3 * 0.5 - 4 * 0.25 + 1, 5 * 0.5 - 6 * 0.25 - 2 };
        double[] expected = [2.0 / 3 * (1 * residual[0] + 3 * residual[1] + 5 * residual[2]), 2.0 / 3 * (2 * residual[0] + 4 * residual[1] + 6 * residual[2])];
        var gradient = w.grad!.data<float>().ToArray();
        Assert.Equal(expected[0], gradient[0], 1e-5);
        Assert.Equal(expected[1], gradient[1], 1e-5);
        // Adam's first step moves each weight by lr · g / (|g| + ε): lr against the gradient's sign
        var adam = optim.Adam([new TorchSharp.Modules.Parameter(w.detach().clone(), requires_grad: true)], lr: 0.1);
        var parameter = adam.parameters().Single();
        parameter.grad = w.grad.clone();
        adam.step();
        var moved = parameter.data<float>().ToArray();
        Assert.Equal(0.5 - 0.1 * Math.Sign(expected[0]), moved[0], 1e-5);
        Assert.Equal(-0.25 - 0.1 * Math.Sign(expected[1]), moved[1], 1e-5);
    }
}
