using System.Text;
using System.Xml.Linq;
using Pipeline.Training.Plots;
using Pipeline.Training.Reports;
using Pipeline.Tests;

namespace Pipeline.Training.Tests;

public class HtmlReportTests
{
    [Fact]
    public void Report_IsWellFormed_WithEmbeddedPicturesThatDecodeToWhatWasGiven()
    {
        var chart = LineChart.Draw("a <chart> & more", "x", "y", [new Series("line", [(0, 0), (1, 1)])]);
        var png = Figure.Png(chart, 120, 90);
        var svg = Figure.Svg(chart, 120, 90);
        var html = new HtmlReport("Title with <angle> & ampersand")
            .Section("one", "First & foremost", "Text with <b>markup</b> that stays text.")
            .Png("a picture", png)
            .Svg("a chart", svg)
            .Table(["name", "value"], [["a<b", "1"], ["c&d", "2"]], "a table")
            .Section("two", "Second")
            .Code("pipeline-train nmf --input 'V.npy' > log", "commands")
            .Render();
        var page = ReportPage.Parse(html);
        Assert.Equal("Title with <angle> & ampersand", page.Descendants("title").Single().Value);
        Assert.Equal(["#one", "#two"], page.Descendants("nav").Descendants("a").Select(a => a.Attribute("href")!.Value));
        Assert.Equal("Text with <b>markup</b> that stays text.", page.Descendants("p").First().Value);
        Assert.Empty(page.Descendants("b"));
        var images = page.Descendants("img").ToList();
        Assert.Equal(2, images.Count);
        var embedded = ReportPage.DataUri(images[0].Attribute("src")!.Value, "image/png");
        Assert.Equal(png, embedded);
        var probed = ImageProbe.Read(embedded);
        Assert.Equal((120, 90), (probed.Width, probed.Height));
        Assert.Equal(svg, Encoding.UTF8.GetString(ReportPage.DataUri(images[1].Attribute("src")!.Value, "image/svg+xml")));
        Assert.Equal(["a<b", "1", "c&d", "2"], page.Descendants("td").Select(td => td.Value));
        Assert.Equal("pipeline-train nmf --input 'V.npy' > log", page.Descendants("pre").Single().Value);
        Assert.Equal("commands", page.Descendants("summary").Single().Value);
        // figures in a row share one grid; a table ends it
        Assert.Single(page.Descendants("div"), d => d.Attribute("class")?.Value == "grid");
    }

    [Fact]
    public void Save_WritesThePageAtomically()
    {
        var path = Path.Combine(TestData.TempDirectory(), "report.html");
        new HtmlReport("t").Section("s", "S").Save(path);
        Assert.Equal(new HtmlReport("t").Section("s", "S").Render(), File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }
}
