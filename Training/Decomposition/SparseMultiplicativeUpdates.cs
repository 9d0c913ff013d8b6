namespace Pipeline.Training.Decomposition;

/// <summary>
/// β = 2 and β = 1 multiplicative updates with V sparse: every product with V visits only its stored entries, and
/// W·H is needed only there (β = 1) or not at all (β = 2, through WᵀW and HHᵀ), so memory and time scale with the
/// non-zeros. Same rules, penalties and floors as <see cref="MultiplicativeUpdates"/>.
/// </summary>
internal sealed class SparseMultiplicativeUpdates(SparseMatrix v, float[] w, float[] h, int k, double beta, float epsilon, float l1, float l2)
    : IMultiplicativeUpdates
{
    readonly int f = v.Rows, t = v.Columns;

    /// <summary>(W·H) at V's stored entries.</summary>
    float[] ProductAtEntries()
    {
        var values = new float[v.NonZeros];
        for (var i = 0; i < f; i++)
            for (var p = v.RowStarts[i]; p < v.RowStarts[i + 1]; p++)
            {
                var j = v.ColumnIndices[p];
                float s = 0;
                for (var c = 0; c < k; c++) s += w[i * k + c] * h[c * t + j];
                values[p] = s;
            }
        return values;
    }

    /// <summary>The sparse matrix with V's pattern that the numerators multiply: V (β = 2) or V / (W·H) (β = 1).</summary>
    float[] NumeratorEntries()
    {
        if (beta == 2) return v.Values;
        var y = ProductAtEntries();
        for (var p = 0; p < y.Length; p++) y[p] = v.Values[p] / MathF.Max(y[p], epsilon);
        return y;
    }

    public void UpdateH()
    {
        var x = NumeratorEntries();
        var numerator = new float[k * t]; // Wᵀ·X
        for (var i = 0; i < f; i++)
            for (var p = v.RowStarts[i]; p < v.RowStarts[i + 1]; p++)
            {
                var j = v.ColumnIndices[p];
                for (var c = 0; c < k; c++) numerator[c * t + j] += w[i * k + c] * x[p];
            }
        var denominator = new float[k * t];
        if (beta == 2)
        {
            var gram = new float[k * k]; // WᵀW, then (WᵀW)·H
            Linalg.Blas.Gemm(true, false, k, k, f, 1f, w, k, w, k, 0f, gram, k);
            Linalg.Blas.MatMul(gram, h, denominator, k, k, t);
        }
        else
            for (var c = 0; c < k; c++)
            {
                float sum = 0;
                for (var i = 0; i < f; i++) sum += w[i * k + c];
                denominator.AsSpan(c * t, t).Fill(sum);
            }
        for (var i = 0; i < h.Length; i++) h[i] *= numerator[i] / MathF.Max(denominator[i] + l1 + l2 * h[i], epsilon);
    }

    public void UpdateW()
    {
        var x = NumeratorEntries();
        var numerator = new float[f * k]; // X·Hᵀ
        for (var i = 0; i < f; i++)
            for (var p = v.RowStarts[i]; p < v.RowStarts[i + 1]; p++)
            {
                var j = v.ColumnIndices[p];
                for (var c = 0; c < k; c++) numerator[i * k + c] += x[p] * h[c * t + j];
            }
        var denominator = new float[f * k];
        if (beta == 2)
        {
            var gram = new float[k * k]; // HHᵀ, then W·(HHᵀ)
            Linalg.Blas.Gemm(false, true, k, k, t, 1f, h, t, h, t, 0f, gram, k);
            Linalg.Blas.MatMul(w, gram, denominator, f, k, k);
        }
        else
            for (var c = 0; c < k; c++)
            {
                float sum = 0;
                for (var j = 0; j < t; j++) sum += h[c * t + j];
                for (var i = 0; i < f; i++) denominator[i * k + c] = sum;
            }
        for (var i = 0; i < w.Length; i++) w[i] *= numerator[i] / MathF.Max(denominator[i] + l1 + l2 * w[i], epsilon);
    }

    /// <summary>The β-divergence of V and W·H without forming W·H: the zeros of V contribute through closed forms.</summary>
    public double Loss()
    {
        var y = ProductAtEntries();
        if (beta == 2)
        {
            // ½‖V − WH‖² = ½(‖V‖² − 2⟨V, WH⟩ + tr((WᵀW)(HHᵀ)))
            double vv = 0, vy = 0;
            for (var p = 0; p < y.Length; p++) { vv += (double)v.Values[p] * v.Values[p]; vy += (double)v.Values[p] * y[p]; }
            var ww = new float[k * k];
            var hh = new float[k * k];
            Linalg.Blas.Gemm(true, false, k, k, f, 1f, w, k, w, k, 0f, ww, k);
            Linalg.Blas.Gemm(false, true, k, k, t, 1f, h, t, h, t, 0f, hh, k);
            double trace = 0;
            for (var i = 0; i < k * k; i++) trace += (double)ww[i] * hh[i];
            return 0.5 * (vv - 2 * vy + trace);
        }
        // KL: Σ_nz v·ln(v / y) − Σ_nz v + Σ_all WH, with Σ_all WH = Σ_c (Σ_i W[i, c])·(Σ_j H[c, j])
        double sum = 0;
        for (var p = 0; p < y.Length; p++)
        {
            double value = v.Values[p];
            if (value > 0) sum += value * Math.Log(value / Math.Max(y[p], epsilon)) - value;
        }
        for (var c = 0; c < k; c++)
        {
            double columns = 0, rows = 0;
            for (var i = 0; i < f; i++) columns += w[i * k + c];
            for (var j = 0; j < t; j++) rows += h[c * t + j];
            sum += columns * rows;
        }
        return sum;
    }
}
