using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Training.Anomaly;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>Mini-batches gathered from per-frame features are the rows of the stacked matrix they stand in for.</summary>
[Collection(LibTorchCollection.Name)]
public class ContextWindowsTests
{
    [Fact]
    public void Gather_ReturnsTheRowsOfEachFilesStackedMatrix()
    {
        var random = new Random(4);
        NdArray File(int frames) => new([frames, 3], Enumerable.Range(0, frames * 3).Select(_ => (float)random.NextDouble()).ToArray());
        var files = new[] { File(7), File(4), File(9) };
        var windows = new ContextWindows(files, before: 2, after: 3);
        Assert.Equal(20, windows.Count);
        Assert.Equal(15, windows.Width);
        var stacked = files.SelectMany(f => { var s = ContextFrames.Stack(f, 2, 3); return Enumerable.Range(0, s.Rows).Select(r => s.Data.AsSpan(r * 15, 15).ToArray()); }).ToArray();
        long[] rows = [0, 6, 7, 10, 19, 11, 3];
        using var indices = tensor(rows);
        using var batch = windows.Gather(indices, CPU);
        Assert.Equal([rows.Length, 15L], batch.shape);
        var values = batch.data<float>().ToArray();
        for (var b = 0; b < rows.Length; b++) Assert.Equal(stacked[rows[b]], values.AsSpan(b * 15, 15).ToArray());
    }
}
