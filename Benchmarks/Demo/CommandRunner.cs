using System.Diagnostics;

namespace Pipeline.Benchmarks.Demo;

/// <summary>
/// Runs the toolkit's own command-line hosts (the launchers in <c>artifacts/bin/</c>) from the repository root,
/// exactly as a user would, and keeps every command so the report can show how to reproduce each part.
/// </summary>
sealed class CommandRunner(string root, bool quiet)
{
    /// <summary>The commands run so far, by the part of the demo they belong to.</summary>
    public List<(string Part, string Command)> Commands { get; } = [];

    /// <summary>Runs <paramref name="tool"/> with <paramref name="arguments"/>; returns its standard output. Its progress goes to our standard error.</summary>
    public string Run(string part, string tool, params string[] arguments)
    {
        var shown = tool + " " + string.Join(" ", arguments.Select(Quote));
        Commands.Add((part, shown));
        if (!quiet) Console.Error.WriteLine($"$ {shown}");
        var start = new ProcessStartInfo(Path.Combine(root, "artifacts", "bin", tool))
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = quiet, UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new DemoException($"could not start {tool}");
        var error = quiet ? process.StandardError.ReadToEndAsync() : Task.FromResult("");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new DemoException($"'{shown}' failed with exit code {process.ExitCode}{(quiet ? ":\n" + error.Result.Trim() : "")}");
        return output;
    }

    static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./=,:".Contains(c)) ? argument : "'" + argument.Replace("'", "'\\''") + "'";
}

/// <summary>A demo step failed; the message says which command and why.</summary>
sealed class DemoException(string message) : Exception(message);
