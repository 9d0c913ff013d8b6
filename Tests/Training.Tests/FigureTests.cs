using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Plots;
using ScottPlot;

namespace Pipeline.Training.Tests;

/// <summary>
/// Every kind of figure, read back by an independent decoder (python3-pil): the size asked for, not blank, the
/// colours where the data puts them, the labels and units in the SVG's text, the same bytes every time, and the
/// awkward inputs (empty, constant, all-zero, NaN, one frame) drawn or skipped with a reason, never a crash.
/// </summary>
public class FigureTests
{
    static NdArray Ramp(int rows, int columns) =>
        new([rows, columns], Enumerable.Range(0, rows * columns).Select(i => (float)Math.Pow(10, -3.0 * (i / columns) / Math.Max(rows - 1, 1))).ToArray());

    [Fact]
    public void HeatMap_PutsRowZeroAtTheBottom_InDecibelsOnViridis_WithUnitsAndAColourBar()
    {
        // row 0 at full scale (0 dB, yellow), the top row 60 dB down (the floor, purple)
        var (plot, warning) = HeatMapFigure.Draw(Ramp(4, 10), "A ramp", HeatMapAxis.Hertz(16000, 8), HeatMapAxis.Seconds(160, 16000));
        Assert.Null(warning);
        var png = Figure.Png(plot!, 640, 360);
        var image = ImageProbe.Read(png);
        Assert.Equal(("PNG", 640, 360, 1), (image.Format, image.Width, image.Height, image.Frames));
        // cell centres in data units: x = (c + ½)·10 ms, y = (r + ½)·2000 Hz
        Pixel Centre(int row) => plot!.GetPixel(new Coordinates(0.05, (row + 0.5) * 2000));
        var bottom = image[(int)Centre(0).X, (int)Centre(0).Y];
        var top = image[(int)Centre(3).X, (int)Centre(3).Y];
        Assert.True(bottom.R > 200 && bottom.G > 200 && bottom.B < 80, $"row 0 should be viridis yellow, is {bottom}");
        Assert.True(top.R < 90 && top.G < 30 && top.B > 60, $"the floor should be viridis purple, is {top}");
        var svg = Figure.Svg(plot!, 640, 360);
        foreach (var text in new[] { "A ramp", "time (s)", "frequency (Hz)", "level (dB re max)", "-60", "0.08" })
            Assert.Contains(text, svg);
    }

    [Fact]
    public void HeatMap_CellsSpanWholeSteps_OnAnIndexAxis()
    {
        // 4 frames at 0, −20, −40, −60 dB: frame i must fill [i, i + 1)
        var matrix = new NdArray([2, 4], [1f, 0.1f, 0.01f, 0.001f, 1f, 0.1f, 0.01f, 0.001f]);
        var (plot, _) = HeatMapFigure.Draw(matrix, "steps", HeatMapAxis.Index("bin"), HeatMapAxis.Index("frame"));
        var image = ImageProbe.Read(Figure.Png(plot!, 600, 300));
        (byte R, byte G, byte B) At(double frame) { var p = plot!.GetPixel(new Coordinates(frame, 1.0)); return image[(int)p.X, (int)p.Y]; }
        for (var frame = 0; frame < 4; frame++)
        {
            Assert.Equal(At(frame + 0.1), At(frame + 0.9)); // one colour across the whole cell
            if (frame > 0) Assert.NotEqual(At(frame - 0.5), At(frame + 0.5)); // and another in the next
        }
        Assert.True(At(0.5).G > 200 && At(3.5).G < 30, $"0 dB {At(0.5)}, −60 dB {At(3.5)}");
        // counted axes label each cell at its centre: frames 0-3, not 0-4 at the edges
        var ticks = plot!.Axes.Bottom.TickGenerator.Ticks.Where(t => t.IsMajor).ToList();
        Assert.Equal(["0", "1", "2", "3"], ticks.Select(t => t.Label));
        Assert.Equal([0.5, 1.5, 2.5, 3.5], ticks.Select(t => t.Position));
        // a long axis: about ten labels, every 1, 2, 5, 10, 20, 50, ... cells
        var (wide, _) = HeatMapFigure.Draw(new NdArray([2, 5000], new float[10000]), "wide", HeatMapAxis.Index("bin"), HeatMapAxis.Index("frame"));
        Figure.Png(wide!, 400, 200); // ticks are laid out by a render
        var labels = wide!.Axes.Bottom.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Label).ToList();
        Assert.Equal(["0", "500", "1000"], labels.Take(3));
        Assert.InRange(labels.Count, 5, 11);
    }

    [Fact]
    public void TickLabels_KeepThePrecisionTheirValuesNeed()
    {
        Assert.Equal(["1505.5", "1506", "2E-14", "0.3", "0", "-60"], new[] { 1505.5, 1506, 2e-14, 0.1 + 0.2, 0, -60 }.Select(Figure.TickLabel));
    }

    [Fact]
    public void HeatMap_AwkwardMatrices_AreDrawnWithAReason_OrSkippedWithOne()
    {
        var dir = TestData.TempDirectory();
        var rows = HeatMapAxis.Index("bin");
        var columns = HeatMapAxis.Index("frame");
        var nan = Ramp(5, 6);
        nan.Data[7] = float.NaN;
        var cases = new (string Name, NdArray Matrix)[]
        {
            ("zero", new NdArray([5, 6], new float[30])),
            ("constant", new NdArray([5, 6], Enumerable.Repeat(3f, 30).ToArray())),
            ("nan", nan),
            ("one-frame", Ramp(5, 1)),
            ("one-cell", new NdArray([1, 1], [2f])),
            ("infinite", new NdArray([2, 2], [1f, float.PositiveInfinity, 0f, 1f])),
        };
        var centres = new List<Pixel>();
        foreach (var (name, matrix) in cases)
        {
            var (plot, warning) = HeatMapFigure.Draw(matrix, name, rows, columns);
            Assert.Null(warning);
            Figure.WritePng(plot!, Path.Combine(dir, name + ".png"), 320, 200);
            centres.Add(plot!.GetPixel(new Coordinates(0.5, 0.5))); // the middle of cell (0, 0), after that render's layout
        }
        var images = ImageProbe.Read([.. cases.Select(c => Path.Combine(dir, c.Name + ".png"))]);
        Assert.All(images, i => Assert.True(i.Width == 320 && i.Height == 200 && i.Colors > 2, $"{i.Width} × {i.Height}, {i.Colors} colours"));
        // every matrix, one frame or one cell included, is drawn: cell (0, 0) is painted, not the white background
        foreach (var (image, centre, name) in images.Zip(centres, cases.Select(c => c.Name)))
            Assert.True(image[(int)centre.X, (int)centre.Y] != ((byte)255, (byte)255, (byte)255), $"{name}: cell (0, 0) at {centre} is white");
        Assert.Contains("all zero", Figure.Svg(HeatMapFigure.Draw(cases[0].Matrix, "zero", rows, columns).Plot!));
        Assert.Contains("1 NaN cells in grey", Figure.Svg(HeatMapFigure.Draw(nan, "nan", rows, columns).Plot!));
        // nothing to draw: a reason, and no file
        var empty = HeatMapFigure.Write(Path.Combine(dir, "empty.png"), new NdArray([0, 4], []), "empty", rows, columns);
        Assert.Contains("nothing to draw", empty);
        Assert.False(File.Exists(Path.Combine(dir, "empty.png")));
    }

    [Fact]
    public void Figures_AreTheSameBytes_EveryTime()
    {
        byte[] Png() => Figure.Png(HeatMapFigure.Draw(Ramp(6, 9), "same", HeatMapAxis.Index("bin"), HeatMapAxis.Index("frame")).Plot!, 300, 200);
        string Svg() => Figure.Svg(LineChart.Draw("same", "epoch", "loss", [Series.PerStep("training", [3, 2, 1.5, 1.2])]), 300, 200);
        for (var i = 0; i < 12; i++) Svg(); // ScottPlot's clip-path counter runs past 9 (its names are not decimal)
        Assert.Equal(Png(), Png());
        Assert.Equal(Svg(), Svg());
    }

    [Fact]
    public void LineChart_TakesALogAxis_WhenTheLossSpansDecades_AndDropsNonFinitePoints()
    {
        var falling = LineChart.Draw("Loss", "epoch", "MSE", [Series.PerStep("training", [1000, 100, 10, 1, 0.1]), Series.PerStep("validation", [1200, double.NaN, 12, 2, 0.3], dashed: true)]);
        var svg = Figure.Svg(falling);
        Assert.Contains("MSE (log scale)", svg);
        Assert.Contains("validation", svg);
        Assert.DoesNotContain("log scale", Figure.Svg(LineChart.Draw("Loss", "epoch", "MSE", [Series.PerStep("training", [3, 2, 1.5])])));
        Assert.DoesNotContain("log scale", Figure.Svg(LineChart.Draw("ELBO", "epoch", "value", [Series.PerStep("training", [100, 1, -5])])));
        // one series: no legend to cover it; a loss that only wobbles in float noise: an axis whose ticks differ
        var steady = LineChart.Draw("Loss", "iteration", "loss", [Series.PerStep("training data", [186592.1, 186592.1, 186592.11])]);
        Assert.False(steady.Legend.IsVisible);
        var limits = steady.Axes.GetLimits();
        Assert.Equal(2 * 1e-3 * 186592.1, limits.Top - limits.Bottom, 1e-3);
        var image = ImageProbe.Read(Figure.Png(falling, 500, 300));
        Assert.True(image.Width == 500 && image.Height == 300 && image.Colors > 2);
        // an empty series is an empty chart, not a crash
        Assert.True(ImageProbe.Read(Figure.Png(LineChart.Draw("nothing", "x", "y", [Series.PerStep("none", [])]), 200, 150)).Colors > 1);
    }

    [Fact]
    public void RocChart_MarksTheAuc_ThePartialAucRegion_AndTheThresholdsOperatingPoint()
    {
        double[] normal = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
        double[] anomalous = [0.65, 0.75, 0.85, 0.95, 1.05];
        var svg = Figure.Svg(RocChart.Draw("ROC", [new RocCurve("detector", normal, anomalous, Threshold: 0.72)], maxFpr: 0.1));
        Assert.Contains($"detector (AUC {DetectionMetrics.Auc(normal, anomalous):F3})", svg);
        Assert.Contains($"pAUC {DetectionMetrics.PartialAuc(normal, anomalous, 0.1):F3}", svg);
        Assert.Contains("pAUC region (FPR ≤ 0.1)", svg);
        // above 0.72: 3 of 10 normal clips, 4 of 5 anomalous ones
        Assert.Contains("threshold 0.72 (FPR 0.30, TPR 0.80)", svg);
        Assert.Throws<ArgumentException>(() => RocChart.Draw("ROC", [new RocCurve("empty", [], anomalous)]));
        // a poor detector whose curve has no point inside (0, 0.1]: the pAUC area still reaches FPR 0.1
        var poor = RocChart.Draw("ROC", [new RocCurve("poor", [1, 2, 3, 4], [2.5, 0.5])], maxFpr: 0.1);
        var fill = Assert.Single(poor.GetPlottables(), p => p.GetType().Name == "FillY");
        Assert.Equal(0.1, fill.GetAxisLimits().Right, 1e-12);
    }

    [Fact]
    public void ScoreHistogram_ShowsBothClassesAndTheThreshold_AndSurvivesOneClassOrOneValue()
    {
        var svg = Figure.Svg(ScoreHistogram.Draw("Scores", [1, 2, 2, 3], [5, 6], threshold: 4.5));
        foreach (var text in new[] { "normal (4)", "anomalous (2)", "threshold 4.5", "anomaly score", "clips" }) Assert.Contains(text, svg);
        // each bar spans its bin: every score lies inside a bar that counts it
        var plot = ScoreHistogram.Draw("Scores", [1, 2, 2, 3], [5, 6], threshold: 4.5, bins: 5);
        var bars = plot.GetPlottables().OfType<ScottPlot.Plottables.BarPlot>().SelectMany(b => b.Bars).Where(b => b.Value > 0).ToList();
        foreach (var score in new double[] { 1, 2, 3, 5, 6 })
            Assert.Contains(bars, b => b.Position - b.Size / 2 <= score + 1e-9 && score - 1e-9 <= b.Position + b.Size / 2);
        // and none straddles the threshold (an edge lies on it)
        Assert.DoesNotContain(bars, b => b.Position - b.Size / 2 < 4.5 - 1e-9 && b.Position + b.Size / 2 > 4.5 + 1e-9);
        var lone = Figure.Png(ScoreHistogram.Draw("Scores", [2, 2, 2], [], threshold: 2), 300, 200);
        Assert.True(ImageProbe.Read(lone).Colors > 2);
    }

    [Fact]
    public void ConvergenceAnimation_IsAnApngWithOneFramePerSnapshot_UpToItsCap()
    {
        var mixture = GaussianMixture.FromParameters([0.5, 0.5], [-1.0, 1.0], [0.25, 0.25], 1, CovarianceType.Full);
        var data = new NdArray([200, 1], Enumerable.Range(0, 200).Select(i => (float)(i % 2 == 0 ? -1 + i * 1e-3 : 1 - i * 1e-3)).ToArray());
        var dir = TestData.TempDirectory();
        File.WriteAllBytes(Path.Combine(dir, "few.png"), MixtureFigures.ConvergenceAnimation([mixture, mixture, mixture], data, width: 240, height: 160));
        File.WriteAllBytes(Path.Combine(dir, "many.png"), MixtureFigures.ConvergenceAnimation(Enumerable.Repeat(mixture, 150).ToList(), data, width: 240, height: 160));
        var (few, many) = (ImageProbe.Read(Path.Combine(dir, "few.png"), Path.Combine(dir, "many.png")) is [var a, var b] ? (a, b) : default);
        Assert.Equal((240, 160, 3), (few.Width, few.Height, few.Frames));
        Assert.Equal(MixtureFigures.MaxFrames, many.Frames);
        Assert.True(few.Colors > 2);
    }

    [Fact]
    public void AnimatedPng_RefusesWhatItCannotJoin()
    {
        var small = Figure.Png(LineChart.Draw("a", "x", "y", []), 100, 80);
        var large = Figure.Png(LineChart.Draw("a", "x", "y", []), 120, 80);
        Assert.Contains("frame 1 differs", Assert.Throws<InvalidInputException>(() => AnimatedPng.Assemble([small, large], 100)).Message);
        Assert.Contains("not a PNG", Assert.Throws<InvalidInputException>(() => AnimatedPng.Assemble([small, "GIF89a"u8.ToArray()], 100)).Message);
        Assert.Contains("truncated", Assert.Throws<InvalidInputException>(() => AnimatedPng.Assemble([small[..(small.Length / 2)]], 100)).Message);
        Assert.Throws<InvalidInputException>(() => AnimatedPng.Assemble([], 100));
    }

    [Fact]
    public void PianoRoll_ColoursEachCell_ByHitMissOrFalseAlarm()
    {
        // pitch 0 sounds in frames 0-4 and is found in 0-2 (hits), missed in 3-4; pitch 1 is found in 6-8 but silent (false alarms)
        var truth = new NdArray([2, 10], new float[20]);
        var detected = new NdArray([2, 10], new float[20]);
        for (var t = 0; t < 5; t++) truth.Data[t] = 1;
        for (var t = 0; t < 3; t++) detected.Data[t] = 1;
        for (var t = 6; t < 9; t++) detected.Data[10 + t] = 1;
        var plot = PianoRollFigure.Draw("roll", truth, detected, ["C4", "D4"], secondsPerFrame: 0.1);
        var image = ImageProbe.Read(Figure.Png(plot, 600, 300));
        (byte, byte, byte) At(double seconds, double pitch) { var p = plot.GetPixel(new Coordinates(seconds, pitch)); return image[(int)p.X, (int)p.Y]; }
        (byte, byte, byte) Rgb(Color c) => (c.R, c.G, c.B);
        Assert.Equal(Rgb(PianoRollFigure.Hit), At(0.15, 0.2));
        Assert.Equal(Rgb(PianoRollFigure.Missed), At(0.45, 0.2));
        Assert.Equal(Rgb(PianoRollFigure.FalseAlarm), At(0.75, 1.2));
        Assert.Equal(((byte)255, (byte)255, (byte)255), At(0.95, 0.2)); // off the grid line through the pitch
        Assert.Throws<ArgumentException>(() => PianoRollFigure.Draw("roll", truth, new NdArray([3, 10], new float[30])));
    }

    [Fact]
    public void AFolderThatCannotBeWritten_IsTheSameErrorAsForAModel()
    {
        var file = Path.Combine(TestData.TempDirectory(), "a-file");
        File.WriteAllText(file, "");
        var plot = LineChart.Draw("a", "x", "y", [Series.PerStep("s", [1, 2])]);
        var error = Assert.Throws<OutputWriteException>(() => Figure.WriteChart(plot, Path.Combine(file, "loss.svg")));
        Assert.Contains(Path.Combine(file, "loss.svg"), error.Message);
        Assert.Throws<InvalidOptionException>(() => Figure.Png(plot, 0, 100));
    }

    [Fact]
    public void DecompositionFigures_WriteEveryPicture_InTheUnitsOfTheInput()
    {
        var dir = TestData.TempDirectory();
        var v = Ramp(6, 8);
        var warnings = DecompositionFigures.Write(dir, v, Ramp(6, 2), Ramp(2, 8), v, [5, 3, 2], "β-divergence (β = 1)",
            HeatMapAxis.Hertz(22050, 10), HeatMapAxis.Seconds(512, 22050));
        Assert.Empty(warnings);
        var files = new[] { "V.png", "W.png", "H.png", "WH.png", "loss.png" }.Select(f => Path.Combine(dir, f)).ToArray();
        Assert.All(ImageProbe.Read(files), i => Assert.True(i.Width == Figure.DefaultWidth && i.Height == Figure.DefaultHeight && i.Colors > 2));
        Assert.Contains("β-divergence (β = 1)", File.ReadAllText(Path.Combine(dir, "loss.svg")));
        // no iterations: the loss is skipped with its reason, the heat maps still drawn
        Assert.Single(DecompositionFigures.Write(TestData.TempDirectory(), v, Ramp(6, 2), Ramp(2, 8), v, [], "loss", HeatMapAxis.Index("bin"), HeatMapAxis.Index("frame")));
    }
}
