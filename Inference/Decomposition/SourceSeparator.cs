using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;

namespace Pipeline.Inference.Decomposition;

/// <summary>One separated source.</summary>
public sealed record SeparatedSource(string Name, AudioClip Audio, NdArray Magnitude);

/// <summary>
/// Supervised source separation with an NMF model whose templates come in per-source blocks: the mixture's STFT
/// magnitude (the manifest's front end) gets activations against all templates (ONNX Runtime), each source's
/// part W_s·H_s becomes a soft mask W_s·H_s / Σ W·H, and the masked mixture STFT, with the mixture's phase, is
/// turned back into audio by the inverse STFT.
/// </summary>
public sealed class SourceSeparator : IDisposable
{
    readonly ModelPackage package;
    readonly ActivationEstimator estimator;
    readonly Reconstructor reconstructor;
    readonly Stft stft;

    /// <summary>Opens and verifies a separation model folder.</summary>
    public SourceSeparator(string modelDirectory, RuntimeOptions? options = null)
    {
        package = ModelPackage.Open(modelDirectory, options, expectedKind: "nmf");
        try
        {
            FrontEnd = package.Manifest.FrontEnd ?? throw new ModelContractException($"{modelDirectory}: the model has no front end; it was not trained on audio");
            Sources = package.Manifest.Sources is { Count: >= 2 } sources ? sources
                : throw new ModelContractException($"{modelDirectory}: the model does not list two or more sources; train it with pipeline-train separation");
            // (that each source's components lie inside the rank, the manifest's validation has checked)
            var decomposition = package.Manifest.Decomposition
                ?? throw new ModelContractException($"{modelDirectory}: a '{package.Manifest.Kind}' model is not a decomposition model");
            stft = new Stft(FrontEnd.NFft, FrontEnd.HopLength, FrontEnd.WinLength, FrontEnd.Window, FrontEnd.Center, FrontEnd.PadMode);
            if (stft.Bins != decomposition.Features)
                throw new ModelContractException($"{modelDirectory}: n_fft {FrontEnd.NFft} gives {stft.Bins} bins but the templates have {decomposition.Features}");
            estimator = new ActivationEstimator(package);
            reconstructor = new Reconstructor(package);
        }
        catch
        {
            package.Dispose();
            throw;
        }
    }

    /// <summary>The STFT settings.</summary>
    public FrontEndConfig FrontEnd { get; }

    /// <summary>The ONNX Runtime session of the activation graph: its provider, metadata.</summary>
    public ModelSession Session => estimator.Session;

    /// <summary>The sources, in template order.</summary>
    public IReadOnlyList<SourceSpec> Sources { get; }

    /// <summary>Separates a mixture (resampled and mixed down to the model's rate when needed).</summary>
    public IReadOnlyList<SeparatedSource> Separate(AudioClip mixture, string source = "mixture", int? iterations = null)
    {
        if (mixture.Channels > 1) mixture = AudioFile.MixDown(mixture);
        if (mixture.SampleRate != FrontEnd.SampleRate) mixture = Resampler.Resample(mixture, FrontEnd.SampleRate);
        var spectrum = stft.Forward(mixture.Samples, source);
        var magnitude = spectrum.Magnitude();
        if (magnitude.FirstNonFinite() is >= 0 and var bad)
            throw new InvalidAudioException(source, $"its spectrum overflows float32 (|STFT| {magnitude.Data[bad]} at flat index {bad}): samples this loud (near ±3.4e38) cannot be separated; scale the recording down");
        for (var i = 0; i < magnitude.Data.Length; i++) magnitude.Data[i] += 1e-6f; // the same floor the templates were learned with
        var h = estimator.Estimate(magnitude, iterations).Activations;
        var parts = Sources.Select(s =>
        {
            var masked = h.Clone();
            for (var c = 0; c < h.Rows; c++)
                if (c < s.FirstComponent || c >= s.FirstComponent + s.Components) masked.Data.AsSpan(c * h.Columns, h.Columns).Clear();
            return reconstructor.Reconstruct(masked);
        }).ToList();
        var results = new List<SeparatedSource>();
        var mixtureMagnitude = spectrum.Magnitude();
        for (var s = 0; s < Sources.Count; s++)
        {
            var mask = new float[magnitude.Data.Length];
            for (var i = 0; i < mask.Length; i++)
            {
                double total = 0;
                foreach (var part in parts) total += part.Data[i];
                mask[i] = total > 0 ? (float)(parts[s].Data[i] / total) : 1f / Sources.Count;
            }
            var sourceMagnitude = new float[mask.Length];
            for (var i = 0; i < mask.Length; i++) sourceMagnitude[i] = mask[i] * mixtureMagnitude.Data[i];
            var estimate = new NdArray([spectrum.Bins, spectrum.Frames], sourceMagnitude);
            var audio = stft.Inverse(spectrum.WithMagnitude(estimate), mixture.Samples.Length);
            results.Add(new SeparatedSource(Sources[s].Name, new AudioClip(audio, mixture.SampleRate), estimate));
        }
        return results;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        estimator.Dispose();
        reconstructor.Dispose();
        package.Dispose();
    }
}
