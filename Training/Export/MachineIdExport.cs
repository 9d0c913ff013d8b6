using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Engine;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Networks;
using TorchSharp.Modules;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports a trained <see cref="MachineIdClassifier"/> as one fixed graph, <c>model.onnx</c> (role <c>scorer</c>),
/// with the frame-error detectors' contract plus one input: context-stacked features (frames, D) and
/// <c>machine_id</c> (int64 scalar, an index into the manifest's <c>machineIds</c>; their count for an ID not seen in
/// training) → per-frame error −log p(ID) (frames, −max log p for an unseen ID) and the log-probabilities
/// (frames, IDs). Dropout is dropped and every BatchNorm2d folded into the Conv before it: W′ = W·s, b′ = b·s + t per
/// output channel, for BatchNorm's affine map x·s + t.
/// </summary>
public static class MachineIdExport
{
    /// <summary>The manifest kind.</summary>
    public const string Kind = "anomaly-id-classifier";

    /// <summary>Writes the model folder of a trained classifier (its evaluation-mode function) and returns the manifest as written.</summary>
    /// <exception cref="Shared.Errors.ModelContractException">The front end does not give the network's window.</exception>
    /// <param name="embedding">The IDs' embedding statistics: when given, frame_error is the squared Mahalanobis distance to the ID's mean embedding (per dimension) instead of −log p.</param>
    public static ModelManifest Export(MachineIdClassifier model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring,
        TrainingSummary? training = null, IdEmbeddingStatistics? embedding = null)
    {
        if (embedding is not null && (embedding.Ids != model.MachineIds.Count || embedding.Dimensions != model.Channels[^1]))
            throw new ArgumentException($"embedding statistics of {embedding.Ids} IDs × {embedding.Dimensions} dimensions for a classifier of {model.MachineIds.Count} IDs × {model.Channels[^1]}", nameof(embedding));
        if (frontEnd.Dimensions != model.InputSize || frontEnd.ContextBefore + frontEnd.ContextAfter != model.Frames)
            throw new Shared.Errors.ModelContractException($"the front end gives {frontEnd.Dimensions} values per frame ({frontEnd.ContextBefore} + {frontEnd.ContextAfter} context frames) but the machine-ID classifier takes {model.InputSize} ({model.Frames} frames)");
        var blocks = Fold(model);
        var classifier = (Weight: TorchArrays.ToNdArray(model.Classifier.weight), Bias: TorchArrays.ToNdArray(model.Classifier.bias!));
        var ids = model.MachineIds.Count.ToString();
        return DetectorExport.WriteScorer(directory, new ModelManifest
        {
            Kind = Kind,
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs = [DetectorExport.ScorerSpec(model.InputSize,
                [DetectorExport.MachineIdInput(model.MachineIds.Count)],
                [
                    new TensorSpec("frame_error", "float32", [AutoencoderExport.FramesDim], embedding is null
                        ? "−log p(the clip's machine ID | the frame's window); −max log p over the known IDs for an unseen ID"
                        : "squared Mahalanobis distance of the frame's embedding to its machine ID's mean, per dimension; to the nearest known ID for an unseen ID"),
                    new TensorSpec("log_probabilities", "float32", [AutoencoderExport.FramesDim, ids], "log p(ID | window) for every known ID, in machineIds order"),
                ])],
            FrontEnd = frontEnd,
            Anomaly = scoring,
            Training = training,
            MachineIds = model.MachineIds,
            ParametersSha256 = AutoencoderExport.ParametersHash(blocks.SelectMany(b => new[] { b.Weight, b.Bias }).Concat([classifier.Weight, classifier.Bias])
                .Concat(embedding is null ? [] : [new NdArray([embedding.Ids, embedding.Dimensions], embedding.Means), new NdArray([embedding.Dimensions, embedding.Dimensions], embedding.Whitening)])),
        }, Graph(model, blocks, classifier, embedding));
    }

    /// <summary>One Conv (weight (out, in, kh, kw), bias (out)) with BatchNorm folded in, its stride, and the max-pool kernel after its ReLU (null: none).</summary>
    internal sealed record ConvBlock(NdArray Weight, NdArray Bias, long[] Stride, long[] Padding, long[]? Pool);

    /// <summary>The convolutional blocks with BatchNorm folded into each Conv (parameters copied to the CPU).</summary>
    internal static List<ConvBlock> Fold(MachineIdClassifier model)
    {
        var blocks = new List<ConvBlock>();
        foreach (var module in model.Features.children())
            switch (module)
            {
                case Conv2d conv:
                    var weight = TorchArrays.ToNdArray(conv.weight);
                    var bias = conv.bias is { } b ? TorchArrays.ToNdArray(b) : new NdArray([(int)conv.out_channels], new float[conv.out_channels]);
                    blocks.Add(new ConvBlock(weight, bias, conv.stride, conv.padding ?? [0, 0], null));
                    break;
                case BatchNorm2d bn:
                {
                    var last = blocks[^1];
                    var (scale, shift) = AutoencoderExport.BatchNormAffine(bn);
                    var w = (float[])last.Weight.Data.Clone();
                    var folded = new float[scale.Length];
                    var perChannel = w.Length / scale.Length;
                    for (var o = 0; o < scale.Length; o++)
                    {
                        for (var i = 0; i < perChannel; i++) w[o * perChannel + i] = (float)(w[o * perChannel + i] * scale[o]);
                        folded[o] = (float)(last.Bias.Data[o] * scale[o] + shift[o]);
                    }
                    blocks[^1] = last with { Weight = new NdArray(last.Weight.Shape, w), Bias = new NdArray([scale.Length], folded) };
                    break;
                }
                case ReLU:
                    break; // every block has one, after its BatchNorm
                case MaxPool2d pool:
                    blocks[^1] = blocks[^1] with { Pool = pool.kernel_size };
                    break;
                default:
                    throw new InvalidOperationException($"cannot export a {module.GetType().Name} layer");
            }
        return blocks;
    }

    static GraphProto Graph(MachineIdClassifier model, List<ConvBlock> blocks, (NdArray Weight, NdArray Bias) classifier, IdEmbeddingStatistics? embedding)
    {
        var g = new OnnxGraphBuilder("machine_id_scorer");
        var x = g.Input("features", DataType.Float, AutoencoderExport.FramesDim, model.InputSize.ToString());
        var id = g.Input("machine_id", DataType.Int64);
        var h = g.Node("Reshape", [x, g.Int64Vector("image_shape", -1, 1, model.Frames, model.Bands)]);
        for (var i = 0; i < blocks.Count; i++)
        {
            var block = blocks[i];
            var (kh, kw) = (block.Weight.Shape[2], block.Weight.Shape[3]);
            h = g.Node("Conv", [h, g.Constant($"conv{i}_weight", block.Weight), g.Constant($"conv{i}_bias", block.Bias)], null,
                IntsAttribute("kernel_shape", kh, kw), IntsAttribute("strides", block.Stride), IntsAttribute("pads", block.Padding[0], block.Padding[1], block.Padding[0], block.Padding[1]));
            h = g.Node("Relu", [h]);
            if (block.Pool is { } k) h = g.Node("MaxPool", [h], null, IntsAttribute("kernel_shape", k), IntsAttribute("strides", k));
        }
        var pooled = g.Node("ReduceMean", [h], null, IntsAttribute("axes", 2, 3), IntAttribute("keepdims", 0));
        var logits = g.Node("Gemm", [pooled, g.Constant("classifier_weight", classifier.Weight), g.Constant("classifier_bias", classifier.Bias)], null, IntAttribute("transB", 1));
        var logp = g.Node("LogSoftmax", [logits], "log_probabilities", IntAttribute("axis", 1));
        if (embedding is null)
        {
            // column K holds max log p: the index an unseen ID is given
            var best = g.Node("ReduceMax", [logp], null, IntsAttribute("axes", 1), IntAttribute("keepdims", 1));
            var extended = g.Node("Concat", [logp, best], null, IntAttribute("axis", 1));
            var picked = g.Node("Gather", [extended, id], null, IntAttribute("axis", 1));
            g.Node("Neg", [picked], "frame_error");
        }
        else
        {
            // (frames, 1, C) − (K, C) → whitened → mean square over C: (frames, K); column K the nearest ID
            var column = g.Node("Unsqueeze", [pooled, g.Int64Vector("id_axis", 1)]);
            var difference = g.Node("Sub", [column, g.Constant("id_means", new NdArray([embedding.Ids, embedding.Dimensions], embedding.Means))]);
            var white = g.Node("MatMul", [difference, g.Constant("whitening", new NdArray([embedding.Dimensions, embedding.Dimensions], embedding.Whitening))]);
            var squared = g.Node("Mul", [white, white]);
            var distances = g.Node("ReduceMean", [squared], null, IntsAttribute("axes", 2), IntAttribute("keepdims", 0));
            var nearest = g.Node("ReduceMin", [distances], null, IntsAttribute("axes", 1), IntAttribute("keepdims", 1));
            var extended = g.Node("Concat", [distances, nearest], null, IntAttribute("axis", 1));
            g.Node("Gather", [extended, id], "frame_error", IntAttribute("axis", 1));
        }
        g.Output("frame_error", DataType.Float, AutoencoderExport.FramesDim);
        g.Output("log_probabilities", DataType.Float, AutoencoderExport.FramesDim, model.MachineIds.Count.ToString());
        return g.Build();
    }
}
