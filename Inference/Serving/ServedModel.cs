using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;

namespace Pipeline.Inference.Serving;

/// <summary>
/// One model folder, opened once when the server starts and shared by every request: its verified manifest and the
/// runner its kind has (an anomaly scorer, an activation estimator, or neither for a separation model).
/// </summary>
public sealed class ServedModel : IDisposable
{
    ServedModel(string name, ModelPackage package)
    {
        Name = name;
        Package = package;
        try
        {
            // audio models only: one fitted on feature matrices scores .npy rows, which the server does not take
            if (package.Manifest.Anomaly is not null && package.Manifest.FrontEnd is not null) Scorer = new AnomalyScorer(package);
            if (package.Manifest.FindGraph("activations") is not null)
            {
                Estimator = new ActivationEstimator(package);
                _ = Estimator.Session; // loaded now, not by the first request
            }
        }
        catch
        {
            package.Dispose();
            throw;
        }
    }

    /// <summary>Opens and verifies <paramref name="directory"/>; every graph it serves is loaded.</summary>
    public static ServedModel Open(string name, string directory, RuntimeOptions options) => new(name, ModelPackage.Open(directory, options));

    /// <summary>The name in URLs.</summary>
    public string Name { get; }

    /// <summary>The opened folder.</summary>
    public ModelPackage Package { get; }

    /// <summary>The anomaly scorer, for models with an anomaly scoring rule and an audio front end.</summary>
    public AnomalyScorer? Scorer { get; }

    /// <summary>The activation estimator, for decomposition models.</summary>
    public ActivationEstimator? Estimator { get; }

    /// <summary>The ONNX Runtime provider the served graph runs on.</summary>
    public string Provider => Scorer?.Session.Provider ?? Estimator?.Session.Provider ?? "none";

    /// <inheritdoc/>
    public void Dispose()
    {
        Scorer?.Dispose();
        Estimator?.Dispose();
        Package.Dispose();
    }
}
