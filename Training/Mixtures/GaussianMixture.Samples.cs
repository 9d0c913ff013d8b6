using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The samples as EM and scoring take them.
public sealed partial class GaussianMixture
{
    /// <summary>
    /// The samples as EM uses them: in double precision for the k-means++ start, and centred on their mean in
    /// float32 for the BLAS products (centring keeps float32's digits where x² and μ² would otherwise cancel;
    /// single-precision GEMM runs at twice the rate and moves half the bytes).
    /// </summary>
    internal sealed class Samples
    {
        public Samples(double[] x, int n, int d)
        {
            (X, N, D) = (x, n, d);
            Offset = new double[d];
            for (var s = 0; s < n; s++)
                for (var j = 0; j < d; j++) Offset[j] += x[s * d + j];
            for (var j = 0; j < d; j++) Offset[j] /= n;
            Centred = new float[n * d];
            for (var s = 0; s < n; s++)
                for (var j = 0; j < d; j++) Centred[s * d + j] = (float)(x[s * d + j] - Offset[j]);
        }

        public double[] X { get; }
        public int N { get; }
        public int D { get; }
        /// <summary>The column means the float copy is centred on.</summary>
        public double[] Offset { get; }
        /// <summary>x − offset, float32, (N, D).</summary>
        public float[] Centred { get; }
        float[]? stacked;
        /// <summary>
        /// [x − offset, (x − offset)²], (N, 2D), computed once for the separate diagonal E- and M-steps (the fused
        /// iteration makes x² in registers): both halves then go through one product each, which BLAS runs faster
        /// than two of half the width.
        /// </summary>
        public float[] Stacked
        {
            get
            {
                if (stacked is null)
                {
                    stacked = new float[N * 2 * D];
                    Parallel.For(0, N, ComputeThreads.Options, s =>
                    {
                        var x = Centred.AsSpan(s * D, D);
                        x.CopyTo(stacked.AsSpan(s * 2 * D, D));
                        System.Numerics.Tensors.TensorPrimitives.Multiply(x, x, stacked.AsSpan(s * 2 * D + D, D));
                    });
                }
                return stacked;
            }
        }
        float[]? padded;
        /// <summary>x − offset with zero columns up to a multiple of 16, (N, dp) (the AVX-512 kernels, diagonal and full).</summary>
        public float[] PaddedCentred
        {
            get
            {
                var dp = FullCovarianceKernels.Padded(D);
                if (dp == D) return Centred;
                if (padded is null)
                {
                    padded = new float[N * dp];
                    for (var s = 0; s < N; s++) Centred.AsSpan(s * D, D).CopyTo(padded.AsSpan(s * dp, D));
                }
                return padded;
            }
        }
        float[]? augmented;
        /// <summary>[x − offset, 1], (N, D + 1) (full mixtures without AVX-512), computed once.</summary>
        public float[] Augmented
        {
            get
            {
                if (augmented is null)
                {
                    augmented = new float[N * (D + 1)];
                    for (var s = 0; s < N; s++)
                    {
                        Centred.AsSpan(s * D, D).CopyTo(augmented.AsSpan(s * (D + 1), D));
                        augmented[s * (D + 1) + D] = 1;
                    }
                }
                return augmented;
            }
        }
        /// <summary>The samples centred on their mean and the mean, float64 tensors on one device: what the TorchSharp steps take.</summary>
        public sealed record OnDeviceSamples(TorchSharp.torch.Tensor Centred, TorchSharp.torch.Tensor Offset);
        OnDeviceSamples? onDevice;
        /// <summary>The samples as tensors on <paramref name="device"/>, made once.</summary>
        public OnDeviceSamples OnDevice(TorchSharp.torch.Device device)
        {
            if (onDevice is not null && onDevice.Offset.device == device) return onDevice;
            var offset = TorchSharp.torch.tensor(Offset, device: device).DetachFromDisposeScope();
            using var x = TorchSharp.torch.tensor(X, [N, D], device: device);
            return onDevice = new OnDeviceSamples((x - offset).DetachFromDisposeScope(), offset);
        }
        /// <summary>Reused (N, K) single-precision buffers: GEMM products, responsibilities.</summary>
        public float[] Buffer = [];
        public float[] Responsibilities = [];
    }


    internal Samples Prepare(NdArray data, bool requireFitted)
    {
        if (data.Shape.Length is < 1 or > 2) throw new InvalidInputException($"mixture data must be (N, D) or (N), got {data.ShapeText}");
        var n = data.Shape[0];
        var d = data.Shape.Length == 2 ? data.Shape[1] : 1;
        if (n == 0 || d == 0) throw new InvalidInputException($"mixture data of shape {data.ShapeText} is empty");
        data.RequireFinite("mixture data");
        if (requireFitted && Weights.Length == 0) throw new InvalidOperationException("the mixture has no parameters yet; fit it first");
        if (Dimensions == 0) Dimensions = d;
        else if (Dimensions != d) throw new InvalidInputException($"data has {d} dimensions, the mixture {Dimensions}");
        var x = new double[data.Data.Length];
        for (var i = 0; i < x.Length; i++) x[i] = data.Data[i];
        return new Samples(x, n, d);
    }
}
