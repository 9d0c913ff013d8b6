using System.Numerics.Tensors;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

public partial class Tensor
{
    /// <summary>
    /// Batch normalisation over every dimension but 1, as <c>torch.nn.functional.batch_norm</c>. input:
    /// (N, C) or (N, C, L); runningMean, runningVar, weight, bias: (C). In training mode the batch's mean and
    /// biased variance normalise and the running estimates move by <paramref name="momentum"/> (with the
    /// unbiased variance); otherwise the running estimates normalise. One fused kernel each way.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        var x = input;
        if (x.Rank is < 2 or > 3)
            throw new InvalidInputException($"BatchNorm: input of shape {ShapeText(x.Dims)}; expected (N, C) or (N, C, L)");
        int n = x.Dims[0], c = x.Dims[1], l = x.Rank == 3 ? x.Dims[2] : 1;
        foreach (var (t, name) in new[] { (runningMean, "running mean"), (runningVar, "running variance"), (weight, "weight"), (bias, "bias") })
            if (t.Count != c) throw new InvalidInputException($"BatchNorm: {name} of shape {ShapeText(t.Dims)} for input {ShapeText(x.Dims)} with {c} channels");
        var m = n * l;
        if (training && m < 2)
            throw new InvalidInputException($"BatchNorm: training needs more than one value per channel, got input {ShapeText(x.Dims)}");

        var mean = new float[c];
        var invStd = new float[c];
        if (training)
        {
            ChannelMoments(x.Span, n, c, l, mean, invStd);  // invStd holds the biased variance for now
            var unbiased = (float)m / (m - 1);
            for (var ch = 0; ch < c; ch++)
            {
                runningMean.Span[ch] = (1 - momentum) * runningMean.Span[ch] + momentum * mean[ch];
                runningVar.Span[ch] = (1 - momentum) * runningVar.Span[ch] + momentum * invStd[ch] * unbiased;
                invStd[ch] = 1f / MathF.Sqrt(invStd[ch] + eps);
            }
        }
        else
            for (var ch = 0; ch < c; ch++)
            {
                mean[ch] = runningMean.Span[ch];
                invStd[ch] = 1f / MathF.Sqrt(runningVar.Span[ch] + eps);
            }

        // y = x·scale + shift with scale = γ/σ, shift = β − μ·γ/σ
        var scale = new float[c];
        var shift = new float[c];
        for (var ch = 0; ch < c; ch++)
        {
            scale[ch] = weight.Span[ch] * invStd[ch];
            shift[ch] = bias.Span[ch] - mean[ch] * scale[ch];
        }
        var result = Empty(x.Dims);
        ApplyChannelAffine(x.Span, result.Span, n, c, l, scale, shift);

        return Autograd.Record(result, "BatchNorm", [x, weight, bias], g =>
        {
            // Per channel: Σg and Σg·x̂ with x̂ = (x − μ)/σ.
            var sumG = new float[c];
            var sumGx = new float[c];
            ChannelGradientSums(g.Span, x.Span, n, c, l, mean, invStd, sumG, sumGx);
            Tensor? gx = null;
            if (x.RequiresGrad)
            {
                gx = Empty(x.Dims);
                // training: dx = γ/σ · (g − Σg/M − x̂·Σg·x̂/M); evaluation: dx = γ/σ · g
                var a = new float[c];
                var b = new float[c];
                for (var ch = 0; ch < c; ch++)
                {
                    var k = weight.Span[ch] * invStd[ch];
                    if (training)
                    {
                        var q = sumGx[ch] / m * invStd[ch];  // multiplies (x − μ)
                        a[ch] = k;
                        // dx = k·g − k·q·(x − μ) − k·Σg/M
                        b[ch] = k * q;
                        sumG[ch] = k * sumG[ch] / m;
                    }
                    else { a[ch] = k; b[ch] = 0; sumG[ch] = 0; }
                }
                ChannelInputGradient(g.Span, x.Span, gx.Span, n, c, l, mean, a, b, sumG);
            }
            return [gx, weight.RequiresGrad ? FromArray(sumGx, c) : null, bias.RequiresGrad ? FromArray(ChannelSum(g.Span, n, c, l), c) : null];
        });
    }

    static void ChannelMoments(ReadOnlySpan<float> x, int n, int c, int l, float[] mean, float[] variance)
    {
        var m = n * l;
        if (l == 1)
        {
            // (N, C): accumulate whole rows, vectorised across channels
            for (var i = 0; i < n; i++) TensorPrimitives.Add(mean, x.Slice(i * c, c), mean);
            TensorPrimitives.Multiply(mean, 1f / m, mean);
            var d = new float[c];
            for (var i = 0; i < n; i++)
            {
                TensorPrimitives.Subtract(x.Slice(i * c, c), mean, d);
                TensorPrimitives.MultiplyAdd(d, d, variance, variance);
            }
            TensorPrimitives.Multiply(variance, 1f / m, variance);
            return;
        }
        for (var ch = 0; ch < c; ch++)
        {
            float s = 0;
            for (var i = 0; i < n; i++) s += TensorPrimitives.Sum(x.Slice((i * c + ch) * l, l));
            mean[ch] = s / m;
            float v = 0;
            for (var i = 0; i < n; i++)
                foreach (var value in x.Slice((i * c + ch) * l, l)) v += (value - mean[ch]) * (value - mean[ch]);
            variance[ch] = v / m;
        }
    }

    static void ApplyChannelAffine(ReadOnlySpan<float> x, Span<float> y, int n, int c, int l, float[] scale, float[] shift)
    {
        if (l == 1)
        {
            for (var i = 0; i < n; i++) TensorPrimitives.MultiplyAdd(x.Slice(i * c, c), scale, shift, y.Slice(i * c, c));
            return;
        }
        for (var i = 0; i < n; i++)
            for (var ch = 0; ch < c; ch++)
            {
                var block = y.Slice((i * c + ch) * l, l);
                TensorPrimitives.Multiply(x.Slice((i * c + ch) * l, l), scale[ch], block);
                TensorPrimitives.Add(block, shift[ch], block);
            }
    }

    static void ChannelGradientSums(ReadOnlySpan<float> g, ReadOnlySpan<float> x, int n, int c, int l, float[] mean, float[] invStd,
        float[] sumG, float[] sumGx)
    {
        if (l == 1)
        {
            var d = new float[c];
            for (var i = 0; i < n; i++)
            {
                var gi = g.Slice(i * c, c);
                TensorPrimitives.Add(sumG, gi, sumG);
                TensorPrimitives.Subtract(x.Slice(i * c, c), mean, d);
                TensorPrimitives.MultiplyAdd(gi, d, sumGx, sumGx);
            }
        }
        else
            for (var i = 0; i < n; i++)
                for (var ch = 0; ch < c; ch++)
                {
                    var at = (i * c + ch) * l;
                    for (var j = 0; j < l; j++)
                    {
                        sumG[ch] += g[at + j];
                        sumGx[ch] += g[at + j] * (x[at + j] - mean[ch]);
                    }
                }
        TensorPrimitives.Multiply(sumGx, invStd, sumGx);
    }

    // dx = a·g − b·(x − μ) − s, per channel
    static void ChannelInputGradient(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> dx, int n, int c, int l,
        float[] mean, float[] a, float[] b, float[] s)
    {
        if (l == 1)
        {
            var d = new float[c];
            for (var i = 0; i < n; i++)
            {
                var row = dx.Slice(i * c, c);
                TensorPrimitives.Subtract(x.Slice(i * c, c), mean, d);
                TensorPrimitives.Multiply(d, b, d);
                TensorPrimitives.Multiply(g.Slice(i * c, c), a, row);
                TensorPrimitives.Subtract(row, d, row);
                TensorPrimitives.Subtract(row, s, row);
            }
            return;
        }
        for (var i = 0; i < n; i++)
            for (var ch = 0; ch < c; ch++)
            {
                var at = (i * c + ch) * l;
                for (var j = 0; j < l; j++) dx[at + j] = a[ch] * g[at + j] - b[ch] * (x[at + j] - mean[ch]) - s[ch];
            }
    }

    static float[] ChannelSum(ReadOnlySpan<float> g, int n, int c, int l)
    {
        var sums = new float[c];
        for (var i = 0; i < n; i++)
            for (var ch = 0; ch < c; ch++)
                sums[ch] += l == 1 ? g[i * c + ch] : TensorPrimitives.Sum(g.Slice((i * c + ch) * l, l));
        return sums;
    }

    /// <summary>
    /// Dropout as <c>torch.nn.functional.dropout</c> in training mode: each element is zeroed with probability
    /// <paramref name="p"/> (draws from <paramref name="generator"/>) and the survivors scaled by 1/(1 − p).
    /// </summary>
    public Tensor Dropout(float p, Generator generator)
    {
        if (!(p is >= 0 and <= 1)) throw new InvalidOptionException($"Dropout: p must lie in [0, 1], got {p}");
        var x = this;
        var mask = new float[Count];
        var keep = p >= 1 ? 0f : 1f / (1f - p);
        for (var i = 0; i < mask.Length; i++) mask[i] = generator.NextSingle() < p ? 0f : keep;
        var result = Empty(Dims);
        TensorPrimitives.Multiply(x.Span, mask, result.Span);
        return Autograd.Record(result, "Dropout", [x], g =>
        {
            var d = Empty(x.Dims);
            TensorPrimitives.Multiply(g.Span, mask, d.Span);
            return [d];
        });
    }
}
