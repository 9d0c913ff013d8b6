using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Scoring;
using Pipeline.Training.Engine;
using Pipeline.Training.Export.Proto;
using Pipeline.Training.Networks;
using static Pipeline.Training.Export.OnnxGraphBuilder;
using DataType = Pipeline.Training.Export.Proto.TensorProto.Types.DataType;

namespace Pipeline.Training.Export;

/// <summary>
/// Exports fitted <see cref="ClipStatistics"/> as one fixed graph, <c>model.onnx</c> (role <c>scorer</c>): a clip's
/// per-frame features (frames, B) (and, with two or more machine IDs, <c>machine_id</c>: an int64 index into the
/// manifest's <c>machineIds</c>, their count for an ID not seen in training) → <c>clip_error</c> (the clip's score,
/// a scalar: the trim, the band means, spreads and maxima and their distance to the ID's, all inside the graph) and
/// <c>frame_error</c> (frames, the curve). The manifest's aggregation is <see cref="FrameScores.Clip"/>.
/// </summary>
public static class ClipStatisticsExport
{
    /// <summary>The manifest kind.</summary>
    public const string Kind = "anomaly-clip-statistics";

    /// <summary>Writes the model folder and returns the manifest as written.</summary>
    /// <param name="frontEnd">The front end the statistics were computed on; its context is dropped (the graph reads single frames).</param>
    /// <exception cref="Shared.Errors.ModelContractException">The front end does not give the statistics' bands, or the scoring rule is not the clip rule with the statistics' trim.</exception>
    public static ModelManifest Export(ClipStatistics model, string directory, string name, FrontEndConfig frontEnd, AnomalyScoring scoring, TrainingSummary? training = null)
    {
        var perFrame = frontEnd with { ContextBefore = 0, ContextAfter = 0 };
        if (perFrame.Dimensions != model.Bands)
            throw new Shared.Errors.ModelContractException($"the front end gives {perFrame.Dimensions} values per frame but the clip statistics were fitted on {model.Bands}");
        if (scoring.Aggregation != FrameScores.Clip || scoring.TrimFrames != model.TrimFrames)
            throw new Shared.Errors.ModelContractException($"clip statistics are scored by the '{FrameScores.Clip}' rule with their own trim ({model.TrimFrames}); got '{scoring.Aggregation}' with trim {scoring.TrimFrames}");
        using var scope = TorchSharp.torch.NewDisposeScope();
        var (levels, spreads) = model.FrameReference();
        var parameters = (Means: TorchArrays.ToNdArray(model.Means), Variances: TorchArrays.ToNdArray(model.Variances),
            Levels: TorchArrays.ToNdArray(levels), Spreads: TorchArrays.ToNdArray(spreads));
        var withIds = model.MachineIds.Count > 1;
        return DetectorExport.WriteScorer(directory, new ModelManifest
        {
            Kind = Kind,
            Name = name,
            Producer = OnnxModelWriter.ProducerText,
            Graphs = [DetectorExport.ScorerSpec(model.Bands,
                withIds ? [DetectorExport.MachineIdInput(model.MachineIds.Count)] : [],
                [
                    new TensorSpec("frame_error", "float32", [AutoencoderExport.FramesDim], "the frame's mean squared deviation from its machine ID's band means, in units of the ID's band spreads"),
                    new TensorSpec("clip_error", "float32", [], $"the clip's score: mean over its bands' means, spreads and maxima (after trimming {model.TrimFrames} frames at each end) of (statistic − the ID's)² / its pooled within-ID variance"),
                ], "front-end features of every frame of the clip, one row per frame (no context)")],
            FrontEnd = perFrame,
            Anomaly = scoring,
            Training = training,
            MachineIds = withIds ? model.MachineIds : null,
            ParametersSha256 = AutoencoderExport.ParametersHash([parameters.Means, parameters.Variances]),
        }, Graph(model, parameters.Means, parameters.Variances, parameters.Levels, parameters.Spreads, withIds));
    }

    static GraphProto Graph(ClipStatistics model, NdArray means, NdArray variances, NdArray levels, NdArray spreads, bool withIds)
    {
        var g = new OnnxGraphBuilder("clip_statistics_scorer");
        var x = g.Input("features", DataType.Float, AutoencoderExport.FramesDim, model.Bands.ToString());
        var id = withIds ? g.Input("machine_id", DataType.Int64) : g.Int64Scalar("only_id", 0);
        // the trim as the scorer applies it: cut = min(trim, ⌊(frames − 1)/2⌋), so at least one frame remains
        var frames = g.Node("Gather", [g.Node("Shape", [x]), g.Int64Vector("frames_axis", 0)], null, IntAttribute("axis", 0)); // (1)
        var one = g.Int64Vector("one", 1);
        var half = g.Node("Div", [g.Node("Sub", [frames, one]), g.Int64Vector("two", 2)]);
        var cut = g.Node("Min", [g.Int64Vector("trim", model.TrimFrames), half]);
        var kept = g.Node("Slice", [x, cut, g.Node("Sub", [frames, cut]), g.Int64Vector("slice_axes", 0)]);
        var mean = g.Node("ReduceMean", [kept], null, IntsAttribute("axes", 0), IntAttribute("keepdims", 0));
        var centred = g.Node("Sub", [kept, mean]); // centred first: E[x²] − E[x]² loses float32's digits on dB levels
        var spread = g.Node("Sqrt", [g.Node("ReduceMean", [g.Node("Mul", [centred, centred])], null, IntsAttribute("axes", 0), IntAttribute("keepdims", 0))]);
        var max = g.Node("ReduceMax", [kept], null, IntsAttribute("axes", 0), IntAttribute("keepdims", 0));
        var summary = g.Node("Concat", [mean, spread, max], null, IntAttribute("axis", 0)); // (3B)
        // (IDs, 3B) → distances (IDs); entry IDs holds the nearest: the index an unseen ID is given
        var difference = g.Node("Sub", [summary, g.Constant("id_means", means)]);
        var scaled = g.Node("Div", [g.Node("Mul", [difference, difference]), g.Constant("variances", variances)]);
        var distances = g.Node("ReduceMean", [scaled], null, IntsAttribute("axes", 1), IntAttribute("keepdims", 0));
        var nearest = g.Node("ReduceMin", [distances], null, IntsAttribute("axes", 0), IntAttribute("keepdims", 1));
        g.Node("Gather", [g.Node("Concat", [distances, nearest], null, IntAttribute("axis", 0)), id], "clip_error", IntAttribute("axis", 0));
        // the frame curve: (frames, 1, B) against (IDs, B) → (frames, IDs), column IDs the nearest
        var column = g.Node("Unsqueeze", [x, g.Int64Vector("id_axis", 1)]);
        var z = g.Node("Div", [g.Node("Sub", [column, g.Constant("band_levels", levels)]), g.Constant("band_spreads", spreads)]);
        var errors = g.Node("ReduceMean", [g.Node("Mul", [z, z])], null, IntsAttribute("axes", 2), IntAttribute("keepdims", 0));
        var nearestFrame = g.Node("ReduceMin", [errors], null, IntsAttribute("axes", 1), IntAttribute("keepdims", 1));
        g.Node("Gather", [g.Node("Concat", [errors, nearestFrame], null, IntAttribute("axis", 1)), id], "frame_error", IntAttribute("axis", 1));
        g.Output("frame_error", DataType.Float, AutoencoderExport.FramesDim);
        g.Output("clip_error", DataType.Float);
        return g.Build();
    }
}
