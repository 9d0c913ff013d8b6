using Pipeline.Shared.Threading;
using System.Numerics.Tensors;
using Pipeline.Shared.Errors;
using Pipeline.Training.Linalg;

namespace Pipeline.Training.Tensors;

/// <summary>
/// The index arithmetic of an N-d convolution, computed once per call: for every kernel offset k and output
/// position p, the flat input position it reads (−1 inside the zero padding). im2col and col2im are then
/// plain gathers and scatter-adds, the same code for 1-, 2- and 3-d.
/// </summary>
internal sealed class ConvGeometry
{
    public int[] InSpatial { get; }
    public int[] OutSpatial { get; }
    public int KernelSize { get; }
    public int InSize { get; }
    public int OutSize { get; }
    readonly int[] map;
    // map split into runs of consecutive sources (or of padding, source −1): im2col and col2im move whole runs
    readonly (int Start, int Length, int Source)[][] runs;

    public ConvGeometry(int[] inSpatial, int[] kernel, int[] stride, int[] padding, int[] dilation, string operation)
    {
        var rank = inSpatial.Length;
        InSpatial = inSpatial;
        OutSpatial = new int[rank];
        for (var d = 0; d < rank; d++)
        {
            if (stride[d] < 1 || dilation[d] < 1 || padding[d] < 0)
                throw new InvalidInputException($"{operation}: stride and dilation must be ≥ 1 and padding ≥ 0 (got stride {stride[d]}, dilation {dilation[d]}, padding {padding[d]})");
            var span = dilation[d] * (kernel[d] - 1) + 1;
            var room = inSpatial[d] + 2 * padding[d] - span;
            if (room < 0)
                throw new InvalidInputException($"{operation}: kernel {Tensor.ShapeText(kernel)} (dilation {Tensor.ShapeText(dilation)}) is larger than the padded input {Tensor.ShapeText(inSpatial)}");
            OutSpatial[d] = room / stride[d] + 1;
        }
        KernelSize = Tensor.CountOf(kernel);
        InSize = Tensor.CountOf(inSpatial);
        OutSize = Tensor.CountOf(OutSpatial);
        var inStrides = Tensor.StridesOf(inSpatial);
        map = new int[KernelSize * OutSize];
        var k = new int[rank];
        for (var kk = 0; kk < KernelSize; kk++)
        {
            var p = new int[rank];
            for (var pp = 0; pp < OutSize; pp++)
            {
                var flat = 0;
                for (var d = 0; d < rank && flat >= 0; d++)
                {
                    var i = p[d] * stride[d] - padding[d] + k[d] * dilation[d];
                    flat = i < 0 || i >= inSpatial[d] ? -1 : flat + i * inStrides[d];
                }
                map[kk * OutSize + pp] = flat;
                Increment(p, OutSpatial);
            }
            Increment(k, kernel);
        }
        runs = new (int, int, int)[KernelSize][];
        for (var kk = 0; kk < KernelSize; kk++)
        {
            var m = map.AsSpan(kk * OutSize, OutSize);
            var list = new List<(int, int, int)>();
            for (var p = 0; p < OutSize;)
            {
                var start = p;
                var inPadding = m[p] < 0;
                p++;
                while (p < OutSize && (inPadding ? m[p] < 0 : m[p] == m[p - 1] + 1)) p++;
                list.Add((start, p - start, inPadding ? -1 : m[start]));
            }
            runs[kk] = [.. list];
        }
    }

    static void Increment(int[] index, int[] dims)
    {
        for (var d = index.Length - 1; d >= 0; d--)
        {
            if (++index[d] < dims[d]) return;
            index[d] = 0;
        }
    }

    /// <summary>col[(c·K + k), p] = x[c, map[k, p]] for one sample of C channels.</summary>
    public void Im2Col(ReadOnlySpan<float> x, int channels, Span<float> col)
    {
        for (var c = 0; c < channels; c++)
        {
            var xc = x.Slice(c * InSize, InSize);
            for (var kk = 0; kk < KernelSize; kk++)
            {
                var row = col.Slice((c * KernelSize + kk) * OutSize, OutSize);
                foreach (var (start, length, source) in runs[kk])
                    if (source < 0) row.Slice(start, length).Clear();
                    else xc.Slice(source, length).CopyTo(row.Slice(start, length));
            }
        }
    }

    /// <summary>x[c, map[k, p]] += col[(c·K + k), p]: the adjoint of <see cref="Im2Col"/>.</summary>
    public void Col2ImAdd(ReadOnlySpan<float> col, int channels, Span<float> x)
    {
        for (var c = 0; c < channels; c++)
        {
            var xc = x.Slice(c * InSize, InSize);
            for (var kk = 0; kk < KernelSize; kk++)
            {
                var row = col.Slice((c * KernelSize + kk) * OutSize, OutSize);
                foreach (var (start, length, source) in runs[kk])
                    if (source >= 0)
                    {
                        var target = xc.Slice(source, length);
                        System.Numerics.Tensors.TensorPrimitives.Add(target, row.Slice(start, length), target);
                    }
            }
        }
    }
}

public partial class Tensor
{
    /// <summary>
    /// N-d cross-correlation as <c>torch.nn.functional.conv{1,2,3}d</c> (groups = 1), by im2col and BLAS.
    /// input: (N, C, *S), weight: (O, C, *K), bias: (O) or null; result (N, O, *S′).
    /// stride, padding and dilation give one value per spatial dimension (null: 1, 0, 1).
    /// </summary>
    public static Tensor Conv(Tensor input, Tensor weight, Tensor? bias = null, int[]? stride = null, int[]? padding = null, int[]? dilation = null)
    {
        var (x, w) = (input, weight);
        var s = w.Rank - 2;
        if (s < 1 || x.Rank != w.Rank || x.Dims[1] != w.Dims[1])
            throw new InvalidInputException($"Conv: input of shape {ShapeText(x.Dims)} does not match weight of shape {ShapeText(w.Dims)} (need (N, C, *S) and (O, C, *K))");
        CheckBias(bias, w.Dims[0], "Conv");
        if (s == 1 && bias is null && IsPlain(stride, 1) && IsPlain(padding, 0) && IsPlain(dilation, 1) && w.Dims[2] <= x.Dims[2])
            return ShiftedProducts.Correlate(x, w);
        int n = x.Dims[0], c = x.Dims[1], o = w.Dims[0];
        var geometry = new ConvGeometry(x.Dims[2..], w.Dims[2..], Fill(stride, s, 1), Fill(padding, s, 0), Fill(dilation, s, 1), "Conv");
        int ck = c * geometry.KernelSize, p = geometry.OutSize, inSize = c * geometry.InSize;
        var result = Empty([n, o, .. geometry.OutSpatial]);
        var col = new float[ck * p];
        for (var i = 0; i < n; i++)
        {
            geometry.Im2Col(x.Span.Slice(i * inSize, inSize), c, col);
            var y = result.Span.Slice(i * o * p, o * p);
            Blas.Gemm(false, false, o, p, ck, 1f, w.Span, ck, col, p, 0f, y, p);
            AddChannelBias(y, bias, p);
        }
        Tensor[] inputs = bias is null ? [x, w] : [x, w, bias];
        return Autograd.Record(result, "Conv", inputs, g =>
        {
            var grads = new Tensor?[inputs.Length];
            var gx = x.RequiresGrad ? Zeros(x.Dims) : null;
            var gw = w.RequiresGrad ? Zeros(w.Dims) : null;
            var buffer = new float[ck * p];
            for (var i = 0; i < n; i++)
            {
                var gi = g.Span.Slice(i * o * p, o * p);
                if (gw is not null)
                {
                    geometry.Im2Col(x.Span.Slice(i * inSize, inSize), c, buffer);
                    Blas.Gemm(false, true, o, ck, p, 1f, gi, p, buffer, p, 1f, gw.Span, ck);
                }
                if (gx is not null)
                {
                    Blas.Gemm(true, false, ck, p, o, 1f, w.Span, ck, gi, p, 0f, buffer, p);
                    geometry.Col2ImAdd(buffer, c, gx.Span.Slice(i * inSize, inSize));
                }
            }
            grads[0] = gx;
            grads[1] = gw;
            if (bias is not null && bias.RequiresGrad) grads[2] = ChannelSums(g, n, o, p);
            return grads;
        });
    }

    /// <summary>
    /// N-d transposed convolution as <c>torch.nn.functional.conv_transpose{1,2,3}d</c> (groups = 1): the
    /// adjoint of <see cref="Conv"/> with respect to its input. input: (N, Cin, *S), weight: (Cin, Cout, *K),
    /// bias: (Cout) or null; result (N, Cout, *S′) with S′ = (S − 1)·stride − 2·padding + dilation·(K − 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose(Tensor input, Tensor weight, Tensor? bias = null, int[]? stride = null, int[]? padding = null,
        int[]? outputPadding = null, int[]? dilation = null)
    {
        var (x, w) = (input, weight);
        var s = w.Rank - 2;
        if (s < 1 || x.Rank != w.Rank || x.Dims[1] != w.Dims[0])
            throw new InvalidInputException($"ConvTranspose: input of shape {ShapeText(x.Dims)} does not match weight of shape {ShapeText(w.Dims)} (need (N, Cin, *S) and (Cin, Cout, *K))");
        CheckBias(bias, w.Dims[1], "ConvTranspose");
        if (s <= 2 && bias is null && IsPlain(stride, 1) && IsPlain(padding, 0) && IsPlain(outputPadding, 0) && IsPlain(dilation, 1))
            return s == 1 ? ShiftedProducts.Deconvolve(x, w) : DirectDeconvolution2d.Deconvolve(x, w);
        int n = x.Dims[0], cin = x.Dims[1], cout = w.Dims[1];
        var st = Fill(stride, s, 1);
        var pad = Fill(padding, s, 0);
        var outPad = Fill(outputPadding, s, 0);
        var dil = Fill(dilation, s, 1);
        var outSpatial = new int[s];
        for (var d = 0; d < s; d++)
        {
            if (outPad[d] < 0 || (outPad[d] >= st[d] && outPad[d] >= dil[d]))
                throw new InvalidInputException($"ConvTranspose: output padding {outPad[d]} must be smaller than the stride or the dilation");
            outSpatial[d] = (x.Dims[2 + d] - 1) * st[d] - 2 * pad[d] + dil[d] * (w.Dims[2 + d] - 1) + outPad[d] + 1;
            if (outSpatial[d] < 1)
                throw new InvalidInputException($"ConvTranspose: input {ShapeText(x.Dims)} with kernel {ShapeText(w.Dims)} and padding {pad[d]} gives an empty output");
        }
        var geometry = new ConvGeometry(outSpatial, w.Dims[2..], st, pad, dil, "ConvTranspose");
        if (!geometry.OutSpatial.AsSpan().SequenceEqual(x.Dims.AsSpan(2)))
            throw new InvalidInputException($"ConvTranspose: input spatial shape {ShapeText(x.Dims[2..])} is inconsistent with the output {ShapeText(outSpatial)}");
        int ck = cout * geometry.KernelSize, p = geometry.OutSize, outSize = cout * geometry.InSize, inSize = cin * p;
        var result = Zeros([n, cout, .. outSpatial]);
        var col = new float[ck * p];
        for (var i = 0; i < n; i++)
        {
            Blas.Gemm(true, false, ck, p, cin, 1f, w.Span, ck, x.Span.Slice(i * inSize, inSize), p, 0f, col, p);
            var y = result.Span.Slice(i * outSize, outSize);
            geometry.Col2ImAdd(col, cout, y);
            AddChannelBias(y, bias, geometry.InSize);
        }
        Tensor[] inputs = bias is null ? [x, w] : [x, w, bias];
        return Autograd.Record(result, "ConvTranspose", inputs, g =>
        {
            var grads = new Tensor?[inputs.Length];
            var gx = x.RequiresGrad ? Zeros(x.Dims) : null;
            var gw = w.RequiresGrad ? Zeros(w.Dims) : null;
            var buffer = new float[ck * p];
            for (var i = 0; i < n; i++)
            {
                geometry.Im2Col(g.Span.Slice(i * outSize, outSize), cout, buffer);
                if (gx is not null) Blas.Gemm(false, false, cin, p, ck, 1f, w.Span, ck, buffer, p, 0f, gx.Span.Slice(i * inSize, inSize), p);
                if (gw is not null) Blas.Gemm(false, true, cin, ck, p, 1f, x.Span.Slice(i * inSize, inSize), p, buffer, p, 1f, gw.Span, ck);
            }
            grads[0] = gx;
            grads[1] = gw;
            if (bias is not null && bias.RequiresGrad) grads[2] = ChannelSums(g, n, cout, geometry.InSize);
            return grads;
        });
    }

    /// <summary>1-d convolution: input (N, C, L), weight (O, C, K).</summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1) =>
        Conv(input, weight, bias, [stride], [padding], [dilation]);

    /// <summary>2-d convolution: input (N, C, H, W), weight (O, C, KH, KW).</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1) =>
        Conv(input, weight, bias, [stride, stride], [padding, padding], [dilation, dilation]);

    /// <summary>3-d convolution: input (N, C, D, H, W), weight (O, C, KD, KH, KW).</summary>
    public static Tensor Conv3d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1) =>
        Conv(input, weight, bias, [stride, stride, stride], [padding, padding, padding], [dilation, dilation, dilation]);

    /// <summary>1-d transposed convolution: input (N, Cin, L), weight (Cin, Cout, K).</summary>
    public static Tensor ConvTranspose1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1) =>
        ConvTranspose(input, weight, bias, [stride], [padding], [outputPadding], [dilation]);

    /// <summary>2-d transposed convolution: input (N, Cin, H, W), weight (Cin, Cout, KH, KW).</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1) =>
        ConvTranspose(input, weight, bias, [stride, stride], [padding, padding], [outputPadding, outputPadding], [dilation, dilation]);

    /// <summary>3-d transposed convolution: input (N, Cin, D, H, W), weight (Cin, Cout, KD, KH, KW).</summary>
    public static Tensor ConvTranspose3d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1) =>
        ConvTranspose(input, weight, bias, [stride, stride, stride], [padding, padding, padding], [outputPadding, outputPadding, outputPadding], [dilation, dilation, dilation]);

    static bool IsPlain(int[]? values, int neutral) => values is null || values.All(v => v == neutral);

    static int[] Fill(int[]? values, int rank, int fallback)
    {
        if (values is null) return Enumerable.Repeat(fallback, rank).ToArray();
        if (values.Length != rank) throw new InvalidInputException($"convolution: {values.Length} values given for {rank} spatial dimensions");
        return values;
    }

    static void CheckBias(Tensor? bias, int channels, string operation)
    {
        if (bias is not null && (bias.Rank != 1 || bias.Dims[0] != channels))
            throw new InvalidInputException($"{operation}: bias of shape {ShapeText(bias.Dims)} does not match {channels} output channels");
    }

    static void AddChannelBias(Span<float> y, Tensor? bias, int positions)
    {
        if (bias is null) return;
        for (var ch = 0; ch < bias.Count; ch++)
            System.Numerics.Tensors.TensorPrimitives.Add(y.Slice(ch * positions, positions), bias.Span[ch], y.Slice(ch * positions, positions));
    }

    static Tensor ChannelSums(Tensor g, int n, int channels, int positions)
    {
        var sums = Zeros(channels);
        for (var i = 0; i < n; i++)
            for (var ch = 0; ch < channels; ch++)
                sums.Span[ch] += System.Numerics.Tensors.TensorPrimitives.Sum(g.Span.Slice((i * channels + ch) * positions, positions));
        return sums;
    }
}

/// <summary>
/// The 1-d convolutions with stride 1, no padding and no dilation (NMFD's case) as K shifted matrix products:
/// a kernel offset k multiplies the k-th weight slice with the input (or output) shifted by k, written straight
/// into the strided output by BLAS. No im2col buffer, so the work is the GEMM FLOPs and little memory traffic.
/// </summary>
internal static class ShiftedProducts
{
    /// <summary>w[:, :, k] as a contiguous (A, B) matrix for every k.</summary>
    static float[][] Slices(Tensor w)
    {
        int a = w.Dims[0], b = w.Dims[1], k = w.Dims[2];
        var ws = w.Span;
        var slices = new float[k][];
        for (var t = 0; t < k; t++)
        {
            slices[t] = new float[a * b];
            for (var i = 0; i < a * b; i++) slices[t][i] = ws[i * k + t];
        }
        return slices;
    }

    static Tensor Gather(float[][] slices, int a, int b)
    {
        var k = slices.Length;
        var result = Tensor.Empty([a, b, k]);
        var rs = result.Span;
        for (var t = 0; t < k; t++)
            for (var i = 0; i < a * b; i++) rs[i * k + t] = slices[t][i];
        return result;
    }

    /// <summary>y[n, o, i] = Σ_c Σ_k x[n, c, i + k]·w[o, c, k]: x (N, C, L), w (O, C, K) → (N, O, L − K + 1).</summary>
    public static Tensor Correlate(Tensor x, Tensor w)
    {
        int n = x.Dims[0], c = x.Dims[1], l = x.Dims[2], o = w.Dims[0], k = w.Dims[2], p = l - k + 1;
        var slices = Slices(w); // (O, C) each
        var result = Tensor.Zeros(n, o, p);
        for (var i = 0; i < n; i++)
            for (var t = 0; t < k; t++)
                Blas.Gemm(false, false, o, p, c, 1f, slices[t], c, x.Span.Slice(i * c * l + t), l, 1f, result.Span.Slice(i * o * p, o * p), p);
        return Autograd.Record(result, "Conv", [x, w], g =>
        {
            Tensor? gx = null, gw = null;
            if (x.RequiresGrad)
            {
                gx = Tensor.Zeros(x.Dims);
                for (var i = 0; i < n; i++)
                    for (var t = 0; t < k; t++) // gx[:, t : t + P] += w_tᵀ·g
                        Blas.Gemm(true, false, c, p, o, 1f, slices[t], c, g.Span.Slice(i * o * p, o * p), p, 1f, gx.Span.Slice(i * c * l + t), l);
            }
            if (w.RequiresGrad)
            {
                var parts = Enumerable.Range(0, k).Select(_ => new float[o * c]).ToArray();
                for (var i = 0; i < n; i++)
                    for (var t = 0; t < k; t++) // gw_t += g·x[:, t : t + P]ᵀ
                        Blas.Gemm(false, true, o, c, p, 1f, g.Span.Slice(i * o * p, o * p), p, x.Span.Slice(i * c * l + t), l, 1f, parts[t], c);
                gw = Gather(parts, o, c);
            }
            return [gx, gw];
        });
    }

    /// <summary>
    /// y[n, c, j] = Σ_r Σ_k x[n, r, j − k]·w[r, c, k]: x (N, R, P), w (R, C, K) → (N, C, P + K − 1).
    /// With the shift stack S (R·K, L), S[r·K + k, j] = x[r, j − k], every product is one well-shaped GEMM:
    /// y = W·S, ∂x from (Wᵀ·g) summed back along the shifts, ∂w = g·Sᵀ, with W (C, R·K) = w[r, c, k] reordered.
    /// (K products with an inner dimension of R, as the correlation does, would run BLAS far below its peak for NMFD's small R.)
    /// </summary>
    public static Tensor Deconvolve(Tensor x, Tensor w)
    {
        int n = x.Dims[0], r = x.Dims[1], p = x.Dims[2], c = w.Dims[1], k = w.Dims[2], l = p + k - 1, rk = r * k;
        var wm = Reordered(w);
        var stack = new float[rk * l];
        var result = Tensor.Empty([n, c, l]);
        for (var i = 0; i < n; i++)
        {
            ShiftStack(x.Span.Slice(i * r * p, r * p), r, p, k, stack);
            Blas.Gemm(false, false, c, l, rk, 1f, wm, rk, stack, l, 0f, result.Span.Slice(i * c * l, c * l), l);
        }
        return Autograd.Record(result, "ConvTranspose", [x, w], g =>
        {
            Tensor? gx = null, gw = null;
            if (x.RequiresGrad)
            {
                gx = Tensor.Zeros(x.Dims);
                var z = new float[rk * l];
                for (var i = 0; i < n; i++)
                {
                    Blas.Gemm(true, false, rk, l, c, 1f, wm, rk, g.Span.Slice(i * c * l, c * l), l, 0f, z, l);
                    var gxi = gx.Span.Slice(i * r * p, r * p);
                    for (var rr = 0; rr < r; rr++)
                        for (var t = 0; t < k; t++) // gx[r, j] += Z[r·K + t, j + t]
                            TensorPrimitives.Add(gxi.Slice(rr * p, p), z.AsSpan((rr * k + t) * l + t, p), gxi.Slice(rr * p, p));
                }
            }
            if (w.RequiresGrad)
            {
                var gm = new float[c * rk];
                for (var i = 0; i < n; i++)
                {
                    ShiftStack(x.Span.Slice(i * r * p, r * p), r, p, k, stack);
                    Blas.Gemm(false, true, c, rk, l, 1f, g.Span.Slice(i * c * l, c * l), l, stack, l, 1f, gm, rk);
                }
                gw = Tensor.Empty([r, c, k]);
                var gws = gw.Span;
                for (var cc = 0; cc < c; cc++)
                    for (var rr = 0; rr < r; rr++) gm.AsSpan(cc * rk + rr * k, k).CopyTo(gws.Slice((rr * c + cc) * k, k));
            }
            return [gx, gw];
        });
    }

    /// <summary>w (R, C, K) as the (C, R·K) matrix W[c, r·K + k] = w[r, c, k].</summary>
    static float[] Reordered(Tensor w)
    {
        int r = w.Dims[0], c = w.Dims[1], k = w.Dims[2];
        var ws = w.Span;
        var wm = new float[c * r * k];
        for (var rr = 0; rr < r; rr++)
            for (var cc = 0; cc < c; cc++) ws.Slice((rr * c + cc) * k, k).CopyTo(wm.AsSpan(cc * r * k + rr * k, k));
        return wm;
    }

    /// <summary>S[r·K + k, j] = x[r, j − k] (zero outside): x (R, P) → S (R·K, P + K − 1).</summary>
    static void ShiftStack(ReadOnlySpan<float> x, int r, int p, int k, float[] stack)
    {
        var l = p + k - 1;
        Array.Clear(stack);
        for (var rr = 0; rr < r; rr++)
            for (var t = 0; t < k; t++) x.Slice(rr * p, p).CopyTo(stack.AsSpan((rr * k + t) * l + t, p));
    }
}

/// <summary>
/// The 2-d transposed convolution with stride 1 and no padding (NMF2D's case) computed directly, row by row:
/// y[n, c, i + a, j + b] += w[r, c, a, b]·x[n, r, i, j] is a SIMD multiply-add of a whole x row into a y row for
/// every (r, a, b), and the weight gradient a dot product of rows. NMF2D has few channels and templates (C = 1 for
/// a spectrogram), so im2col would build a buffer K₁·K₂ times V's size and feed BLAS products with an inner
/// dimension of R; the direct form keeps every row in L1 and does only the FLOPs. Rows run in parallel.
/// </summary>
internal static class DirectDeconvolution2d
{
    /// <summary>x (N, R, P₁, P₂), w (R, C, K₁, K₂) → y (N, C, P₁ + K₁ − 1, P₂ + K₂ − 1).</summary>
    public static Tensor Deconvolve(Tensor x, Tensor w)
    {
        int n = x.Dims[0], r = x.Dims[1], p1 = x.Dims[2], p2 = x.Dims[3];
        int c = w.Dims[1], k1 = w.Dims[2], k2 = w.Dims[3], l1 = p1 + k1 - 1, l2 = p2 + k2 - 1;
        var result = Tensor.Empty([n, c, l1, l2]);
        var (xs, ws, ys) = (x.Storage, w.Storage, result.Storage);
        int xo = x.Offset, wo = w.Offset;
        // one task per output row (n, c, row): it gathers every (r, a, b) contribution, so rows never collide
        Parallel.For(0, n * c * l1, ComputeThreads.Options, row =>
        {
            int ni = row / (c * l1), ci = row / l1 % c, li = row % l1;
            var y = ys.AsSpan(row * l2, l2);
            y.Clear();
            for (var a = Math.Max(0, li - p1 + 1); a <= Math.Min(k1 - 1, li); a++)
                for (var ri = 0; ri < r; ri++)
                {
                    var xRow = xs.AsSpan(xo + ((ni * r + ri) * p1 + li - a) * p2, p2);
                    var wRow = wo + ((ri * c + ci) * k1 + a) * k2;
                    for (var b = 0; b < k2; b++)
                    {
                        var target = y.Slice(b, p2);
                        TensorPrimitives.MultiplyAdd(xRow, ws[wRow + b], target, target);
                    }
                }
        });
        return Autograd.Record(result, "ConvTranspose", [x, w], g =>
        {
            var gs = g.Storage;
            var go = g.Offset;
            Tensor? gx = null, gw = null;
            if (x.RequiresGrad)
            {
                // ∂x[n, r, i, j] = Σ_{c, a, b} w[r, c, a, b]·g[n, c, i + a, j + b]: a correlation, one task per x row
                gx = Tensor.Empty(x.Dims); // every row is cleared by its own task: no serial zeroing of an H-sized buffer
                var gxs = gx.Storage;
                Parallel.For(0, n * r * p1, ComputeThreads.Options, row =>
                {
                    int ni = row / (r * p1), ri = row / p1 % r, i = row % p1;
                    var target = gxs.AsSpan(row * p2, p2);
                    target.Clear();
                    for (var ci = 0; ci < c; ci++)
                        for (var a = 0; a < k1; a++)
                        {
                            var gRow = go + ((ni * c + ci) * l1 + i + a) * l2;
                            var wRow = wo + ((ri * c + ci) * k1 + a) * k2;
                            for (var b = 0; b < k2; b++)
                                TensorPrimitives.MultiplyAdd(gs.AsSpan(gRow + b, p2), ws[wRow + b], target, target);
                        }
                });
            }
            if (w.RequiresGrad)
            {
                // ∂w[r, c, a, b] = Σ_{n, i, j} x[n, r, i, j]·g[n, c, i + a, j + b]: one task per (r, c, a), K₂ dot products per row
                gw = Tensor.Zeros(w.Dims);
                var gws = gw.Storage;
                Parallel.For(0, r * c * k1, ComputeThreads.Options, task =>
                {
                    int ri = task / (c * k1), ci = task / k1 % c, a = task % k1;
                    var sums = new double[k2];
                    for (var ni = 0; ni < n; ni++)
                        for (var i = 0; i < p1; i++)
                        {
                            var xRow = xs.AsSpan(xo + ((ni * r + ri) * p1 + i) * p2, p2);
                            var gRow = go + ((ni * c + ci) * l1 + i + a) * l2;
                            for (var b = 0; b < k2; b++) sums[b] += TensorPrimitives.Dot(xRow, gs.AsSpan(gRow + b, p2));
                        }
                    for (var b = 0; b < k2; b++) gws[task * k2 + b] = (float)sums[b];
                });
            }
            return [gx, gw];
        });
    }
}
