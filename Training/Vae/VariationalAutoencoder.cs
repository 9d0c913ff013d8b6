using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Vae;

/// <summary>
/// The mel-cepstrum variational autoencoder: x (N, D) → encoder (Linear + ReLU per hidden width) → latent mean and
/// log-variance heads (N, J); decoder mirrors the encoder back to D with a linear output. Inputs are normalised
/// per dimension with the training set's mean and standard deviation, kept as buffers (<c>input_mean</c>,
/// <c>input_std</c>) so the model carries them. Loss per sample: Gaussian reconstruction NLL with unit variance,
/// ½Σ(log 2π + (x − x̂)²), plus KL(q(z|x) ‖ N(0, I)); averaged over the batch.
/// </summary>
public sealed class VariationalAutoencoder : Module
{
    /// <summary>D.</summary>
    public int InputSize { get; }
    /// <summary>J.</summary>
    public int LatentSize { get; }
    /// <summary>Hidden layers of the encoder.</summary>
    public Sequential Encoder { get; }
    /// <summary>Latent mean head.</summary>
    public Linear MeanHead { get; }
    /// <summary>Latent log-variance head.</summary>
    public Linear LogVarianceHead { get; }
    /// <summary>Latent → normalised reconstruction.</summary>
    public Sequential Decoder { get; }
    /// <summary>Per-dimension training mean (D).</summary>
    public Tensor InputMean { get; }
    /// <summary>Per-dimension training standard deviation (D).</summary>
    public Tensor InputStd { get; }

    /// <summary>
    /// Builds the network (the recipe: 39 → 256 → 128 → 64 latent). With <paramref name="seedInit"/> the weights are
    /// drawn as the seed draws them (normal, standard deviation 2/fan-in, zero biases); otherwise PyTorch's default.
    /// </summary>
    public VariationalAutoencoder(int inputSize = 39, int[]? hidden = null, int latentSize = 64, Generator? generator = null, bool seedInit = false)
    {
        hidden ??= [256, 128];
        if (inputSize < 1 || latentSize < 1 || hidden.Length == 0 || hidden.Any(h => h < 1))
            throw new InvalidOptionException($"VAE: sizes must be positive (input {inputSize}, hidden {string.Join("-", hidden)}, latent {latentSize})");
        var g = generator ?? Generator.Default;
        (InputSize, LatentSize) = (inputSize, latentSize);
        int[] widths = [inputSize, .. hidden];
        var encoder = new List<Module>();
        for (var i = 0; i < hidden.Length; i++) { encoder.Add(Layer(widths[i], widths[i + 1], g, seedInit)); encoder.Add(new ReLU()); }
        Encoder = RegisterModule("encoder", new Sequential([.. encoder]));
        MeanHead = RegisterModule("mean", Layer(hidden[^1], latentSize, g, seedInit));
        LogVarianceHead = RegisterModule("log_variance", Layer(hidden[^1], latentSize, g, seedInit));
        int[] back = [latentSize, .. hidden.Reverse(), inputSize];
        var decoder = new List<Module>();
        for (var i = 0; i + 1 < back.Length; i++)
        {
            decoder.Add(Layer(back[i], back[i + 1], g, seedInit));
            if (i + 2 < back.Length) decoder.Add(new ReLU());
        }
        Decoder = RegisterModule("decoder", new Sequential([.. decoder]));
        InputMean = RegisterBuffer("input_mean", Tensor.Zeros(inputSize));
        InputStd = RegisterBuffer("input_std", Tensor.Ones(inputSize));
    }

    static Linear Layer(int inputs, int outputs, Generator g, bool seedInit)
    {
        var layer = new Linear(inputs, outputs, generator: g);
        if (seedInit)
        {
            g.FillNormal(layer.Weight.Span, 0, 2f / inputs);
            layer.Bias!.Span.Clear();
        }
        return layer;
    }

    /// <summary>
    /// Sets the normalisation from training data (N, D): per-dimension mean and (population) standard deviation. A
    /// dimension that does not vary gets scale 1, as scikit-learn's StandardScaler does, so that a test sample where it
    /// moves is off by its difference rather than by that over a vanishing deviation; those dimensions are returned.
    /// </summary>
    /// <returns>The constant dimensions (standard deviation 0, or below float32 resolution of the mean).</returns>
    public IReadOnlyList<int> FitNormalisation(NdArray data)
    {
        RequireShape(data);
        int n = data.Rows, d = InputSize;
        var constant = new List<int>();
        for (var j = 0; j < d; j++)
        {
            double sum = 0;
            for (var i = 0; i < n; i++) sum += data.Data[i * d + j];
            var mean = sum / n;
            double squares = 0; // two passes: a constant column gives exactly 0
            for (var i = 0; i < n; i++) { var e = data.Data[i * d + j] - mean; squares += e * e; }
            var std = Math.Sqrt(squares / n);
            var isConstant = std == 0 || std < 1e-6 * Math.Abs(mean);
            if (isConstant) constant.Add(j);
            InputMean.Span[j] = (float)mean;
            InputStd.Span[j] = isConstant ? 1f : (float)std;
        }
        return constant;
    }

    /// <summary>(x − mean) / std.</summary>
    public Tensor Normalise(Tensor x) => (x - InputMean) / InputStd;

    /// <summary>Latent mean and log-variance of normalised input.</summary>
    public (Tensor Mean, Tensor LogVariance) Encode(Tensor normalised)
    {
        var h = Encoder.Forward(normalised);
        return (MeanHead.Forward(h), LogVarianceHead.Forward(h));
    }

    /// <summary>Normalised reconstruction of latent codes.</summary>
    public Tensor Decode(Tensor latent) => Decoder.Forward(latent);

    /// <summary>z = μ + ε·exp(½ log σ²) with ε ~ N(0, I) from <paramref name="generator"/> (the reparameterisation).</summary>
    public static Tensor Sample(Tensor mean, Tensor logVariance, Generator generator) =>
        mean + Tensor.Randn(generator, [.. mean.Shape]) * (logVariance * 0.5f).Exp();

    /// <summary>The normalised reconstruction of normalised input through the posterior mean.</summary>
    public override Tensor Forward(Tensor input) => Decode(Encode(input).Mean);

    /// <summary>
    /// Reconstructs raw data (N, D) in raw units: deterministic (the posterior mean is decoded) unless a
    /// generator is given, in which case the latent is sampled.
    /// </summary>
    public NdArray Reconstruct(NdArray data, Generator? sampling = null)
    {
        RequireShape(data);
        var wasTraining = IsTraining;
        Eval();
        try
        {
            using var _ = Tensor.NoGrad();
            var (mean, logVariance) = Encode(Normalise(Tensor.From(data)));
            var z = sampling is null ? mean : Sample(mean, logVariance, sampling);
            return (Decode(z) * InputStd + InputMean).ToNdArray();
        }
        finally { Train(wasTraining); }
    }

    /// <summary>Batch-mean reconstruction NLL and KL (the two terms of the negative ELBO) of normalised x.</summary>
    public static (Tensor Reconstruction, Tensor Kl) LossTerms(Tensor normalised, Tensor reconstruction, Tensor mean, Tensor logVariance)
    {
        var nll = ((normalised - reconstruction).Square() + (float)Math.Log(2 * Math.PI)).Sum(1) * 0.5f;
        return (nll.Mean(), Losses.KlToStandardNormal(mean, logVariance));
    }

    void RequireShape(NdArray data)
    {
        if (data.Shape.Length != 2 || data.Columns != InputSize)
            throw new InvalidInputException($"VAE input of shape {data.ShapeText}; expected (N, {InputSize})");
        data.RequireFinite("VAE input");
    }
}
