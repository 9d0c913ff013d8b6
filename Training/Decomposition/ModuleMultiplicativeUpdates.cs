using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// The multiplicative updates of an <see cref="NmfComponent"/> as torchnmf runs them, on any device: a
/// <see cref="BetaMu"/> step of H, then one of W, each from the autograd split of the divergence's gradient.
/// <see cref="MultiplicativeUpdates"/> is the same arithmetic fused for the CPU.
/// </summary>
internal sealed class ModuleMultiplicativeUpdates : IMultiplicativeUpdates
{
    readonly NmfComponent _model;
    readonly Tensor _v;
    readonly double _beta;
    readonly float _epsilon;
    readonly BetaMu? _h, _w;

    /// <param name="v">V (T, F) on the model's device.</param>
    public ModuleMultiplicativeUpdates(Tensor v, NmfComponent model, double beta, float epsilon, double l1, double l2, double orthogonal = 0)
    {
        (_model, _v, _beta, _epsilon) = (model, v, beta, epsilon);
        if (model.H.requires_grad) _h = new BetaMu([model.H], beta, l1, l2, orthogonal, epsilon);
        if (model.W.requires_grad) _w = new BetaMu([model.W], beta, l1, l2, orthogonal, epsilon);
    }

    public void UpdateH() => _h?.step(() => (_model.forward(), _v)).Dispose();

    public void UpdateW() => _w?.step(() => (_model.forward(), _v)).Dispose();

    public double Loss()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return BetaDivergence.Loss(_v, _model.forward(), _beta, _epsilon).item<double>();
    }

    public void Dispose()
    {
        _h?.Dispose();
        _w?.Dispose();
    }
}
