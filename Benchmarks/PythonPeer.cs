using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Benchmarks;

/// <summary>
/// A peer measured by Debian's python3: a script next to the benchmark that prints one "NAME MILLISECONDS" line per
/// measurement. Returns the figures by name, or none (with a line saying why and what installs the peer) when it
/// cannot run.
/// </summary>
static class PythonPeer
{
    public static Dictionary<string, double> Run(string script, IEnumerable<string> arguments, string peer, string package,
        Action<IDictionary<string, string?>>? environment = null)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(AppContext.BaseDirectory, script), .. arguments])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        environment?.Invoke(start.Environment);
        try
        {
            using var python = Process.Start(start)!;
            var stderr = python.StandardError.ReadToEndAsync();
            var lines = python.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            python.WaitForExit();
            if (python.ExitCode != 0) throw new InvalidOperationException(stderr.Result.Trim().Split('\n')[^1]);
            return lines.Select(l => l.Split(' ')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.WriteLine($"  (no {peer} peer: {e.Message}; ./run bench installs {package})");
            return [];
        }
    }
}
