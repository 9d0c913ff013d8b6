using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;

namespace Pipeline.Shared.Manifest;

/// <summary>
/// The one check of a manifest's values, run whenever one is read (<see cref="ModelFolder.FromJson"/>): by
/// <c>info</c> and by every consumer alike, so that a folder <c>info</c> passes is one the scorers can use.
/// Whether the graphs agree with it is checked when they are loaded.
/// </summary>
public static class ManifestValidation
{
    /// <summary>Most multiplicative updates an activation graph may run (by default or on request): far past convergence, short of a hang.</summary>
    public const int MaxIterations = 100_000;

    /// <summary>The graph roles each kind of model must have, and whether it is a decomposition or an anomaly scorer.</summary>
    static readonly Dictionary<string, (string[] Roles, bool Decomposition)> Kinds = new()
    {
        ["nmf"] = (["activations", "reconstruction"], true), ["nmfd"] = (["activations", "reconstruction"], true),
        ["nmf2d"] = (["activations", "reconstruction"], true), ["nmf3d"] = (["activations", "reconstruction"], true),
        ["plca"] = (["activations", "reconstruction"], true), ["siplca"] = (["activations", "reconstruction"], true),
        ["siplca2"] = (["activations", "reconstruction"], true), ["siplca3"] = (["activations", "reconstruction"], true),
        ["anomaly-autoencoder"] = (["scorer"], false), ["anomaly-idnn"] = (["scorer"], false), ["anomaly-id-classifier"] = (["scorer"], false),
        ["anomaly-clip-statistics"] = (["scorer"], false),
        ["gmm"] = (["scorer"], false), ["vae"] = (["scorer", "decoder"], false),
    };

    /// <summary>Every problem of <paramref name="manifest"/> at once.</summary>
    /// <exception cref="ModelContractException">A value is out of range; the message lists them all.</exception>
    public static void Validate(ModelManifest manifest, string source)
    {
        var problems = new List<string>();
        if (!Kinds.TryGetValue(manifest.Kind ?? "", out var kind))
            problems.Add($"unknown kind '{manifest.Kind}' (this build reads {string.Join(", ", Kinds.Keys)})");
        else
        {
            var roles = manifest.Graphs.Select(g => g.Role).ToHashSet();
            foreach (var role in kind.Roles.Where(r => !roles.Contains(r))) problems.Add($"a '{manifest.Kind}' model needs a '{role}' graph");
            if (kind.Decomposition && manifest.Decomposition is null) problems.Add($"a '{manifest.Kind}' model needs its decomposition section");
            if (!kind.Decomposition && manifest.Anomaly is null) problems.Add($"a '{manifest.Kind}' model needs its anomaly scoring section");
        }
        // a matrix decomposition's sizes are those of its activation graph: V (features, frames) in, H (rank, frames) out
        if (manifest.Kind is "nmf" or "plca" && manifest.Decomposition is { } sizes && manifest.Graphs.FirstOrDefault(g => g.Role == "activations") is { } activations
            && activations.Inputs.Count > 0 && activations.Outputs.Count > 0 && activations.Inputs[0].Shape.Count == 2 && activations.Outputs[0].Shape.Count == 2)
        {
            if (activations.Inputs[0].FixedDim(0) is { } f && f != sizes.Features)
                problems.Add($"decomposition: features {sizes.Features} contradict the activation graph's input ({f}, frames)");
            if (activations.Outputs[0].FixedDim(0) is { } k && k != sizes.Rank)
                problems.Add($"decomposition: rank {sizes.Rank} contradicts the activation graph's output ({k}, frames)");
        }
        foreach (var graph in manifest.Graphs)
        {
            if (string.IsNullOrWhiteSpace(graph.Role) || string.IsNullOrWhiteSpace(graph.File)) problems.Add("a graph without a role or file");
            else if (graph.File != Path.GetFileName(graph.File) || graph.File is "." or "..") problems.Add($"graph file '{graph.File}' is not a plain file name in the folder");
        }
        if (manifest.FrontEnd is { } frontEnd)
        {
            try { frontEnd.Validate(); }
            catch (InvalidOptionException e) { problems.Add(e.Message); }
        }
        if (manifest.Decomposition is { } d)
        {
            if (d.Features < 1) problems.Add($"decomposition: features must be ≥ 1 (got {d.Features})");
            if (d.Rank < 1) problems.Add($"decomposition: rank must be ≥ 1 (got {d.Rank})");
            if (!double.IsFinite(d.Beta)) problems.Add($"decomposition: β must be finite (got {d.Beta})");
            if (!(d.Epsilon > 0) || !double.IsFinite(d.Epsilon)) problems.Add($"decomposition: ε must be positive (got {d.Epsilon})");
            if (d.DefaultIterations < 0 || d.DefaultIterations > MaxIterations) problems.Add($"decomposition: default iterations must lie in [0, {MaxIterations}] (got {d.DefaultIterations})");
        }
        if (manifest.Anomaly is { } a)
        {
            if (!FrameScores.IsKnown(a.Aggregation) && a.Aggregation != FrameScores.Clip) problems.Add($"anomaly: unknown aggregation '{a.Aggregation}' (use {string.Join(", ", FrameScores.Aggregations)}, or {FrameScores.Clip} for a graph that scores whole clips)");
            if ((a.Aggregation == FrameScores.Clip) != (manifest.Kind == "anomaly-clip-statistics"))
                problems.Add($"anomaly: the '{FrameScores.Clip}' rule belongs to clip statistics' graphs, which have no other (kind '{manifest.Kind}', aggregation '{a.Aggregation}')");
            if (a.TrimFrames < 0) problems.Add($"anomaly: trim must be ≥ 0 frames (got {a.TrimFrames})");
            if (!double.IsFinite(a.Threshold)) problems.Add($"anomaly: the threshold must be finite (got {a.Threshold})");
        }
        if (manifest.Kind == "anomaly-clip-statistics" && manifest.MachineIds is { } known && (known.Count < 2 || known.Distinct().Count() != known.Count || known.Any(string.IsNullOrWhiteSpace)))
            problems.Add($"clip statistics list machine IDs only when they know two or more distinct ones (got {string.Join(", ", known)})");
        if (manifest.Kind == "anomaly-id-classifier" && (manifest.MachineIds is not { Count: >= 2 } ids || ids.Distinct().Count() != ids.Count || ids.Any(string.IsNullOrWhiteSpace)))
            problems.Add($"a machine-ID classifier needs two or more distinct machine IDs (got {(manifest.MachineIds is null ? "none" : string.Join(", ", manifest.MachineIds))})");
        foreach (var s in manifest.Sources ?? [])
            if (s.FirstComponent < 0 || s.Components < 1 || (manifest.Decomposition is { } dec && s.FirstComponent + s.Components > dec.Rank))
                problems.Add($"source '{s.Name}': components {s.FirstComponent}..{s.FirstComponent + s.Components - 1} lie outside the model's");
        if (problems.Count > 0) throw new ModelContractException($"{source}: invalid manifest: {string.Join("; ", problems)}");
    }
}
