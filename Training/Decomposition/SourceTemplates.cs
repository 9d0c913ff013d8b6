using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// Supervised source separation, training side: NMF templates are learned on each source's own recordings
/// (magnitude spectrograms from one STFT), then put side by side as one fixed template matrix whose column
/// blocks the manifest assigns to the sources.
/// </summary>
public static class SourceTemplates
{
    /// <summary>Learns <paramref name="rankPerSource"/> templates per source (on <paramref name="device"/>, the CPU when null) and returns the joint model and its source blocks.</summary>
    public static (Nmf Model, IReadOnlyList<SourceSpec> Sources) Learn(IReadOnlyList<(string Name, AudioClip Audio)> sources, FrontEndConfig stft,
        int rankPerSource, NmfFitOptions options, int seed = 0, TorchSharp.torch.Device? device = null)
    {
        if (sources.Count < 2) throw new InvalidOptionException($"separation needs at least two sources, got {sources.Count}");
        if (sources.Select(s => s.Name).Distinct().Count() != sources.Count) throw new InvalidOptionException("source names must differ");
        var analysis = new Stft(stft.NFft, stft.HopLength, stft.WinLength, stft.Window, stft.Center, stft.PadMode);
        var blocks = new List<NdArray>();
        var specs = new List<SourceSpec>();
        foreach (var (name, audio) in sources)
        {
            if (audio.SampleRate != stft.SampleRate || audio.Channels != 1)
                throw new InvalidAudioException(name, $"must be mono at {stft.SampleRate} Hz (got {audio.Channels} channels at {audio.SampleRate} Hz)");
            var v = analysis.Magnitude(audio.Samples, 1f, name);
            var nmf = new Nmf(rankPerSource, seed + specs.Count, device);
            nmf.Fit(Floor(v), options);
            specs.Add(new SourceSpec(name, specs.Count * rankPerSource, rankPerSource));
            blocks.Add(nmf.W!);
        }
        var bins = blocks[0].Rows;
        var k = rankPerSource * blocks.Count;
        var w = NdArray.Zeros(bins, k);
        for (var s = 0; s < blocks.Count; s++)
            for (var f = 0; f < bins; f++)
                for (var c = 0; c < rankPerSource; c++) w[f, s * rankPerSource + c] = blocks[s][f, c];
        return (Nmf.FromTemplates(w), specs);
    }

    /// <summary>A tiny floor keeps silent bins valid for every β (including β ≤ 0, which forbids zeros).</summary>
    internal static NdArray Floor(NdArray v)
    {
        var data = new float[v.Data.Length];
        for (var i = 0; i < data.Length; i++) data[i] = v.Data[i] + 1e-6f;
        return new NdArray((int[])v.Shape.Clone(), data);
    }
}
