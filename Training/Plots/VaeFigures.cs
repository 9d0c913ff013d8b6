using Pipeline.Shared.Arrays;
using Pipeline.Training.Vae;

namespace Pipeline.Training.Plots;

/// <summary>
/// The pictures of a trained mel-cepstrum VAE: the loss terms per epoch (<c>loss</c>), one coefficient over time,
/// input against reconstruction (<c>coefficient</c>, the recipe's own figure), and two coefficients against each
/// other (<c>scatter</c>), each as SVG and PNG.
/// </summary>
public static class VaeFigures
{
    /// <summary>
    /// Writes the pictures into <paramref name="directory"/> from the first 500 frames of <paramref name="example"/>
    /// (frames × coefficients, as the model takes them); <paramref name="secondsPerFrame"/> puts time in seconds
    /// (frames when null).
    /// </summary>
    public static void Write(string directory, VaeTrainingResult result, NdArray example, int coefficient, double? secondsPerFrame = null)
    {
        var epochs = result.Epochs;
        Figure.WriteChart(LineChart.Draw("Loss terms per epoch", "epoch", "per-sample value",
        [
            new Series("total (negative ELBO)", epochs.Select(e => ((double)e.Epoch, e.Loss)).ToList()),
            new Series("reconstruction NLL", epochs.Select(e => ((double)e.Epoch, e.Reconstruction)).ToList()),
            new Series("KL", epochs.Select(e => ((double)e.Epoch, e.Kl)).ToList(), Dashed: true, RightAxis: true), // far smaller: an axis of its own
        ], logY: false), Path.Combine(directory, "loss.svg")); // the NLL can be negative: a linear axis
        var frames = Math.Min(example.Rows, 500);
        var slice = new NdArray([frames, example.Columns], example.Data[..(frames * example.Columns)]);
        var reconstruction = result.Model.Reconstruct(slice);
        var c = Math.Clamp(coefficient, 0, example.Columns - 1);
        var step = secondsPerFrame ?? 1.0;
        Figure.WriteChart(LineChart.Draw($"Coefficient {c} over time", secondsPerFrame is null ? "frame" : "time (s)", $"coefficient {c}",
        [
            new Series("input", Enumerable.Range(0, frames).Select(t => (t * step, (double)slice[t, c])).ToList()),
            new Series("reconstruction", Enumerable.Range(0, frames).Select(t => (t * step, (double)reconstruction[t, c])).ToList()),
        ], logY: false), Path.Combine(directory, "coefficient.svg"));
        var other = example.Columns > 1 ? (c + 1) % example.Columns : c;
        Figure.WriteChart(LineChart.Draw($"Coefficients {c} and {other}", $"coefficient {c}", $"coefficient {other}",
        [
            new Series("input", Enumerable.Range(0, frames).Select(t => ((double)slice[t, c], (double)slice[t, other])).ToList(), Dots: true),
            new Series("reconstruction", Enumerable.Range(0, frames).Select(t => ((double)reconstruction[t, c], (double)reconstruction[t, other])).ToList(), Dots: true),
        ], logY: false), Path.Combine(directory, "scatter.svg"));
    }
}
