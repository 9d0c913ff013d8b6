using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Pipeline.Benchmarks;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// The bundle <c>./run publish</c> writes (which <c>./run test</c> runs first), as a user deploys it: copied out of
/// the checkout, run by the .NET runtime alone, scoring the way the command line in the checkout does.
/// </summary>
public class PublishTests(StreamAndServeCommandTests.Model trained) : IClassFixture<StreamAndServeCommandTests.Model>
{
    static string Bundle()
    {
        var dir = Path.Combine(Root, "artifacts", "publish", "pipeline-infer");
        Assert.True(File.Exists(Path.Combine(dir, "pipeline-infer.dll")), $"{dir} holds no bundle; ./run test publishes it first (or: ./run publish)");
        return dir;
    }

    [Fact]
    public void TheBundle_HoldsNoTrainingCode()
    {
        var files = Directory.GetFiles(Bundle(), "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains("pipeline-infer.dll", files);
        Assert.Contains("Pipeline.Inference.dll", files);
        Assert.Contains("libonnxruntime.so", files);
        foreach (var file in files)
            Assert.False(file!.Contains("torch", StringComparison.OrdinalIgnoreCase) || file.Contains("Training") || file.Contains("pipeline-train") || file.Contains("openblas"),
                $"the bundle holds {file}");
        var deps = File.ReadAllText(Path.Combine(Bundle(), "pipeline-infer.deps.json"));
        Assert.DoesNotContain("Pipeline.Training", deps);
        Assert.DoesNotContain("TorchSharp", deps);
    }

    [Fact]
    public async Task ACopyOutsideTheCheckout_ScoresServesAndStreams_AsTheCommandLineDoes()
    {
        // a model and a clip, made with the hosts in the checkout (the fixture)
        var (model, clip) = (trained.Path_, trained.Clip);
        var dir = Path.Combine(Path.GetTempPath(), "pipeline-publish-" + Guid.NewGuid().ToString("N")[..8]);
        var expected = JsonDocument.Parse(Run("pipeline-infer", "score", "--model", model, clip, "--json").Out).RootElement;

        // the bundle, copied out of the checkout, run from a folder outside it
        var copy = Path.Combine(dir, "bundle");
        CopyFolder(Bundle(), copy);
        try
        {
            var score = Start(copy, dir, "score", "--model", model, clip, "--json");
            var scored = JsonDocument.Parse(await score.StandardOutput.ReadToEndAsync()).RootElement;
            await score.WaitForExitAsync();
            Assert.Equal(0, score.ExitCode);
            Assert.Equal(expected.GetProperty("score").GetDouble(), scored.GetProperty("score").GetDouble());

            var stream = Start(copy, dir, "stream", "--model", model);
            await stream.StandardInput.BaseStream.WriteAsync(File.ReadAllBytes(clip));
            stream.StandardInput.Close();
            var last = (await stream.StandardOutput.ReadToEndAsync()).Trim().Split('\n')[^1];
            await stream.WaitForExitAsync();
            Assert.Equal(expected.GetProperty("score").GetDouble(), JsonDocument.Parse(last).RootElement.GetProperty("score").GetDouble(), 1e-5 * expected.GetProperty("score").GetDouble());

            var port = LocalServer.FreePort();
            using var server = Start(copy, dir, "serve", "--model", model, "--port", port.ToString());
            var log = new List<string>();
            server.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Add(e.Data); };
            server.BeginOutputReadLine();
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await LocalServer.WaitUntilReady(client, server, TimeSpan.FromSeconds(30));
            var body = new ByteArrayContent(File.ReadAllBytes(clip));
            body.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
            using var response = await client.PostAsync("/v1/models/ae/score", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var served = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(expected.GetProperty("score").GetDouble(), served.GetProperty("score").GetDouble());
            Assert.Equal(expected.GetProperty("anomaly").GetBoolean(), served.GetProperty("anomaly").GetBoolean());
            Assert.Equal(expected.GetProperty("threshold").GetDouble(), served.GetProperty("threshold").GetDouble());

            // every assembly and native library the server has mapped is the copy's or the .NET runtime's
            var mapped = File.ReadAllLines($"/proc/{server.Id}/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && f[5].StartsWith('/')).Select(f => f[5]).Distinct().ToList();
            Assert.Contains(mapped, m => m.StartsWith(copy) && m.EndsWith("libonnxruntime.so"));
            Assert.DoesNotContain(mapped, m => m.StartsWith(Root + "/"));
            Assert.All(mapped.Where(m => m.EndsWith(".dll")), m => Assert.True(m.StartsWith(copy) || m.Contains("/shared/Microsoft."), m));

            // SIGTERM: a graceful stop, exit 0, the request in the log
            Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
            Assert.True(server.WaitForExit(30_000));
            server.WaitForExit(); // and the last lines of its output read
            Assert.Equal(0, server.ExitCode);
            lock (log) Assert.Contains(log, l => l.Contains("\"Endpoint\":\"score\"") && l.Contains("\"Status\":200"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    static Process Start(string bundle, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Path.Combine(bundle, "pipeline-infer.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("LD_LIBRARY_PATH");
        return Process.Start(start)!;
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(from)) CopyFolder(sub, Path.Combine(to, Path.GetFileName(sub)));
    }
}
