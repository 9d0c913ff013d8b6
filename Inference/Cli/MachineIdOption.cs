using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Errors;

/// <summary><c>--machine-id</c> of score and stream: the ID a machine-ID classifier scores against.</summary>
static class MachineIdOption
{
    /// <summary>The ID as the data sets write it, or null when none was given.</summary>
    /// <exception cref="InvalidOptionException">The model is not a machine-ID classifier, or the text is not an ID.</exception>
    public static string? Resolve(string? text, AnomalyScorer scorer, string model)
    {
        if (text is null) return null;
        if (scorer.MachineIdList is null) throw new InvalidOptionException($"--machine-id applies to machine-ID classifiers; {model} scores every clip alike");
        return Pipeline.Shared.Scoring.MachineIds.Parse(text) ?? throw new InvalidOptionException($"--machine-id takes an ID as the data sets write it (id_00, id_02, ...), not '{text}'");
    }
}
