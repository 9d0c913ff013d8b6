using System.Diagnostics;

namespace Pipeline.EndToEnd.Tests;

/// <summary>The repository, its built hosts, and running one as a process the way a user does after ./run setup.</summary>
static class Hosts
{
    public static readonly string Root = FindRoot();
    /// <summary>The build configuration of these tests, which is the hosts' too.</summary>
    public static readonly string Configuration = AppContext.BaseDirectory.Contains("/bin/Debug/") ? "Debug" : "Release";

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Pipeline.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    /// <summary>The built assembly of <c>pipeline-train</c> or <c>pipeline-infer</c>.</summary>
    public static string Dll(string tool)
    {
        var dll = Path.Combine(Root, tool == "pipeline-train" ? "Training/Cli" : "Inference/Cli", "bin", Configuration, "net10.0", tool + ".dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }

    /// <summary>Runs a host from the repository root; returns its exit code, standard output and standard error.</summary>
    public static (int Code, string Out, string Err) Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        start.ArgumentList.Add(Dll(tool));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
