namespace Pipeline.Training.Plots;

/// <summary>
/// What one axis of a matrix means, for <see cref="HeatMapFigure"/>: a label with its unit and the width of one
/// cell in that unit. Cell i spans [i·<see cref="Step"/>, (i + 1)·<see cref="Step"/>).
/// </summary>
/// <param name="Label">The axis label, unit in parentheses: "time (s)", "frequency (Hz)", "frame".</param>
/// <param name="Step">One cell's width in the label's unit.</param>
/// <param name="Counts">The axis counts things (frames, bins, components): ticks only at whole numbers.</param>
public sealed record HeatMapAxis(string Label, double Step = 1, bool Counts = false)
{
    /// <summary>A bare index: frames, bins, components (one cell per unit).</summary>
    public static HeatMapAxis Index(string what) => new(what, 1, Counts: true);

    /// <summary>STFT frames on a time axis in seconds: one frame every <paramref name="hopLength"/> samples at <paramref name="sampleRate"/> Hz.</summary>
    public static HeatMapAxis Seconds(int hopLength, int sampleRate) => new("time (s)", (double)hopLength / sampleRate);

    /// <summary>STFT bins on a linear frequency axis in Hz: bin k is k·<paramref name="sampleRate"/>/<paramref name="nFft"/> Hz.</summary>
    public static HeatMapAxis Hertz(int sampleRate, int nFft) => new("frequency (Hz)", (double)sampleRate / nFft);
}
