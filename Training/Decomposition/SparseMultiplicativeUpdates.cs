using static TorchSharp.torch;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// β = 2 and β = 1 multiplicative updates of an <see cref="NmfComponent"/> with V a LibTorch sparse (COO) tensor,
/// on any device: every product with V is a sparse-dense product over its stored entries, and the reconstruction is
/// needed only there (β = 1) or not at all (β = 2, through WᵀW and HᵀH), so memory and time scale with the
/// non-zeros. Same rules, penalties and floors as <see cref="MultiplicativeUpdates"/>. Layout: V (T, F), W (F, K), H (T, K).
/// </summary>
internal sealed class SparseMultiplicativeUpdates : IMultiplicativeUpdates
{
    // entries of the reconstruction formed at once, at most: bounds the (entries × K) temporaries
    const long EntriesPerBlock = 1 << 16;

    readonly NmfComponent _model;
    readonly Tensor _v, _indices, _frames, _features, _values;
    readonly double _beta;
    readonly float _epsilon, _l1, _l2;

    /// <summary>V's stored entries as frame index, feature index and value, on the model's device.</summary>
    public SparseMultiplicativeUpdates(SparseMatrix v, NmfComponent model, double beta, float epsilon, float l1, float l2)
    {
        (_model, _beta, _epsilon, _l1, _l2) = (model, beta, epsilon, l1, l2);
        var device = model.W.device;
        var features = new long[v.NonZeros];
        for (var i = 0; i < v.Rows; i++)
            for (var p = v.RowStarts[i]; p < v.RowStarts[i + 1]; p++) features[p] = i;
        _features = tensor(features, device: device);
        _frames = tensor(v.ColumnIndices.Select(j => (long)j).ToArray(), device: device);
        _values = tensor(v.Values, device: device);
        _indices = stack([_frames, _features]);
        _v = sparse_coo_tensor(_indices, _values, [v.Columns, v.Rows]); // entries are unique: SparseMatrix sums repeats
    }

    /// <summary>(H·Wᵀ) at V's stored entries, in blocks.</summary>
    Tensor ProductAtEntries()
    {
        var (w, h) = (_model.W.detach(), _model.H.detach());
        var count = _values.shape[0];
        var blocks = new List<Tensor>();
        for (long start = 0; start < count; start += EntriesPerBlock)
        {
            var length = Math.Min(EntriesPerBlock, count - start);
            blocks.Add((h.index_select(0, _frames.narrow(0, start, length)) * w.index_select(0, _features.narrow(0, start, length))).sum([1L]));
        }
        return blocks.Count == 1 ? blocks[0] : cat(blocks);
    }

    /// <summary>The sparse matrix with V's pattern that the numerators multiply: V (β = 2) or V / (H·Wᵀ) (β = 1).</summary>
    Tensor Numerator() => _beta == 2 ? _v.alias() : sparse_coo_tensor(_indices, _values / ProductAtEntries().clamp_min(_epsilon), _v.shape);

    public void UpdateH()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (w, h) = (_model.W.detach(), _model.H.detach());
        var numerator = Numerator().mm(w);                                   // (T, K)
        var denominator = _beta == 2 ? h.mm(w.t().mm(w)) : w.sum([0L], keepdim: true);
        Apply(h, numerator, denominator);
    }

    public void UpdateW()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (w, h) = (_model.W.detach(), _model.H.detach());
        var numerator = Numerator().t().mm(h);                               // (F, K)
        var denominator = _beta == 2 ? w.mm(h.t().mm(h)) : h.sum([0L], keepdim: true);
        Apply(w, numerator, denominator);
    }

    void Apply(Tensor p, Tensor numerator, Tensor denominator) =>
        p.mul_(numerator.div_((denominator + _l1 + _l2 * p).clamp_min_(_epsilon)));

    /// <summary>The β-divergence of V and H·Wᵀ without forming H·Wᵀ: the zeros of V contribute through closed forms.</summary>
    public double Loss()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (w, h) = (_model.W.detach().to_type(ScalarType.Float64), _model.H.detach().to_type(ScalarType.Float64));
        var y = ProductAtEntries().to_type(ScalarType.Float64);
        var v = _values.to_type(ScalarType.Float64);
        if (_beta == 2) // ½‖V − HWᵀ‖² = ½(‖V‖² − 2⟨V, HWᵀ⟩ + tr((WᵀW)(HᵀH)))
            return (0.5 * (v.square().sum() - 2 * (v * y).sum() + (w.t().mm(w) * h.t().mm(h)).sum())).item<double>();
        // KL: Σ_nz v·ln(v / y) − Σ_nz v + Σ_all HWᵀ, with Σ_all HWᵀ = Σ_r (Σ_f W[f, r])·(Σ_t H[t, r])
        var stored = v > 0;
        var logs = where(stored, v * (v / y.clamp_min(_epsilon)).log(), zeros_like(v));
        return (logs.sum() - v.sum() + (w.sum([0L]) * h.sum([0L])).sum()).item<double>();
    }

    public void Dispose()
    {
        foreach (var t in new[] { _v, _indices, _frames, _features, _values }) t.Dispose();
    }
}
