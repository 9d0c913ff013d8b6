using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// torchnmf's BaseComponent: a module with a non-negative template tensor W and activation tensor H whose
/// forward pass is a reconstruction built only from products and sums of them (so every gradient part is
/// non-negative and <see cref="BetaMu"/> applies). A model says how it reconstructs; fitting lives in the trainers.
/// </summary>
public abstract class NonNegativeComponent : Module
{
    /// <summary>Templates.</summary>
    public Parameter W { get; }
    /// <summary>Activations.</summary>
    public Parameter H { get; }

    /// <summary>Initialises W and H (uniform in [0, 1) from <paramref name="generator"/>, or the given tensors).</summary>
    protected NonNegativeComponent(int[] wShape, int[] hShape, Generator? generator, Tensor? w, Tensor? h, bool trainableW, bool trainableH)
    {
        var g = generator ?? Generator.Default;
        W = RegisterParameter("W", Initial(w, wShape, g, "W"));
        H = RegisterParameter("H", Initial(h, hShape, g, "H"));
        W.RequiresGrad = trainableW;
        H.RequiresGrad = trainableH;
    }

    static Tensor Initial(Tensor? given, int[] shape, Generator g, string name)
    {
        if (given is null) return Tensor.Rand(g, shape);
        if (!given.Shape.SequenceEqual(shape))
            throw new InvalidInputException($"{name} of shape {Tensor.ShapeText(given.Shape)}; this model needs {Tensor.ShapeText(shape)}");
        given.ToNdArray().RequireNonNegativeFinite(name);
        return given;
    }

    /// <summary>The model's reconstruction from <paramref name="h"/> and <paramref name="w"/>.</summary>
    public abstract Tensor Reconstruct(Tensor h, Tensor w);

    /// <summary>The reconstruction from the module's own W and H (the input is ignored, as in torchnmf's <c>model()</c>).</summary>
    public override Tensor Forward(Tensor input) => Reconstruct(H, W);

    /// <summary>The reconstruction from the module's own W and H.</summary>
    public Tensor Forward() => Reconstruct(H, W);
}

/// <summary>V ≈ H·Wᵀ as torchnmf's NMF: V (N, C), W (C, R), H (N, R).</summary>
public sealed class NmfComponent : NonNegativeComponent
{
    /// <summary>Infers W and H from V's shape.</summary>
    public NmfComponent(int[] vShape, int rank, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
        : base(Check(vShape, rank) is var (n, c) ? [c, rank] : [], [n, rank], generator, w, h, trainableW, trainableH) { }

    static (int N, int C) Check(int[] vShape, int rank)
    {
        if (vShape.Length != 2 || rank < 1) throw new InvalidOptionException($"NMF needs V (N, C) and a positive rank, got {Tensor.ShapeText(vShape)} and {rank}");
        return (vShape[0], vShape[1]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w) => h.MatMul(w.T());
}

/// <summary>
/// Non-negative matrix factor deconvolution (Smaragdis 2004) as torchnmf's NMFD:
/// V[n, i, j] ≈ Σₜ Σᵣ W[i, r, t]·H[n, r, j − t], i.e. a transposed 1-d convolution of H with W.
/// V: (N, C, L), W: (C, R, T), H: (N, R, L − T + 1).
/// </summary>
public sealed class Nmfd : NonNegativeComponent
{
    /// <summary>The convolution window T.</summary>
    public int Window { get; }

    /// <summary>Infers W and H from V's shape.</summary>
    public Nmfd(int[] vShape, int rank, int window, Generator? generator = null, Tensor? w = null, Tensor? h = null, bool trainableW = true, bool trainableH = true)
        : base(Shapes(vShape, rank, window).W, Shapes(vShape, rank, window).H, generator, w, h, trainableW, trainableH) => Window = window;

    static (int[] W, int[] H) Shapes(int[] vShape, int rank, int window)
    {
        if (vShape.Length != 3 || rank < 1 || window < 1)
            throw new InvalidOptionException($"NMFD needs V (N, C, L), a positive rank and window, got {Tensor.ShapeText(vShape)}, {rank}, {window}");
        if (window > vShape[2]) throw new InvalidOptionException($"NMFD: the window {window} is longer than V's {vShape[2]} frames");
        return ([vShape[1], rank, window], [vShape[0], rank, vShape[2] - window + 1]);
    }

    /// <inheritdoc/>
    public override Tensor Reconstruct(Tensor h, Tensor w) => Tensor.ConvTranspose1d(h, w.Permute(1, 0, 2));
}
