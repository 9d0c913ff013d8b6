using System.Xml.Linq;
using Pipeline.Training.Plots;

namespace Pipeline.Training.Tests;

public class PlotTests
{
    [Fact]
    public void Ticks_AreNiceSteps()
    {
        Assert.Equal([0, 0.2, 0.4, 0.6, 0.8, 1.0], SvgChart.Ticks(0, 1).Select(t => Math.Round(t, 9)));
        Assert.Equal([20, 40, 60, 80], SvgChart.Ticks(13, 95));
        Assert.Equal([-0.001, -0.0005, 0, 0.0005, 0.001], SvgChart.Ticks(-0.0012, 0.0013).Select(t => Math.Round(t, 12)));
    }

    [Fact]
    public void Chart_IsWellFormedSvgWithItsLabelsAndSeries()
    {
        var svg = new SvgChart("Loss <per> epoch", "epoch", "loss")
            .Line("training", [(1, 3.0), (2, 2.0), (3, 1.5)])
            .Histogram("scores", [0.1, 0.2, 0.2, 0.9], SvgChart.Bins([0.1, 0.9], 4))
            .Point("threshold", 2, 2)
            .Render();
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("Loss <per> epoch", texts);
        Assert.Contains("epoch", texts);
        Assert.Contains("training", texts);
        Assert.Contains("threshold", texts);
        Assert.Single(doc.Descendants(ns + "polyline"));
        // bins [0.1, 0.3) [0.3, 0.5) [0.5, 0.7) [0.7, 0.9]: three values in the first, one in the last, two bars
        Assert.Equal(2, doc.Descendants(ns + "rect").Count(r => (string?)r.Attribute("fill-opacity") == "0.55"));
    }
}
