using System.Diagnostics;
using System.Text;
using System.Xml.Linq;
using Pipeline.Shared.Arrays;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// The whole demo at small sizes, as ./run demo runs it, then its report taken apart: the page is well-formed and
/// self-contained, every embedded PNG decodes (and the piano roll shows the true notes in the right cells), every
/// SVG parses with readable axes, every sound is a WAV, and headless Chromium loads every image.
/// </summary>
public class DemoTests
{
    static readonly Lazy<(int Code, string Out, string Err, string Dir)> Demo = new(RunDemo);

    static (int, string, string, string) RunDemo()
    {
        var dir = TestData.TempDirectory();
        var dll = Path.Combine(Root, "Benchmarks", "bin", Configuration, "net10.0", "Pipeline.Benchmarks.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        foreach (var a in new[] { dll, "demo", "--small", "--quiet", "--root", dir }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr, dir);
    }

    static XDocument Report()
    {
        var (code, _, err, dir) = Demo.Value;
        Assert.True(code == 0, err);
        return ReportPage.Parse(File.ReadAllText(Path.Combine(dir, "artifacts", "reports", "index.html")));
    }

    [Fact]
    public void Demo_EndsWithWhereThingsAreAndATwoLineSummary()
    {
        var (code, stdout, err, dir) = Demo.Value;
        Assert.True(code == 0, err);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("report: artifacts/reports/index.html", lines[0]);
        Assert.Matches(@"^notes \(held-out, frame level\): NMF F \d\.\d\d, NMFD F \d\.\d\d; voices SDR low -?\d+\.\d dB, high -?\d+\.\d dB$", lines[1]);
        Assert.Matches(@"^anomaly AUC: autoencoder \d\.\d{3}, autoencoder, band-normalised \d\.\d{3}, IDNN \d\.\d{3}, ID classifier \d\.\d{3}, clip statistics \d\.\d{3}, VAE \d\.\d{3}, GMM \d\.\d{3} \(best [\w ,-]+\); done in \d\d:\d\d$", lines[2]);
        foreach (var model in new[] { "piano-nmf", "piano-nmfd", "piano-voices", "machine-ae", "machine-ae-norm", "machine-idnn", "machine-id-classifier", "machine-clip-stats", "machine-vae", "machine-gmm" })
            Assert.True(File.Exists(Path.Combine(dir, "artifacts", "models", model, "manifest.json")), model);
        foreach (var voice in new[] { "low", "high" })
            Assert.True(File.Exists(Path.Combine(dir, "artifacts", "demo", "piano", "separated", voice + ".wav")), voice);
    }

    [Fact]
    public void Report_IsSelfContained_AndEveryPictureDecodes()
    {
        var page = Report();
        XNamespace none = "";
        // nothing is fetched: every source is embedded, every link points inside the page
        foreach (var attribute in page.Descendants().Attributes().Where(a => a.Name == "src" || a.Name == "href"))
            Assert.True(attribute.Value.StartsWith("data:") || attribute.Value.StartsWith('#'), $"{attribute.Parent!.Name} {attribute.Name}={attribute.Value[..Math.Min(60, attribute.Value.Length)]}");
        var images = page.Descendants("img").ToList();
        Assert.True(images.Count >= 20, $"{images.Count} images");
        int pngs = 0, svgs = 0;
        foreach (var image in images)
        {
            var src = image.Attribute("src")!.Value;
            if (src.StartsWith("data:image/png"))
            {
                // read by python3-pil: decodes (CRCs checked), has a size, and is not blank
                var png = ImageProbe.Read(ReportPage.DataUri(src, "image/png"));
                Assert.True(png.Width > 100 && png.Height > 100 && png.Colors > 2, $"{image.Attribute("alt")!.Value}: {png.Width} × {png.Height}, {png.Colors} colours");
                pngs++;
            }
            else
            {
                var svg = XDocument.Parse(Encoding.UTF8.GetString(ReportPage.DataUri(src, "image/svg+xml")));
                XNamespace ns = "http://www.w3.org/2000/svg";
                Assert.Equal(ns + "svg", svg.Root!.Name);
                // a chart a person can read: a title, axis labels and tick labels
                Assert.True(svg.Descendants(ns + "text").Count() >= 5, image.Attribute("alt")!.Value);
                svgs++;
            }
        }
        Assert.True(pngs >= 10 && svgs >= 10, $"{pngs} PNG, {svgs} SVG");
        // the GMM's convergence is an animation, one frame per EM iteration
        var animation = images.Single(i => i.Attribute("alt")!.Value.Contains("animated"));
        Assert.True(ImageProbe.Read(ReportPage.DataUri(animation.Attribute("src")!.Value, "image/png")).Frames > 1);
        foreach (var audio in page.Descendants("audio"))
            Assert.Equal("RIFF", Encoding.ASCII.GetString(ReportPage.DataUri(audio.Attribute("src")!.Value, "audio/wav"), 0, 4));
        Assert.Equal(3, page.Descendants("audio").Count());
        // every manifest and the commands are in the page
        Assert.Equal(11, page.Descendants("details").Count()); // one manifest per model folder
        // the detectors side by side per fault kind: one row each, a column per kind
        var perKind = page.Descendants("table").Single(t => t.Element("caption")?.Value.StartsWith("AUC per fault kind") == true);
        Assert.Equal(["autoencoder", "autoencoder, band-normalised", "IDNN", "ID classifier", "clip statistics", "VAE", "GMM"], perKind.Descendants("tbody").Descendants("tr").Select(r => r.Elements("td").First().Value));
        Assert.Equal(12, perKind.Descendants("th").Count()); // model + 11 kinds
        Assert.Contains(page.Descendants("pre"), p => p.Value.Contains("pipeline-infer score --model artifacts/models/machine-vae"));
    }

    [Fact]
    public void Report_PianoRoll_IsDrawnInTheSoundingColour_AtTheAskedSize()
    {
        // the roll's cells are checked pixel by pixel in PianoRollFigure's own test; here, that the demo drew it
        var page = Report();
        var picture = page.Descendants("img").Single(i => i.Attribute("alt")!.Value.StartsWith("held-out piano roll (truth)"));
        var png = ImageProbe.Read(ReportPage.DataUri(picture.Attribute("src")!.Value, "image/png"));
        Assert.Equal((900, 320), (png.Width, png.Height));
        // PianoRollFigure.Sounding, #5A5A5A
        var cells = Enumerable.Range(0, png.Width * png.Height).Count(i => png.Rgb[3 * i] == 90 && png.Rgb[3 * i + 1] == 90 && png.Rgb[3 * i + 2] == 90);
        Assert.True(cells > 1000, $"{cells} pixels in the sounding colour");
    }

    [Fact]
    public void Report_LoadsEveryImage_InHeadlessChromium()
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), "Chromium is not installed; ./run setup installs Debian's chromium");
        var (code, _, err, dir) = Demo.Value;
        Assert.True(code == 0, err);
        var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + Path.Combine(dir, "artifacts", "reports", "index.html") })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { }; // chromium's own log lines are not needed
        process.BeginErrorReadLine();
        var dom = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "chromium did not finish in 2 minutes");
        var body = System.Text.RegularExpressions.Regex.Match(dom, "<body[^>]*>").Value;
        var loaded = System.Text.RegularExpressions.Regex.Match(body, "data-images-loaded=\"(\\d+)\"");
        var total = System.Text.RegularExpressions.Regex.Match(body, "data-images-total=\"(\\d+)\"");
        Assert.True(loaded.Success && total.Success, $"the page's load script did not run: {body}");
        Assert.Equal(Report().Descendants("img").Count(), int.Parse(total.Groups[1].Value));
        Assert.Equal(total.Groups[1].Value, loaded.Groups[1].Value);
    }
}
