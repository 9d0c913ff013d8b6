using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Vae;

/// <summary>
/// The mel-cepstrum variational autoencoder as a TorchSharp <c>torch.nn.Module</c>: x (N, D) → encoder (Linear + ReLU
/// per hidden width) → latent mean and log-variance heads (N, J); the decoder mirrors the encoder back to D with a
/// linear output. Inputs are normalised per dimension with the training set's mean and standard deviation, kept as
/// buffers (<c>input_mean</c>, <c>input_std</c>) so the model carries them. Loss per sample (<see cref="LossTerms"/>):
/// Gaussian reconstruction NLL with unit variance, ½Σ(log 2π + (x̃ − x̂)²), plus KL(q(z|x) ‖ N(0, I)); batch means.
/// State names follow PyTorch's for the same network: "encoder.0.weight", "mean.bias", "log_variance.weight",
/// "decoder.4.bias", "input_mean".
/// </summary>
/// <remarks>Weights start from LibTorch's generator: seed it with <c>torch.manual_seed</c> first for a reproducible model.</remarks>
public sealed class VariationalAutoencoder : nn.Module<Tensor, Tensor>
{
    /// <summary>D.</summary>
    public int InputSize { get; }
    /// <summary>J.</summary>
    public int LatentSize { get; }

#pragma warning disable IDE0044 // RegisterComponents registers fields by name
    readonly Sequential encoder;
    readonly Linear mean;
    readonly Linear log_variance;
    readonly Sequential decoder;
#pragma warning restore IDE0044

    /// <summary>Hidden layers of the encoder.</summary>
    public Sequential Encoder => encoder;
    /// <summary>Latent mean head.</summary>
    public Linear MeanHead => mean;
    /// <summary>Latent log-variance head.</summary>
    public Linear LogVarianceHead => log_variance;
    /// <summary>Latent → normalised reconstruction.</summary>
    public Sequential Decoder => decoder;
    /// <summary>Per-dimension training mean (D).</summary>
    public Tensor InputMean => get_buffer("input_mean")!;
    /// <summary>Per-dimension training standard deviation (D).</summary>
    public Tensor InputStd => get_buffer("input_std")!;

    /// <summary>
    /// Builds the network (the recipe: 39 → 256 → 128 → 64 latent) on <paramref name="device"/> (the CPU when null).
    /// With <paramref name="recipeInit"/> the weights are drawn as the recipe draws them (normal, standard deviation
    /// 2/fan-in, zero biases); otherwise as PyTorch's <c>nn.Linear</c> starts them.
    /// </summary>
    /// <exception cref="InvalidOptionException">A width is not positive.</exception>
    public VariationalAutoencoder(int inputSize = 39, IReadOnlyList<int>? hidden = null, int latentSize = 64, bool recipeInit = false, Device? device = null)
        : base(nameof(VariationalAutoencoder))
    {
        hidden ??= [256, 128];
        if (inputSize < 1 || latentSize < 1 || hidden.Count == 0 || hidden.Any(h => h < 1))
            throw new InvalidOptionException($"VAE: sizes must be positive (input {inputSize}, hidden {string.Join("-", hidden)}, latent {latentSize})");
        (InputSize, LatentSize) = (inputSize, latentSize);
        int[] widths = [inputSize, .. hidden];
        var encoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i < hidden.Count; i++) encoderLayers.AddRange([Layer(widths[i], widths[i + 1], recipeInit), nn.ReLU()]);
        encoder = nn.Sequential(encoderLayers);
        mean = Layer(hidden[^1], latentSize, recipeInit);
        log_variance = Layer(hidden[^1], latentSize, recipeInit);
        int[] back = [latentSize, .. hidden.Reverse(), inputSize];
        var decoderLayers = new List<nn.Module<Tensor, Tensor>>();
        for (var i = 0; i + 1 < back.Length; i++)
        {
            decoderLayers.Add(Layer(back[i], back[i + 1], recipeInit));
            if (i + 2 < back.Length) decoderLayers.Add(nn.ReLU());
        }
        decoder = nn.Sequential(decoderLayers);
        RegisterComponents();
        register_buffer("input_mean", zeros(inputSize));
        register_buffer("input_std", ones(inputSize));
        if (device is not null) this.to(device);
    }

    static Linear Layer(int inputs, int outputs, bool recipeInit)
    {
        var layer = nn.Linear(inputs, outputs);
        if (recipeInit)
            using (no_grad())
            {
                nn.init.normal_(layer.weight, 0, 2.0 / inputs);
                nn.init.zeros_(layer.bias);
            }
        return layer;
    }

    /// <summary>
    /// Sets the normalisation from training data (N, D): per-dimension mean and (population) standard deviation. A
    /// dimension that does not vary gets scale 1, as scikit-learn's StandardScaler does, so that a test sample where it
    /// moves is off by its difference rather than by that over a vanishing deviation; those dimensions are returned.
    /// </summary>
    /// <returns>The constant dimensions (standard deviation 0, or below float32 resolution of the mean).</returns>
    /// <exception cref="InvalidInputException">The data is not (N, D) or holds NaN or ±∞.</exception>
    public IReadOnlyList<int> FitNormalisation(NdArray data)
    {
        RequireShape(data);
        int n = data.Rows, d = InputSize;
        var (means, deviations) = (new float[d], new float[d]);
        var constant = new List<int>();
        for (var j = 0; j < d; j++)
        {
            double sum = 0;
            for (var i = 0; i < n; i++) sum += data.Data[i * d + j];
            var average = sum / n;
            double squares = 0; // two passes: a constant column gives exactly 0
            for (var i = 0; i < n; i++) { var e = data.Data[i * d + j] - average; squares += e * e; }
            var std = Math.Sqrt(squares / n);
            var isConstant = std == 0 || std < 1e-6 * Math.Abs(average);
            if (isConstant) constant.Add(j);
            (means[j], deviations[j]) = ((float)average, isConstant ? 1f : (float)std);
        }
        using (no_grad())
        {
            using var m = tensor(means);
            using var s = tensor(deviations);
            InputMean.copy_(m);
            InputStd.copy_(s);
        }
        return constant;
    }

    /// <summary>(x − mean) / std.</summary>
    public Tensor Normalise(Tensor x) => (x - InputMean) / InputStd;

    /// <summary>Latent mean and log-variance of normalised input.</summary>
    public (Tensor Mean, Tensor LogVariance) Encode(Tensor normalised)
    {
        using var h = encoder.forward(normalised);
        return (mean.forward(h), log_variance.forward(h));
    }

    /// <summary>Normalised reconstruction of latent codes.</summary>
    public Tensor Decode(Tensor latent) => decoder.forward(latent);

    /// <summary>z = μ + ε·exp(½ log σ²) with ε ~ N(0, I) from LibTorch's generator (the reparameterisation).</summary>
    public static Tensor Sample(Tensor mean, Tensor logVariance) => mean + randn_like(mean) * (logVariance * 0.5).exp();

    /// <summary>The normalised reconstruction of normalised input through the posterior mean.</summary>
    public override Tensor forward(Tensor input)
    {
        var (m, logVariance) = Encode(input);
        using (logVariance) return Decode(m);
    }

    /// <summary>
    /// Reconstructs raw data (N, D) in raw units, in evaluation mode: the posterior mean decoded, or, with
    /// <paramref name="sample"/>, a latent drawn from the posterior with LibTorch's generator.
    /// </summary>
    /// <exception cref="InvalidInputException">The data is not (N, D) or holds NaN or ±∞.</exception>
    public NdArray Reconstruct(NdArray data, bool sample = false)
    {
        RequireShape(data);
        var wasTraining = training;
        eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var device = InputMean.device;
            var x = tensor(data.Data, [data.Rows, data.Columns]).to(device);
            var (m, logVariance) = Encode(Normalise(x));
            var raw = (Decode(sample ? Sample(m, logVariance) : m) * InputStd + InputMean).cpu();
            return new NdArray([data.Rows, data.Columns], raw.data<float>().ToArray());
        }
        finally { train(wasTraining); }
    }

    /// <summary>Batch means of the reconstruction NLL and the KL (the two terms of the negative ELBO) of normalised x.</summary>
    public static (Tensor Reconstruction, Tensor Kl) LossTerms(Tensor normalised, Tensor reconstruction, Tensor latentMean, Tensor logVariance)
    {
        var nll = ((normalised - reconstruction).square() + Math.Log(2 * Math.PI)).sum(1) * 0.5;
        var kl = (logVariance + 1 - latentMean.square() - logVariance.exp()).sum(1) * -0.5;
        return (nll.mean(), kl.mean());
    }

    void RequireShape(NdArray data)
    {
        if (data.Shape.Length != 2 || data.Columns != InputSize)
            throw new InvalidInputException($"VAE input of shape {data.ShapeText}; expected (N, {InputSize})");
        data.RequireFinite("VAE input");
    }
}
