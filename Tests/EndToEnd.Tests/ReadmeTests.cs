using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// The README's commands run as written: every <c>$ </c> line of its console blocks (the tour) in one shell, in a
/// fresh folder with the hosts on the PATH, each line's shown output checked where it cannot vary; then its
/// embedding example compiled and run against the models the tour made. Only ./run's own commands are left to the
/// tests and CI that run them (./run test, and DemoTests for the demo).
/// </summary>
public class ReadmeTests
{
    static string Readme => File.ReadAllText(Path.Combine(Root, "README.md"));

    /// <summary>The fenced blocks of one language, in order.</summary>
    static List<string> Blocks(string language) =>
        [.. Regex.Matches(Readme, "^```" + language + "\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline).Select(m => m.Groups[1].Value)];

    /// <summary>Each command of the console blocks with the output lines shown under it.</summary>
    static List<(string Command, List<string> Shown)> Commands()
    {
        var commands = new List<(string, List<string>)>();
        foreach (var block in Blocks("console"))
            foreach (var line in block.Split('\n'))
                if (line.StartsWith("$ ")) commands.Add((line[2..], []));
                else if (line.Length > 0 && commands.Count > 0) commands[^1].Item2.Add(line);
        return commands;
    }

    static (int Code, string Out, string Err) Bash(string script, string directory)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    static readonly Lazy<string> Tour = new(RunTour);

    /// <summary>Runs the tour in a new folder; returns the folder.</summary>
    static string RunTour()
    {
        var dir = TestData.TempDirectory();
        // launchers as ./run setup writes them, for this build
        var bin = Directory.CreateDirectory(Path.Combine(dir, "artifacts", "bin")).FullName;
        foreach (var (tool, project) in new[] { ("pipeline-train", "Training/Cli"), ("pipeline-infer", "Inference/Cli") })
        {
            var launcher = Path.Combine(bin, tool);
            File.WriteAllText(launcher, $"#!/usr/bin/env bash\nexec dotnet \"{Path.Combine(Root, project, "bin", Configuration, "net10.0", tool + ".dll")}\" \"$@\"\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(launcher, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var commands = Commands();
        Assert.Equal(["./run setup", "./run demo"], commands.Where(c => c.Command.StartsWith("./run ")).Select(c => c.Command));
        var script = new StringBuilder("set -e\n");
        var index = 0;
        foreach (var (command, _) in commands.Where(c => !c.Command.StartsWith("./run ")))
            script.Append($"echo '@@ {index++}'; echo '@@ {index - 1}' >&2\n{command} 2>&1\n");
        var (code, stdout, stderr) = Bash(script.ToString(), dir);
        Assert.True(code == 0, $"the tour stopped (exit {code}):\n{stdout}\n{stderr}");
        File.WriteAllText(Path.Combine(dir, "tour.log"), stdout);
        return dir;
    }

    [Fact]
    public void Tour_RunsAsWritten_AndPrintsWhatItShows()
    {
        var dir = Tour.Value;
        var log = File.ReadAllText(Path.Combine(dir, "tour.log"));
        var outputs = Regex.Split(log, @"^@@ \d+\n", RegexOptions.Multiline).Skip(1).ToList();
        var commands = Commands().Where(c => !c.Command.StartsWith("./run ")).ToList();
        Assert.Equal(commands.Count, outputs.Count);
        for (var i = 0; i < commands.Count; i++)
        {
            var printed = outputs[i].Split('\n').Select(l => l.TrimEnd()).ToHashSet();
            // lines with measured or floating-point values, elisions or a progress bar may differ from run to run
            foreach (var shown in commands[i].Shown.Where(l => !Regex.IsMatch(l, @"\d\.\d|…|━")))
                Assert.True(printed.Contains(shown.TrimEnd()), $"'{commands[i].Command}' did not print '{shown}'; it printed:\n{outputs[i]}");
        }
        Assert.True(File.Exists(Path.Combine(dir, "artifacts", "models", "piano-nmf", "manifest.json")));
    }

    /// <summary>
    /// The reference's synopses (text blocks and inline code) use placeholder files, so they are not run; instead
    /// every option they name must be one the command's --help lists, which keeps the README and the hosts in step.
    /// </summary>
    [Fact]
    public void Synopses_NameOnlyOptionsTheCommandsHave()
    {
        var lines = Blocks("text").SelectMany(b => b.Split('\n'))
            .Concat(Regex.Matches(Readme, "`(pipeline-(?:train|infer) [^`]+)`").Select(m => Regex.Replace(m.Groups[1].Value, @"\s+", " ")))
            .Where(l => l.StartsWith("pipeline-train ") || l.StartsWith("pipeline-infer "))
            .ToList();
        Assert.True(lines.Count >= 15, $"{lines.Count} synopses");
        var helps = new Dictionary<string, string>();
        foreach (var line in lines)
        {
            var words = line.Split(' ');
            var command = string.Join(" ", words.Skip(1).TakeWhile(w => Regex.IsMatch(w, "^[a-z]+$")));
            var key = words[0] + " " + command;
            if (!helps.TryGetValue(key, out var help))
            {
                var result = Run(words[0], [.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
                Assert.True(result.Code == 0 && result.Out.Contains("Usage:"), $"'{key} --help' failed: {result.Err}");
                helps[key] = help = result.Out;
            }
            foreach (var option in Regex.Matches(line, "--[a-z][a-z0-9-]*").Select(m => m.Value))
                Assert.True(Regex.IsMatch(help, $@"(^|[\s,]){Regex.Escape(option)}(\s|$|,)", RegexOptions.Multiline), $"README: '{line}' names {option}, which '{key}' does not have");
        }
    }

    [Fact]
    public void EmbeddingExample_CompilesAndRuns()
    {
        var dir = Tour.Value;
        var example = Blocks("csharp").Single(b => b.Contains("new AnomalyScorer(\"artifacts/models/machine-gmm\""));
        var project = Directory.CreateDirectory(Path.Combine(TestData.TempDirectory(), "embedding")).FullName;
        File.WriteAllText(Path.Combine(project, "Program.cs"), example);
        // the built inference library and its dependencies (as the inference host's build folder holds them),
        // referenced as files so that this test builds nothing inside the repository
        var libraries = Path.Combine(Root, "Inference", "Cli", "bin", Configuration, "net10.0");
        var references = string.Join("\n", Directory.GetFiles(libraries, "*.dll")
            .Where(d => !d.EndsWith("pipeline-infer.dll") && !d.Contains("CommandLine") && !d.Contains("OnnxRuntime") && !d.Contains("System.Numerics.Tensors"))
            .Select(d => $"<Reference Include=\"{Path.GetFileNameWithoutExtension(d)}\"><HintPath>{d}</HintPath></Reference>"));
        // ONNX Runtime as the README's project file takes it: the package with the natives
        var onnxRuntime = Regex.Match(Readme, "<PackageReference Include=\"Microsoft.ML.OnnxRuntime\" Version=\"[^\"]+\" />").Value;
        Assert.NotEmpty(onnxRuntime);
        // what a project reference to the library brings along as a package (ONNX Runtime asks for an older one)
        onnxRuntime += "<PackageReference Include=\"System.Numerics.Tensors\" Version=\"11.0.0\" />";
        File.WriteAllText(Path.Combine(project, "embedding.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
              <ItemGroup>{references}{onnxRuntime}</ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Directory.Build.props"), "<Project />"); // nothing from the folders above
        File.WriteAllText(Path.Combine(project, "Directory.Packages.props"), "<Project />");
        var build = Bash("dotnet build -nologo -v q -o out 2>&1", project);
        Assert.True(build.Code == 0, build.Out + build.Err);
        var run = Bash($"dotnet \"{Path.Combine(project, "out", "embedding.dll")}\"", dir);
        Assert.True(run.Code == 0, run.Out + run.Err);
        Assert.Matches(@"^score \d+\.\d \(threshold \d+\.\d\): anomalous\nH \(8, 646\), W·H \(1025, 646\)\n$", run.Out);
    }
}
