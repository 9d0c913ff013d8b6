using System.Diagnostics;
using System.Globalization;
using Pipeline.Shared.Arrays;

namespace Pipeline.Benchmarks;

/// <summary>
/// scikit-learn's time per iteration on the same data, from Debian's python3-sklearn (<c>sklearn_peer.py</c>), run
/// after our own measurement so the two never share the cores. <c>OPENBLAS_CORETYPE</c> and <c>OPENBLAS_L2_SIZE</c>
/// are removed from its environment, so numpy's OpenBLAS picks its kernels itself.
/// </summary>
static class ScikitLearnPeer
{
    /// <summary>Milliseconds per iteration by setting ("2", "diag", ...), empty (with a line saying why) when it cannot run.</summary>
    public static Dictionary<string, double> PerIteration(string kind, NdArray data, IEnumerable<string> settings)
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-bench-");
        try
        {
            var path = Path.Combine(directory.FullName, "data.npy");
            NpyFile.Write(path, data);
            var script = Path.Combine(AppContext.BaseDirectory, "sklearn_peer.py");
            var start = new ProcessStartInfo("/usr/bin/python3", [script, kind, path, .. settings]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment.Remove("OPENBLAS_CORETYPE");
            start.Environment.Remove("OPENBLAS_L2_SIZE");
            using var python = Process.Start(start)!;
            var stderr = python.StandardError.ReadToEndAsync();
            var lines = python.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            python.WaitForExit();
            if (python.ExitCode != 0) throw new InvalidOperationException(stderr.Result.Trim().Split('\n')[^1]);
            return lines.Select(l => l.Split(' ')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.WriteLine($"  (no scikit-learn peer: {e.Message}; ./run bench installs python3-sklearn)");
            return [];
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
