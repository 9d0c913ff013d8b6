using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// The interpolation network (IDNN; Suefusa et al., "Anomalous sound detection based on interpolation deep neural
/// network", ICASSP 2020) as a TorchSharp module: it reads a context window of frames with the centre frame left
/// out and predicts that centre frame. An autoencoder can pass the edges of a window through and be judged mostly on
/// them; predicting the unseen centre makes the error speak for the moment itself, which suits non-stationary sounds.
/// Layers as in <see cref="Autoencoder"/> (Linear → ReLU → BatchNorm1d, dropout before the last layer), the output
/// being one frame. State-dict names: "encoder.0.weight", "decoder.2.running_mean", ...
/// </summary>
/// <remarks>Weights start as PyTorch's <c>nn.Linear</c> starts them: seed LibTorch's generator first for a reproducible model.</remarks>
public sealed class InterpolationNetwork : nn.Module<Tensor, Tensor>, IFrameErrorNetwork
{
    /// <summary>Values per context window: (before + after) frames × <see cref="Bands"/>, the frame itself being the first of the "after" ones.</summary>
    public int InputSize { get; }

    /// <summary>Values per frame (the front end's bands).</summary>
    public int Bands { get; }

    /// <summary>The window as the front end stacks it: frames before the centre, and from the centre on.</summary>
    public (int Before, int After) Context { get; }

    /// <summary>The encoder's widths, the last being the code.</summary>
    public IReadOnlyList<int> Hidden { get; }

#pragma warning disable IDE0044 // RegisterComponents registers fields by name
    readonly Sequential encoder;
    readonly Sequential decoder;
#pragma warning restore IDE0044
    readonly long[] contextColumns, centreColumns;
    readonly Dictionary<DeviceType, (Tensor Context, Tensor Centre)> indices = [];

    /// <summary>x (context frames) → code.</summary>
    public Sequential Encoder => encoder;

    /// <summary>code → the centre frame.</summary>
    public Sequential Decoder => decoder;

    /// <summary>The columns of a window the network reads (every frame but the centre), in order.</summary>
    public IReadOnlyList<long> ContextColumns => contextColumns;

    /// <summary>The columns of a window's centre frame, the network's target.</summary>
    public IReadOnlyList<long> CentreColumns => centreColumns;

    /// <summary>Builds the network on <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="InvalidOptionException">A width or the band count is not positive, the window has no centre and another frame (after ≥ 1, before + after ≥ 2), or the dropout is outside [0, 1).</exception>
    public InterpolationNetwork(int bands, int before, int after, IReadOnlyList<int> hidden, double dropout = 0.2, Device? device = null) : base(nameof(InterpolationNetwork))
    {
        if (bands < 1 || before < 0 || after < 1 || before + after < 2 || hidden.Count == 0 || hidden.Any(h => h < 1))
            throw new InvalidOptionException($"interpolation network: needs bands ≥ 1, a window with its centre and at least one other frame, and positive widths (bands {bands}, context {before} + {after}, hidden {string.Join("-", hidden)})");
        if (!(dropout >= 0 && dropout < 1)) throw new InvalidOptionException($"interpolation network: dropout must lie in [0, 1), got {dropout}");
        (Bands, Context, Hidden, InputSize) = (bands, (before, after), hidden.ToArray(), (before + after) * bands);
        centreColumns = Enumerable.Range(before * bands, bands).Select(c => (long)c).ToArray();
        contextColumns = Enumerable.Range(0, InputSize).Where(c => c < before * bands || c >= (before + 1) * bands).Select(c => (long)c).ToArray();
        int[] widths = [contextColumns.Length, .. hidden];
        var encoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < hidden.Count; i++)
        {
            encoderLayers.Add(nn.Linear(widths[i], widths[i + 1]));
            if (i < hidden.Count - 1) encoderLayers.AddRange([nn.ReLU(), nn.BatchNorm1d(widths[i + 1])]);
        }
        // the decoder mirrors the encoder's hidden widths and ends in one frame
        int[] back = [.. hidden.Reverse(), bands];
        var decoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < back.Length - 1; i++)
        {
            if (i == back.Length - 2 && dropout > 0 && i > 0) decoderLayers.Add(nn.Dropout(dropout));
            decoderLayers.Add(nn.Linear(back[i], back[i + 1]));
            if (i < back.Length - 2) decoderLayers.AddRange([nn.ReLU(), nn.BatchNorm1d(back[i + 1])]);
        }
        encoder = nn.Sequential(encoderLayers);
        decoder = nn.Sequential(decoderLayers);
        RegisterComponents();
        if (device is not null) this.to(device);
    }

    /// <summary>The DCASE 2020 Task 2 baseline's front end and widths with the centre frame predicted from the 19 around it: 64 bands, 10 + 10 frames, 512-256-128.</summary>
    public static InterpolationNetwork Dcase2020(int bands = 64, int before = 10, int after = 10, Device? device = null) => new(bands, before, after, [512, 256, 128], 0.2, device);

    (Tensor Context, Tensor Centre) Indices(Device device)
    {
        if (!indices.TryGetValue(device.type, out var pair))
            // kept for the module's life: a step's dispose scope must not take them
            indices[device.type] = pair = (tensor(contextColumns, device: device).DetachFromDisposeScope(), tensor(centreColumns, device: device).DetachFromDisposeScope());
        return pair;
    }

    /// <summary>Windows (N, <see cref="InputSize"/>) → the predicted centre frames (N, <see cref="Bands"/>).</summary>
    /// <exception cref="InvalidInputException">The windows are not (N, InputSize).</exception>
    public override Tensor forward(Tensor windows)
    {
        Check(windows);
        using var context = windows.index_select(1, Indices(windows.device).Context);
        return decoder.forward(encoder.forward(context));
    }

    /// <summary>The centre frames of windows (N, <see cref="InputSize"/>): what <see cref="forward"/> predicts.</summary>
    public Tensor Target(Tensor windows)
    {
        Check(windows);
        return windows.index_select(1, Indices(windows.device).Centre);
    }

    /// <summary>Each window's mean squared error between the predicted and the true centre frame: (N).</summary>
    public Tensor FrameErrors(Tensor windows)
    {
        using var residuals = Residuals(windows);
        return residuals.mean([1]);
    }

    /// <summary>Each predicted value's squared error: (N, <see cref="Bands"/>).</summary>
    public Tensor Residuals(Tensor windows)
    {
        using var target = Target(windows);
        using var prediction = forward(windows);
        return nn.functional.mse_loss(prediction, target, nn.Reduction.None);
    }

    void Check(Tensor windows)
    {
        if (windows.dim() != 2 || windows.shape[1] != InputSize)
            throw new InvalidInputException($"interpolation network: input of shape ({string.Join(", ", windows.shape)}); expected (N, {InputSize})");
    }
}
