using System.Diagnostics;

namespace Pipeline.EndToEnd.Tests;

/// <summary>The repository, its built hosts, and running one as a process the way a user does after ./run setup.</summary>
static class Hosts
{
    public static readonly string Root = Pipeline.Tests.TestData.RepositoryRoot;
    /// <summary>The build configuration of these tests, which is the hosts' too.</summary>
    public static readonly string Configuration = AppContext.BaseDirectory.Contains("/bin/Debug/") ? "Debug" : "Release";

    /// <summary>The built assembly of <c>pipeline-train</c> or <c>pipeline-infer</c>.</summary>
    public static string Dll(string tool)
    {
        var dll = Path.Combine(Root, tool == "pipeline-train" ? "Training/Cli" : "Inference/Cli", "bin", Configuration, "net10.0", tool + ".dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }

    /// <summary>
    /// <c>pipeline-infer</c> built on ONNX Runtime's GPU package, which <c>./run test</c> (and <c>./run setup --gpu</c>)
    /// builds into <c>artifacts/gpu/</c>.
    /// </summary>
    public static string GpuFlavourDll()
    {
        var bin = Path.Combine(Root, "artifacts", "gpu", "bin", "pipeline-infer");
        var dll = Directory.Exists(bin)
            ? Directory.GetDirectories(bin, Configuration.ToLowerInvariant() + "_*").Select(d => Path.Combine(d, "pipeline-infer.dll")).FirstOrDefault(File.Exists)
            : null;
        Assert.True(dll is not null, $"the GPU flavour of pipeline-infer is not built in {bin}; ./run test builds it (or: ./run setup --gpu)");
        return dll;
    }

    /// <summary>Runs a host from the repository root; returns its exit code, standard output and standard error.</summary>
    public static (int Code, string Out, string Err) Run(string tool, params string[] args) => RunAssembly(Dll(tool), args);

    /// <summary>Runs a built host assembly from the repository root.</summary>
    public static (int Code, string Out, string Err) RunAssembly(string dll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
