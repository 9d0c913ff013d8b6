using System.Diagnostics;
using Pipeline.Shared.Arrays;

namespace Pipeline.Tests;

/// <summary>Seeded data, temporary folders and the external reference tools the tests compare against.</summary>
public static class TestData
{
    /// <summary>Uniform values in [low, low + 1), from a fixed seed.</summary>
    public static NdArray Uniform(int rows, int columns, int seed, float low = 0.05f)
    {
        var random = new Random(seed);
        var data = new float[rows * columns];
        for (var i = 0; i < data.Length; i++) data[i] = low + random.NextSingle();
        return new NdArray([rows, columns], data);
    }

    /// <summary>V = W·H for planted non-negative factors (computed in double precision).</summary>
    public static (NdArray V, NdArray W, NdArray H) Planted(int features, int frames, int rank, int seed)
    {
        var w = Uniform(features, rank, seed);
        var h = Uniform(rank, frames, seed + 1);
        var v = NdArray.Zeros(features, frames);
        for (var f = 0; f < features; f++)
            for (var t = 0; t < frames; t++)
            {
                double s = 0;
                for (var k = 0; k < rank; k++) s += (double)w[f, k] * h[k, t];
                v[f, t] = (float)s;
            }
        return (v, w, h);
    }

    /// <summary>The repository's root: the folder above the tests' output that holds Pipeline.sln.</summary>
    public static readonly string RepositoryRoot = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Pipeline.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Largest |a − b| relative to the largest |b|.</summary>
    public static double MaxRelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, diff = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            diff = Math.Max(diff, Math.Abs(actual[i] - expected[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    /// <summary>Debian's Python (with python3-onnx and numpy), which ./run installs; another python3 may come first on PATH.</summary>
    public const string SystemPython = "/usr/bin/python3";

    /// <summary>Runs a Python script with Debian's interpreter and returns its standard output; fails the test on a non-zero exit.</summary>
    public static string Python(string script)
    {
        Assert.True(File.Exists(SystemPython), $"{SystemPython} is missing; run ./run setup");
        var start = new ProcessStartInfo(SystemPython) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-");
        using var process = Process.Start(start)!;
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"python failed ({process.ExitCode}): {stderr}");
        return stdout.Result;
    }

    /// <summary>Runs Debian's sox (which ./run test installs) with <paramref name="args"/>; fails the test on a non-zero exit.</summary>
    public static void Sox(params string[] args) => Run("sox", args);

    /// <summary>Runs <paramref name="program"/> and returns its standard output; fails the test on a non-zero exit, with its output.</summary>
    public static string Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(" ", args)}: {stderr}{stdout.Result}");
        return stdout.Result;
    }
}
