using Pipeline.Shared.Arrays;

namespace Pipeline.Training.Plots;

/// <summary>
/// The pictures of a decomposition V ≈ W·H: V, W, H and W·H as dB heat maps (<c>V.png</c>, <c>W.png</c>,
/// <c>H.png</c>, <c>WH.png</c>) with the axes in the units the input allows, and the loss per iteration
/// (<c>loss.svg</c> and <c>loss.png</c>).
/// </summary>
public static class DecompositionFigures
{
    /// <summary>
    /// Writes the pictures into <paramref name="directory"/> and returns a one-line warning per picture skipped.
    /// <paramref name="frequency"/> and <paramref name="time"/> are V's row and column axes (Hz and s for a
    /// spectrogram of known rate, bins and frames for a bare matrix); <paramref name="componentAxis"/> names W's columns
    /// (for templates laid side by side, "component · kernel position"); <paramref name="activationColumns"/> and
    /// <paramref name="templateRows"/> are H's columns and W's rows when they are not V's (2-d and 3-d kernels);
    /// <paramref name="templateWidth"/>, W's columns per component, draws a line between components.
    /// </summary>
    public static IReadOnlyList<string> Write(string directory, NdArray v, NdArray w, NdArray h, NdArray wh, IReadOnlyList<double> losses, string lossName,
        HeatMapAxis frequency, HeatMapAxis time, string componentAxis = "component", HeatMapAxis? activationColumns = null, HeatMapAxis? templateRows = null,
        int? templateWidth = null)
    {
        var components = HeatMapAxis.Index(componentAxis);
        var activations = HeatMapAxis.Index("component");
        var warnings = new List<string?>
        {
            HeatMapFigure.Write(Path.Combine(directory, "V.png"), v, "V, the data (magnitude)", frequency, time),
            HeatMapFigure.Write(Path.Combine(directory, "W.png"), w, "W, the templates", templateRows ?? frequency, components, groupColumns: templateWidth),
            HeatMapFigure.Write(Path.Combine(directory, "H.png"), h, "H, the activations", activations, activationColumns ?? time),
            HeatMapFigure.Write(Path.Combine(directory, "WH.png"), wh, "W·H, the reconstruction", frequency, time),
        };
        if (losses.Count > 0) Figure.WriteChart(LineChart.Draw("Loss per iteration", "iteration", lossName, [Series.PerStep("training data", losses)]), Path.Combine(directory, "loss.svg"));
        else warnings.Add("loss per iteration: no iterations ran, nothing to draw");
        return warnings.OfType<string>().ToList();
    }
}
