using System.Diagnostics;
using System.Text.Json;
using Pipeline.Shared.Arrays;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>What every command of both hosts does the same way: --version, --help, --json, --threads, exit codes, Ctrl-C.</summary>
public class CommandLineConventionTests
{
    [Theory]
    [InlineData("pipeline-train")]
    [InlineData("pipeline-infer")]
    public void Version_AndHelpWithExamples(string tool)
    {
        var version = Run(tool, "--version");
        Assert.Equal(0, version.Code);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Out.Trim());
        var help = Run(tool, "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("Examples:", help.Out);
        foreach (var option in new[] { "--quiet", "--json", "--threads", "--verbose", "--version" }) Assert.Contains(option, help.Out);
        // every command's help has an example of itself
        var commands = tool == "pipeline-train"
            ? new[] { "nmf", "decompose", "separation", "features", "anomaly", "gmm", "vae", "synth machine", "synth piano" }
            : ["activations", "reconstruct", "score", "separate", "info"];
        foreach (var command in commands)
        {
            var result = Run(tool, [.. command.Split(' '), "--help"]);
            Assert.True(result.Code == 0, result.Err);
            Assert.Contains($"{tool} {command} ", result.Out);
            Assert.Contains("--json", result.Out);
        }
    }

    [Fact]
    public void Json_IsOneObjectOnStandardOutput_AndThreadsAreHonoured()
    {
        var dir = TestData.TempDirectory();
        var (v, _, _) = TestData.Planted(20, 50, rank: 3, seed: 4);
        NpyFile.Write(Path.Combine(dir, "V.npy"), v);
        var model = Path.Combine(dir, "m");
        var train = Run("pipeline-train", "decompose", "--model", "nmf", "--input", Path.Combine(dir, "V.npy"), "--rank", "3", "--max-iter", "20",
            "--out", model, "--json", "--threads", "1", "--quiet");
        Assert.True(train.Code == 0, train.Err);
        Assert.Equal("", train.Err); // --quiet: nothing but errors
        using var summary = JsonDocument.Parse(train.Out);
        Assert.Equal(model, summary.RootElement.GetProperty("model").GetString());
        Assert.Equal(20, summary.RootElement.GetProperty("iterations").GetInt32());
        Assert.True(summary.RootElement.GetProperty("final_loss").GetDouble() < summary.RootElement.GetProperty("initial_loss").GetDouble());

        var infer = Run("pipeline-infer", "activations", "--model", model, "--input", Path.Combine(dir, "V.npy"), "--out", Path.Combine(dir, "H.npy"), "--json", "--threads", "1");
        Assert.True(infer.Code == 0, infer.Err);
        using var result = JsonDocument.Parse(infer.Out);
        Assert.Equal([3, 50], result.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));

        var bad = Run("pipeline-train", "decompose", "--input", Path.Combine(dir, "V.npy"), "--out", Path.Combine(dir, "x"), "--threads", "-2");
        Assert.Equal(1, bad.Code);
        Assert.StartsWith("error: threads must be ≥ 0", bad.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "x")));
    }

    /// <summary>
    /// Starts a host the way a terminal does, with SIGINT at its default disposition (a shell's background jobs
    /// inherit it ignored), sends Ctrl-C once it has written a line and <paramref name="ready"/> holds, and returns the
    /// exit code and standard error.
    /// </summary>
    static (int Code, string Err) Interrupt(string[] args, Func<bool> ready)
    {
        var script = $$"""
            import os, signal, subprocess, sys, time
            p = subprocess.Popen(["dotnet", {{string.Join(", ", args.Select(a => JsonSerializer.Serialize(a)))}}], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
            first = p.stderr.readline().decode()  # the host has started and set up its Ctrl-C handling
            sys.stdout.write(str(p.pid) + "\n"); sys.stdout.flush()
            sys.stdin.readline()
            p.send_signal(signal.SIGINT)
            err = p.communicate(timeout=120)[1].decode()
            sys.stdout.write(str(p.returncode) + "\n" + first + err)
            """;
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        using var python = Process.Start(start)!;
        python.StandardOutput.ReadLine(); // the child's pid, once it has written its first line
        var clock = Stopwatch.StartNew();
        while (!ready() && clock.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(100);
        Thread.Sleep(500);
        python.StandardInput.WriteLine();
        python.StandardInput.Flush();
        var code = int.Parse(python.StandardOutput.ReadLine()!);
        var err = python.StandardOutput.ReadToEnd();
        python.WaitForExit();
        return (code, err);
    }

    [Fact]
    public void CtrlC_StopsAtTheNextStep_AndWritesNothing()
    {
        var dir = TestData.TempDirectory();
        var (v, _, _) = TestData.Planted(200, 400, rank: 5, seed: 2);
        NpyFile.Write(Path.Combine(dir, "V.npy"), v);
        var model = Path.Combine(dir, "never");
        var (code, err) = Interrupt([Dll("pipeline-train"), "decompose", "--model", "nmfd", "--input", Path.Combine(dir, "V.npy"), "--rank", "5",
            "--max-iter", "1000000", "--out", model], () => true);
        Assert.True(code == 130, err);
        Assert.Contains("cancelled; no output was written", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        Assert.False(Directory.Exists(model));
        Assert.Equal([Path.Combine(dir, "V.npy")], Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void CtrlC_DuringAutoencoderTraining_KeepsTheLastCheckpoint()
    {
        var dir = TestData.TempDirectory();
        var data = Path.Combine(dir, "data");
        Assert.Equal(0, Run("pipeline-train", "synth", "machine", "--out", data, "--machines", "1", "--train", "3", "--test-normal", "1", "--anomalies", "0", "--seconds", "1").Code);
        var model = Path.Combine(dir, "ae");
        var checkpoint = model + ".checkpoint";
        var (code, err) = Interrupt([Dll("pipeline-train"), "anomaly", "--data", data, "--epochs", "100000", "--batch-size", "32", "--n-mels", "16",
            "--context", "2", "--hidden", "16,8", "--out", model], () => File.Exists(checkpoint));
        Assert.True(code == 130, err);
        Assert.Contains("continue with --resume", err);
        Assert.True(File.Exists(checkpoint));
        Assert.False(Directory.Exists(model));
    }
}
