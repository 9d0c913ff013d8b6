using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using static TorchSharp.torch;

namespace Pipeline.Training.Anomaly;

/// <summary>
/// Every frame of a set of files as the row its context window stacks (<see cref="ContextFrames.Stack"/>), assembled
/// only for the rows a mini-batch asks for: memory holds each file's per-frame features once, not (before + after)
/// copies of them.
/// </summary>
public sealed class ContextWindows
{
    readonly IReadOnlyList<NdArray> files;
    readonly int[] fileOf;
    readonly int[] frameOf;
    readonly int before, after;

    /// <summary>The frames of <paramref name="perFrameFeatures"/> (each (frames, dims), one per file) in file order.</summary>
    public ContextWindows(IReadOnlyList<NdArray> perFrameFeatures, int before, int after)
    {
        (files, this.before, this.after) = (perFrameFeatures, before, after);
        var count = perFrameFeatures.Sum(f => (long)f.Rows);
        if (count > Array.MaxLength) throw new Shared.Errors.InvalidInputException($"{count} training frames are more than one job can index ({Array.MaxLength})");
        (fileOf, frameOf) = (new int[count], new int[count]);
        var row = 0;
        for (var i = 0; i < perFrameFeatures.Count; i++)
            for (var t = 0; t < perFrameFeatures[i].Rows; t++, row++) (fileOf[row], frameOf[row]) = (i, t);
        Width = perFrameFeatures.Count == 0 ? 0 : (before + after) * perFrameFeatures[0].Columns;
    }

    /// <summary>Rows: frames over all files.</summary>
    public long Count => fileOf.Length;

    /// <summary>Values per row: (before + after) · dims.</summary>
    public int Width { get; }

    /// <summary>The rows named by <paramref name="indices"/> (int64, on the CPU) as a (B, <see cref="Width"/>) float32 tensor on <paramref name="device"/>.</summary>
    public Tensor Gather(Tensor indices, Device device)
    {
        var rows = indices.data<long>().ToArray();
        var values = new float[rows.Length * Width];
        for (var b = 0; b < rows.Length; b++)
            ContextFrames.CopyRow(files[fileOf[rows[b]]], frameOf[rows[b]], before, after, values.AsSpan(b * Width, Width));
        var batch = tensor(values, [rows.Length, Width]);
        if (device.type == TorchSharp.DeviceType.CPU) return batch;
        using (batch) return batch.to(device);
    }
}
