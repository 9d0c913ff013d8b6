using System.Numerics;
using System.Numerics.Tensors;

namespace Pipeline.Training.Tensors;

public partial class Tensor
{
    // ---- Arithmetic with broadcasting -------------------------------------------------------------

    /// <summary>this + other, broadcasting.</summary>
    public Tensor Add(Tensor other)
    {
        var (a, b) = (this, other);
        var result = Broadcasting.Apply(a, b, BinaryOp.Add, "Add");
        return Autograd.Record(result, "Add", [a, b], g =>
            [a.RequiresGrad ? Broadcasting.ReduceTo(g, a.Dims) : null, b.RequiresGrad ? Broadcasting.ReduceTo(g, b.Dims) : null]);
    }

    /// <summary>this − other, broadcasting.</summary>
    public Tensor Sub(Tensor other)
    {
        var (a, b) = (this, other);
        var result = Broadcasting.Apply(a, b, BinaryOp.Subtract, "Sub");
        return Autograd.Record(result, "Sub", [a, b], g =>
            [a.RequiresGrad ? Broadcasting.ReduceTo(g, a.Dims) : null, b.RequiresGrad ? Broadcasting.ReduceTo(g, b.Dims).ScaleNoGrad(-1f) : null]);
    }

    /// <summary>this ⊙ other (elementwise), broadcasting.</summary>
    public Tensor Mul(Tensor other)
    {
        var (a, b) = (this, other);
        var result = Broadcasting.Apply(a, b, BinaryOp.Multiply, "Mul");
        return Autograd.Record(result, "Mul", [a, b], g =>
        [
            a.RequiresGrad ? Broadcasting.ReduceTo(Broadcasting.Apply(g, b, BinaryOp.Multiply, "Mul"), a.Dims) : null,
            b.RequiresGrad ? Broadcasting.ReduceTo(Broadcasting.Apply(g, a, BinaryOp.Multiply, "Mul"), b.Dims) : null,
        ]);
    }

    /// <summary>this / other (elementwise), broadcasting.</summary>
    public Tensor Div(Tensor other)
    {
        var (a, b) = (this, other);
        var result = Broadcasting.Apply(a, b, BinaryOp.Divide, "Div");
        return Autograd.Record(result, "Div", [a, b], g =>
        [
            a.RequiresGrad ? Broadcasting.ReduceTo(Broadcasting.Apply(g, b, BinaryOp.Divide, "Div"), a.Dims) : null,
            // d(a/b)/db = −(a/b)/b
            b.RequiresGrad
                ? Broadcasting.ReduceTo(Broadcasting.Apply(Broadcasting.Apply(g, result, BinaryOp.Multiply, "Div"), b, BinaryOp.Divide, "Div"), b.Dims).ScaleNoGrad(-1f)
                : null,
        ]);
    }

    /// <summary>this + s.</summary>
    public Tensor Add(float s)
    {
        var x = this;
        var result = Empty(Dims);
        TensorPrimitives.Add(x.Span, s, result.Span);
        return Autograd.Record(result, "AddScalar", [x], g => [g]);
    }

    /// <summary>this · s.</summary>
    public Tensor Mul(float s)
    {
        var result = ScaleNoGrad(s);
        return Autograd.Record(result, "MulScalar", [this], g => [g.ScaleNoGrad(s)]);
    }

    /// <summary>s / this.</summary>
    public Tensor Reciprocal(float s = 1f)
    {
        var x = this;
        var result = Empty(Dims);
        TensorPrimitives.Divide(s, x.Span, result.Span);
        // d(s/x)/dx = −(s/x)/x
        return Autograd.Record(result, "Reciprocal", [x], g =>
            [Broadcasting.Apply(Broadcasting.Apply(g, result, BinaryOp.Multiply, "Reciprocal"), x, BinaryOp.Divide, "Reciprocal").ScaleNoGrad(-1f)]);
    }

    internal Tensor ScaleNoGrad(float s)
    {
        var result = Empty(Dims);
        TensorPrimitives.Multiply(Span, s, result.Span);
        return result;
    }

    internal Tensor AddNoGrad(Tensor other)
    {
        var result = Empty(Dims);
        TensorPrimitives.Add(Span, other.Span, result.Span);
        return result;
    }

    /// <summary>Elementwise sum, broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Elementwise difference, broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Elementwise product, broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Elementwise quotient, broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary>Adds a number to every element.</summary>
    public static Tensor operator +(Tensor a, float s) => a.Add(s);
    /// <summary>Adds a number to every element.</summary>
    public static Tensor operator +(float s, Tensor a) => a.Add(s);
    /// <summary>Subtracts a number from every element.</summary>
    public static Tensor operator -(Tensor a, float s) => a.Add(-s);
    /// <summary>A number minus every element.</summary>
    public static Tensor operator -(float s, Tensor a) => a.Neg().Add(s);
    /// <summary>Scales every element.</summary>
    public static Tensor operator *(Tensor a, float s) => a.Mul(s);
    /// <summary>Scales every element.</summary>
    public static Tensor operator *(float s, Tensor a) => a.Mul(s);
    /// <summary>Divides every element by a number.</summary>
    public static Tensor operator /(Tensor a, float s) => a.Mul(1f / s);
    /// <summary>A number divided by every element.</summary>
    public static Tensor operator /(float s, Tensor a) => a.Reciprocal(s);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();

    // ---- Unary functions --------------------------------------------------------------------------

    /// <summary>−x.</summary>
    public Tensor Neg() => Mul(-1f);

    /// <summary>eˣ.</summary>
    public Tensor Exp()
    {
        var result = Empty(Dims);
        TensorPrimitives.Exp(Span, result.Span);
        return Autograd.Record(result, "Exp", [this], g => [Product(g, result)]);
    }

    /// <summary>Natural logarithm.</summary>
    public Tensor Log()
    {
        var x = this;
        var result = Empty(Dims);
        TensorPrimitives.Log(x.Span, result.Span);
        return Autograd.Record(result, "Log", [x], g => [Quotient(g, x)]);
    }

    /// <summary>xᵖ for a constant exponent.</summary>
    public Tensor Pow(float p)
    {
        var x = this;
        var result = Empty(Dims);
        if (p == 2f) TensorPrimitives.Multiply(x.Span, x.Span, result.Span);
        else TensorPrimitives.Pow(x.Span, p, result.Span);
        return Autograd.Record(result, "Pow", [x], g =>
        {
            var d = Empty(x.Dims);
            if (p == 2f) TensorPrimitives.Multiply(x.Span, 2f, d.Span);
            else { TensorPrimitives.Pow(x.Span, p - 1f, d.Span); TensorPrimitives.Multiply(d.Span, p, d.Span); }
            TensorPrimitives.Multiply(d.Span, g.Span, d.Span);
            return [d];
        });
    }

    /// <summary>x².</summary>
    public Tensor Square() => Pow(2f);

    /// <summary>√x.</summary>
    public Tensor Sqrt()
    {
        var result = Empty(Dims);
        TensorPrimitives.Sqrt(Span, result.Span);
        return Autograd.Record(result, "Sqrt", [this], g =>
        {
            var d = Empty(result.Dims);
            TensorPrimitives.Divide(g.Span, result.Span, d.Span);
            TensorPrimitives.Multiply(d.Span, 0.5f, d.Span);
            return [d];
        });
    }

    /// <summary>|x|; the gradient at 0 is 0.</summary>
    public Tensor Abs()
    {
        var x = this;
        var result = Empty(Dims);
        TensorPrimitives.Abs(x.Span, result.Span);
        return Autograd.Record(result, "Abs", [x], g =>
        {
            var d = Empty(x.Dims);
            ReadOnlySpan<float> xs = x.Span, gs = g.Span;
            var ds = d.Span;
            for (var i = 0; i < ds.Length; i++) ds[i] = xs[i] > 0 ? gs[i] : xs[i] < 0 ? -gs[i] : 0f;
            return [d];
        });
    }

    /// <summary>max(x, 0); the gradient at 0 is 0, as in PyTorch.</summary>
    public Tensor Relu()
    {
        var x = this;
        var result = Empty(Dims);
        TensorPrimitives.Max(x.Span, 0f, result.Span);
        return Autograd.Record(result, "Relu", [x], g => [PassWherePositive(g, result)]);
    }

    /// <summary>1 / (1 + e⁻ˣ).</summary>
    public Tensor Sigmoid()
    {
        var result = Empty(Dims);
        TensorPrimitives.Sigmoid(Span, result.Span);
        return Autograd.Record(result, "Sigmoid", [this], g =>
        {
            var d = Empty(result.Dims);
            ReadOnlySpan<float> y = result.Span, gs = g.Span;
            var ds = d.Span;
            for (var i = 0; i < ds.Length; i++) ds[i] = gs[i] * y[i] * (1f - y[i]);
            return [d];
        });
    }

    /// <summary>tanh x.</summary>
    public Tensor Tanh()
    {
        var result = Empty(Dims);
        TensorPrimitives.Tanh(Span, result.Span);
        return Autograd.Record(result, "Tanh", [this], g =>
        {
            var d = Empty(result.Dims);
            ReadOnlySpan<float> y = result.Span, gs = g.Span;
            var ds = d.Span;
            for (var i = 0; i < ds.Length; i++) ds[i] = gs[i] * (1f - y[i] * y[i]);
            return [d];
        });
    }

    /// <summary>ln(1 + eˣ), linear above <paramref name="threshold"/> as in PyTorch (β = 1).</summary>
    public Tensor Softplus(float threshold = 20f)
    {
        var x = this;
        var result = Empty(Dims);
        ReadOnlySpan<float> xs = x.Span;
        var ys = result.Span;
        // max(x, 0) + log1p(e^−|x|) never overflows.
        for (var i = 0; i < ys.Length; i++)
            ys[i] = xs[i] > threshold ? xs[i] : MathF.Max(xs[i], 0f) + float.LogP1(MathF.Exp(-MathF.Abs(xs[i])));
        return Autograd.Record(result, "Softplus", [x], g =>
        {
            var d = Empty(x.Dims);
            ReadOnlySpan<float> xv = x.Span, gs = g.Span;
            var ds = d.Span;
            for (var i = 0; i < ds.Length; i++) ds[i] = xv[i] > threshold ? gs[i] : gs[i] / (1f + MathF.Exp(-xv[i]));
            return [d];
        });
    }

    /// <summary>
    /// Clamps into [min, max] (either bound optional). The gradient passes where min ≤ x ≤ max, as in PyTorch.
    /// </summary>
    public Tensor Clamp(float? min = null, float? max = null)
    {
        var x = this;
        var lo = min ?? float.NegativeInfinity;
        var hi = max ?? float.PositiveInfinity;
        var result = Empty(Dims);
        TensorPrimitives.Max(x.Span, lo, result.Span);
        TensorPrimitives.Min(result.Span, hi, result.Span);
        return Autograd.Record(result, "Clamp", [x], g =>
        {
            var d = Empty(x.Dims);
            ReadOnlySpan<float> xs = x.Span, gs = g.Span;
            var ds = d.Span;
            for (var i = 0; i < ds.Length; i++) ds[i] = xs[i] >= lo && xs[i] <= hi ? gs[i] : 0f;
            return [d];
        });
    }

    static Tensor Product(Tensor a, Tensor b)
    {
        var r = Empty(a.Dims);
        TensorPrimitives.Multiply(a.Span, b.Span, r.Span);
        return r;
    }

    static Tensor Quotient(Tensor a, Tensor b)
    {
        var r = Empty(a.Dims);
        TensorPrimitives.Divide(a.Span, b.Span, r.Span);
        return r;
    }

    /// <summary>g where y &gt; 0, else 0 (the ReLU backward, vectorised).</summary>
    internal static Tensor PassWherePositive(Tensor g, Tensor y)
    {
        var d = Empty(g.Dims);
        ReadOnlySpan<float> gs = g.Span, ys = y.Span;
        var ds = d.Span;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= ds.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var yv = new Vector<float>(ys.Slice(i));
                Vector.ConditionalSelect(Vector.GreaterThan(yv, Vector<float>.Zero), new Vector<float>(gs.Slice(i)), Vector<float>.Zero).CopyTo(ds.Slice(i));
            }
        for (; i < ds.Length; i++) ds[i] = ys[i] > 0 ? gs[i] : 0f;
        return d;
    }
}
