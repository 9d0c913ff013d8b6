using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// The machine-ID classifier, the approach of the DCASE 2020 Task 2 winning systems (Giri et al., "Self-supervised
/// classification for detecting anomalous sounds", DCASE 2020): a small convolutional network reads one log-mel
/// patch (a context window of frames) and tells which machine ID of the type it comes from. Trained on normal
/// sounds only, it learns what makes each machine itself; a fault makes a patch sound less like its own ID. The
/// patch's anomaly error is the negative log-probability of the true ID (<see cref="FrameErrors"/>), or, as an
/// anomaly job scores it, the distance of its <see cref="Embed"/>ding to its ID's (<see cref="IdEmbeddingStatistics"/>).
/// </summary>
/// <remarks>
/// Layers: a window (N, T·F) is read as one-channel images (N, 1, T, F) with T frames of F bands; each block is
/// Conv2d 3×3 (the first with stride 2) → BatchNorm2d → ReLU → MaxPool2d 2×2 (1 along a side under 4 wide; none after the last); the
/// feature maps are averaged, dropout applied, and a Linear gives one logit per ID. State-dict names:
/// "features.0.weight", "features.1.running_mean", ..., "classifier.weight". Seed LibTorch's generator first for a
/// reproducible model.
/// </remarks>
public sealed class MachineIdClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>Values per window: <see cref="Frames"/> × <see cref="Bands"/>, frame by frame.</summary>
    public int InputSize { get; }

    /// <summary>Frames per window (the front end's before + after).</summary>
    public int Frames { get; }

    /// <summary>Values per frame (the front end's bands).</summary>
    public int Bands { get; }

    /// <summary>The machine IDs in logit order ("id_00", "id_02", ...).</summary>
    public IReadOnlyList<string> MachineIds { get; }

    /// <summary>Output channels of each convolutional block.</summary>
    public IReadOnlyList<int> Channels { get; }

#pragma warning disable IDE0044 // RegisterComponents registers fields by name
    readonly Sequential features;
    readonly Dropout dropout;
    readonly Linear classifier;
#pragma warning restore IDE0044

    /// <summary>The convolutional blocks.</summary>
    public Sequential Features => features;

    /// <summary>Pooled features → one logit per ID.</summary>
    public Linear Classifier => classifier;

    /// <summary>Builds the network on <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="InvalidOptionException">Fewer than two IDs, a window under 2 frames, no bands, a channel count under 1, or dropout outside [0, 1).</exception>
    public MachineIdClassifier(int bands, int frames, IReadOnlyList<string> machineIds, IReadOnlyList<int> channels, double dropout = 0.2, Device? device = null)
        : base(nameof(MachineIdClassifier))
    {
        if (machineIds.Count < 2)
            throw new InvalidOptionException($"machine-ID classifier: needs at least two machine IDs of one type to tell apart (got {machineIds.Count}: {string.Join(", ", machineIds)})");
        if (machineIds.Distinct().Count() != machineIds.Count) throw new InvalidOptionException($"machine-ID classifier: the IDs repeat ({string.Join(", ", machineIds)})");
        if (bands < 1 || frames < 2 || channels.Count == 0 || channels.Any(c => c < 1))
            throw new InvalidOptionException($"machine-ID classifier: needs bands ≥ 1, a window of at least 2 frames and positive channel counts (bands {bands}, frames {frames}, channels {string.Join("-", channels)})");
        if (!(dropout >= 0 && dropout < 1)) throw new InvalidOptionException($"machine-ID classifier: dropout must lie in [0, 1), got {dropout}");
        (Bands, Frames, InputSize, MachineIds, Channels) = (bands, frames, bands * frames, machineIds.ToArray(), channels.ToArray());
        var layers = new List<nn.Module<Tensor, Tensor>>();
        var (t, f, inChannels) = (frames, bands, 1);
        for (var i = 0; i < channels.Count; i++)
        {
            var stride = i == 0 ? 2 : 1;
            layers.Add(nn.Conv2d(inChannels, channels[i], 3, stride: stride, padding: 1, bias: false));
            layers.AddRange([nn.BatchNorm2d(channels[i]), nn.ReLU()]);
            (t, f) = ((t - 1) / stride + 1, (f - 1) / stride + 1);
            // a side pools only while it stays 2 or wider: a 3×3 kernel over a 1-wide map reads mostly padding
            var (kt, kf) = (t >= 4 ? 2 : 1, f >= 4 ? 2 : 1);
            if (kt * kf > 1 && i < channels.Count - 1)
            {
                layers.Add(nn.MaxPool2d([kt, kf]));
                (t, f) = (t / kt, f / kf);
            }
            inChannels = channels[i];
        }
        features = nn.Sequential(layers);
        this.dropout = nn.Dropout(dropout);
        classifier = nn.Linear(inChannels, machineIds.Count);
        RegisterComponents();
        if (device is not null) this.to(device);
    }

    /// <summary>The recipe's network for the DCASE 2020 Task 2 baseline's front end: 64 bands, 20-frame windows, blocks of 16, 32 and 64 channels.</summary>
    public static MachineIdClassifier Default(IReadOnlyList<string> machineIds, int bands = 64, int frames = 20, Device? device = null) =>
        new(bands, frames, machineIds, DefaultChannels, 0.2, device);

    /// <summary>The recipe's channels per block: 16, 32, 64.</summary>
    public static IReadOnlyList<int> DefaultChannels { get; } = [16, 32, 64];

    /// <summary>Windows (N, <see cref="InputSize"/>) → logits (N, IDs).</summary>
    /// <exception cref="InvalidInputException">The windows are not (N, InputSize).</exception>
    public override Tensor forward(Tensor windows)
    {
        using var pooled = Embed(windows);
        using var dropped = dropout.forward(pooled);
        return classifier.forward(dropped);
    }

    /// <summary>Windows (N, <see cref="InputSize"/>) → the averaged feature maps the classifier reads (N, channels of the last block).</summary>
    /// <exception cref="InvalidInputException">The windows are not (N, InputSize).</exception>
    public Tensor Embed(Tensor windows)
    {
        if (windows.dim() != 2 || windows.shape[1] != InputSize)
            throw new InvalidInputException($"machine-ID classifier: input of shape ({string.Join(", ", windows.shape)}); expected (N, {InputSize})");
        var maps = windows.view(-1, 1, Frames, Bands);
        foreach (var layer in features.children())
        {
            var next = layer is Conv2d conv ? Convolve(conv, maps) : ((nn.Module<Tensor, Tensor>)layer).forward(maps);
            maps.Dispose();
            maps = next;
        }
        using (maps) return maps.mean([2, 3]);
    }

    /// <summary>
    /// A Conv2d as im2col and one matrix product: the same function as <c>conv.forward</c>, whose multi-threaded
    /// backward in LibTorch 2.10's CPU build returned NaN input gradients now and then on these small maps (two
    /// threads; reproduced without this network). unfold's backward is a plain scatter-add.
    /// </summary>
    static Tensor Convolve(Conv2d conv, Tensor x)
    {
        var (kh, kw) = (conv.kernel_size[0], conv.kernel_size[1]);
        var padding = conv.padding ?? [0, 0];
        var (h, w) = ((x.shape[2] + 2 * padding[0] - kh) / conv.stride[0] + 1, (x.shape[3] + 2 * padding[1] - kw) / conv.stride[1] + 1);
        using var columns = nn.functional.unfold(x, (kh, kw), padding: (padding[0], padding[1]), stride: (conv.stride[0], conv.stride[1])); // (N, C·kh·kw, h·w)
        using var weight = conv.weight.view(conv.out_channels, -1);
        using var product = weight.matmul(columns); // (N, out, h·w)
        var maps = product.view(x.shape[0], conv.out_channels, h, w);
        if (conv.bias is null) return maps;
        using (maps) return maps + conv.bias.view(1, -1, 1, 1);
    }

    /// <summary>
    /// Each window's anomaly error: −log p(<paramref name="ids"/>[n] | window n), the negative log-probability of its
    /// own ID (N); an index equal to the ID count means "an ID not seen in training", scored −max log p over the known
    /// IDs (how unlike every known machine it sounds).
    /// </summary>
    public Tensor FrameErrors(Tensor windows, Tensor ids)
    {
        using var logits = forward(windows);
        using var logp = nn.functional.log_softmax(logits, 1);
        using var best = logp.max(1, keepdim: true).values;
        using var extended = cat([logp, best], 1);
        using var index = ids.to(int64).to(windows.device).view(-1, 1);
        using var picked = extended.gather(1, index);
        return picked.view(-1).neg();
    }
}
