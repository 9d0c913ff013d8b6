using System.Diagnostics;

namespace Pipeline.Benchmarks.Demo;

/// <summary>
/// Runs the toolkit's own command-line hosts (the builds that <c>artifacts/bin/</c>'s launchers start) in the working
/// directory, exactly as a user would, and keeps every command so the report can show how to reproduce each part.
/// </summary>
sealed class CommandRunner(string repository, string workingDirectory, bool quiet)
{
    /// <summary>The commands run so far, by the part of the demo they belong to.</summary>
    public List<(string Part, string Command)> Commands { get; } = [];

    /// <summary>Seconds the hosts reported drawing pictures (<c>pictures_seconds</c> of their <c>--json</c> summaries).</summary>
    public double PictureSeconds { get; private set; }

    /// <summary>Runs <paramref name="tool"/> with <paramref name="arguments"/>; returns its standard output. Its progress goes to our standard error.</summary>
    public string Run(string part, string tool, params string[] arguments)
    {
        var shown = tool + " " + string.Join(" ", arguments.Select(Quote));
        Commands.Add((part, shown));
        if (!quiet) Console.Error.WriteLine($"$ {shown}");
        var project = tool == "pipeline-train" ? "Training/Cli" : "Inference/Cli";
        var dll = Path.Combine(repository, project, "bin", Configuration, "net10.0", tool + ".dll");
        if (!File.Exists(dll)) throw new DemoException($"{dll} is not built; run ./run setup");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = quiet, UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new DemoException($"could not start {tool}");
        var error = quiet ? process.StandardError.ReadToEndAsync() : Task.FromResult("");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new DemoException($"'{shown}' failed with exit code {process.ExitCode}{(quiet ? ":\n" + error.Result.Trim() : "")}");
        if (tool == "pipeline-train" && arguments.Contains("--json") && output.TrimStart().StartsWith('{'))
        {
            using var summary = System.Text.Json.JsonDocument.Parse(output);
            if (summary.RootElement.TryGetProperty("pictures_seconds", out var seconds)) PictureSeconds += seconds.GetDouble();
        }
        return output;
    }

    // the hosts are run from the same build configuration as this program
    static readonly string Configuration = AppContext.BaseDirectory.Contains("/bin/Debug/") ? "Debug" : "Release";

    static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./=,:".Contains(c)) ? argument : "'" + argument.Replace("'", "'\\''") + "'";
}

/// <summary>A demo step failed; the message says which command and why.</summary>
sealed class DemoException(string message) : Exception(message);
