using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// Where each machine ID's normal sounds lie in a <see cref="MachineIdClassifier"/>'s embedding: the mean embedding
/// of every ID and one shared covariance (Gaussian discriminant analysis, as in Lee et al., "A simple unified
/// framework for detecting out-of-distribution samples and adversarial attacks", NeurIPS 2018). A frame's anomaly error is
/// its squared Mahalanobis distance to its own ID's mean, per dimension: d² / C = ‖(e − μ_id)·W‖² / C with W·Wᵀ = Σ⁻¹.
/// A classifier's softmax saturates once IDs are told apart with confidence; the distance keeps measuring how far a
/// frame's features moved.
/// </summary>
/// <param name="Means">(IDs, C) mean embedding of each ID's training frames.</param>
/// <param name="Whitening">(C, C) W = L⁻ᵀ for the Cholesky factor L of the pooled covariance (plus a ridge of 1e-6 of its mean variance).</param>
public sealed record IdEmbeddingStatistics(float[] Means, float[] Whitening, int Ids, int Dimensions)
{
    /// <summary>Fits the statistics to embeddings (N, C) of training frames labelled by ID index (N).</summary>
    public static IdEmbeddingStatistics Fit(Tensor embeddings, Tensor labels, int ids)
    {
        using var scope = NewDisposeScope();
        var e = embeddings.to(float64);
        var c = (int)e.shape[1];
        var onehot = nn.functional.one_hot(labels.to(int64), ids).to(float64); // (N, K)
        var counts = onehot.sum([0L]).clamp_min(1);
        var means = onehot.t().matmul(e) / counts.unsqueeze(1); // (K, C)
        var centred = e - means.index_select(0, labels.to(int64));
        var covariance = centred.t().matmul(centred) / e.shape[0];
        var ridge = 1e-6 * covariance.diagonal().mean().ToDouble() + 1e-12;
        covariance = covariance + ridge * eye(c, dtype: float64);
        var lower = linalg.cholesky(covariance);
        var whitening = linalg.inv(lower).t(); // (e − μ)·L⁻ᵀ has identity covariance
        return new IdEmbeddingStatistics(means.to(float32).contiguous().data<float>().ToArray(), whitening.to(float32).contiguous().data<float>().ToArray(), ids, c);
    }

    /// <summary>
    /// Each frame's error from its embedding (N, C): d²/C to ID <paramref name="ids"/>[n] (an index equal to the ID count: the
    /// nearest known ID).
    /// </summary>
    public Tensor Errors(Tensor embeddings, Tensor ids)
    {
        using var means = tensor(Means, [Ids, Dimensions], device: embeddings.device);
        using var whitening = tensor(Whitening, [Dimensions, Dimensions], device: embeddings.device);
        using var difference = embeddings.unsqueeze(1) - means.unsqueeze(0); // (N, K, C)
        using var white = difference.matmul(whitening);
        using var distances = white.square().mean([2]); // (N, K)
        using var nearest = distances.min(1, keepdim: true).values;
        using var extended = cat([distances, nearest], 1);
        using var index = ids.to(int64).to(embeddings.device).view(-1, 1);
        using var picked = extended.gather(1, index);
        return picked.view(-1);
    }
}
