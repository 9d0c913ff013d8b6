using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Scoring;

namespace Pipeline.Inference.Anomaly;

/// <summary>One file's verdict.</summary>
/// <param name="Score">The aggregated per-frame error (higher: more anomalous).</param>
/// <param name="IsAnomaly">Score above the manifest's threshold.</param>
/// <param name="FrameErrors">The per-frame error curve.</param>
/// <param name="Notes">What was done to the input on the way (resampled, mixed down, trim shortened, clipping seen).</param>
public sealed record AnomalyResult(string Source, double Score, bool IsAnomaly, float[] FrameErrors, IReadOnlyList<string> Notes);

/// <summary>
/// Scores recordings with an exported anomaly model: WAV → the Shared front end (configured by the manifest) →
/// ONNX Runtime (per-frame error) → the manifest's aggregation and threshold. Input at another sample rate is
/// resampled and multi-channel input mixed down; each is noted in the result. Thread-safe.
/// </summary>
public sealed class AnomalyScorer : IDisposable
{
    const string Role = "scorer";
    readonly ModelPackage package;
    readonly bool ownsPackage;
    readonly FeatureExtractor? extractor;
    readonly int dimensions;
    readonly ModelSession session;

    /// <summary>Opens and verifies a model folder.</summary>
    public AnomalyScorer(string modelDirectory, RuntimeOptions? options = null) : this(ModelPackage.Open(modelDirectory, options), true) { }

    /// <summary>Uses an opened model folder (not disposed with the scorer).</summary>
    public AnomalyScorer(ModelPackage package) : this(package, false) { }

    AnomalyScorer(ModelPackage package, bool ownsPackage)
    {
        this.package = package;
        this.ownsPackage = ownsPackage;
        try
        {
            var manifest = package.Manifest;
            FrontEnd = manifest.FrontEnd;
            Scoring = manifest.Anomaly ?? throw new ModelContractException($"{package.Directory}: a '{manifest.Kind}' model has no anomaly scoring rule");
            var graph = package.Graph(Role);
            dimensions = (int)(graph.Inputs[0].FixedDim(1) ?? throw new ModelContractException($"{package.Directory}: the scorer's input has no fixed width"));
            if (FrontEnd is not null && dimensions != FrontEnd.Dimensions)
                throw new ModelContractException($"{package.Directory}: the front end gives {FrontEnd.Dimensions} values per frame but the graph's input takes {dimensions}");
            extractor = FrontEnd is null ? null : new FeatureExtractor(FrontEnd);
            session = package.Session(Role);
            MachineIdList = manifest.MachineIds;
            string[] expected = MachineIdList is null ? ["features"] : ["features", "machine_id"];
            if (!session.InputMetadata.Keys.Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal)))
                throw new ModelContractException($"{package.Directory}: the scorer graph takes {string.Join(", ", session.InputMetadata.Keys)}; a '{manifest.Kind}' model's takes {string.Join(", ", expected)}");
            var input = session.InputMetadata["features"];
            if (input.Dimensions.Length != 2 || input.Dimensions[1] != dimensions)
                throw new ModelContractException($"{package.Directory}: the graph's input is {ModelSession.ShapeText(input)}, the manifest says (frames, {dimensions})");
        }
        catch
        {
            if (ownsPackage) package.Dispose();
            throw;
        }
    }

    /// <summary>The front end the model was trained with; null for a model fitted on feature matrices.</summary>
    public FrontEndConfig? FrontEnd { get; }

    /// <summary>The ONNX Runtime session of the scorer graph: its provider, metadata.</summary>
    public ModelSession Session => session;

    /// <summary>Aggregation, trim and threshold.</summary>
    public AnomalyScoring Scoring { get; }

    /// <summary>For a model that scores against machine IDs (the machine-ID classifier, clip statistics of two or more IDs), the IDs it knows (a clip is scored against the ID its name carries); else null.</summary>
    public IReadOnlyList<string>? MachineIdList { get; }

    /// <summary>
    /// A machine ID a user gave (<paramref name="option"/>: "--machine-id", "machine_id") as the data sets write it
    /// ("ID_02" → "id_02"), or null when none was given.
    /// </summary>
    /// <param name="model">How messages name the model: its folder, or "model 'name'".</param>
    /// <exception cref="InvalidOptionException">The model knows no machine IDs, or the text is not an ID.</exception>
    public string? ParseMachineId(string? text, string option, string model)
    {
        if (text is null) return null;
        if (MachineIdList is null) throw new InvalidOptionException($"{option} applies to models that score against machine IDs (the machine-ID classifier, clip statistics of two or more IDs); {model} scores every clip alike");
        return Shared.Scoring.MachineIds.Parse(text) ?? throw new InvalidOptionException($"{option} takes an ID as the data sets write it (id_00, id_02, ...), not '{text}'");
    }

    /// <summary>
    /// For a model that knows machine IDs: the ID a recording named <paramref name="source"/> is scored against (from
    /// <c>id_NN</c> in its file name, or <paramref name="machineId"/> when given), and a note when the classifier does
    /// not know it. Null ID: scored by how unlike every known ID it sounds. For any other detector: no ID, and a note
    /// when the name carries an ID not among the training clips' (the manifest's <c>training.machineIds</c>).
    /// </summary>
    public (string? MachineId, string? Note) ResolveMachineId(string source, string? machineId = null)
    {
        if (MachineIdList is null)
        {
            // a detector that scores every clip alike: a note when the file's ID was not among those it was trained on
            var trained = package.Manifest.Training?.MachineIds;
            return Shared.Scoring.MachineIds.FromName(source) is { } named && trained is { Count: > 0 } && !trained.Contains(named)
                ? (null, $"machine ID {named} was not among the training IDs ({string.Join(", ", trained)}): scored as every clip is, against a threshold placed on their normal clips")
                : (null, null);
        }
        var id = machineId ?? Shared.Scoring.MachineIds.FromName(source);
        if (id is null) return (null, $"no machine ID given or in the name (id_NN): scored by how unlike every known ID ({string.Join(", ", MachineIdList)}) it sounds");
        if (!MachineIdList.Contains(id)) return (id, $"machine ID {id} was not seen in training: scored by how unlike every known ID ({string.Join(", ", MachineIdList)}) it sounds");
        return (id, null);
    }

    /// <summary>Reads and scores one file.</summary>
    /// <param name="machineId">For a model that knows machine IDs, the clip's ID when its name does not carry it.</param>
    public AnomalyResult ScoreFile(string path, string? machineId = null)
    {
        var clip = AudioFile.Read(path, new AudioReadOptions { Mono = false });
        return Score(clip, path, machineId);
    }

    /// <summary>Scores a clip at any rate and channel count.</summary>
    /// <param name="machineId">For a model that knows machine IDs, the clip's ID; by default the one <paramref name="source"/>'s name carries (<see cref="ResolveMachineId"/>).</param>
    public AnomalyResult Score(AudioClip clip, string source = "signal", string? machineId = null)
    {
        if (FrontEnd is null || extractor is null)
            throw new ModelContractException($"{package.Directory}: the model was fitted on feature matrices, not audio: it scores feature rows (.npy), not recordings");
        var notes = new List<string>();
        if (clip.Channels > 1)
        {
            notes.Add($"mixed {clip.Channels} channels to mono");
            clip = AudioFile.MixDown(clip);
        }
        if (clip.SampleRate != FrontEnd.SampleRate)
        {
            notes.Add($"resampled {clip.SampleRate} Hz to {FrontEnd.SampleRate} Hz");
            clip = Resampler.Resample(clip, FrontEnd.SampleRate);
        }
        var (id, idNote) = ResolveMachineId(source, machineId);
        if (idNote is not null) notes.Add(idNote);
        var features = extractor.Extract(clip, source);
        var (score, errors) = ScoreFeatures(features, source, id);
        var signal = new SignalNotes();
        signal.Add(clip.Samples);
        notes.AddRange(signal.Notes(errors.Length, Scoring.TrimFrames));
        return new AnomalyResult(source, score, score > Scoring.Threshold, errors, notes);
    }

    /// <summary>
    /// Opens a stream of mono samples for frame-by-frame scores (see <see cref="AnomalyStream"/>). A stream is not
    /// resampled: <paramref name="sampleRate"/> must be the model's.
    /// </summary>
    /// <exception cref="InvalidAudioException">Another sample rate.</exception>
    /// <exception cref="ModelContractException">The model was fitted on feature matrices, not audio.</exception>
    /// <exception cref="InvalidOptionException">The model's features need the whole clip (MFCC), or the model scores whole clips (clip statistics).</exception>
    /// <param name="machineId">For a machine-ID classifier, the stream's ID (default: the one <paramref name="source"/>'s name carries).</param>
    public AnomalyStream OpenStream(int sampleRate, string source = "stream", string? machineId = null)
    {
        if (FrontEnd is null || extractor is null)
            throw new ModelContractException($"{package.Directory}: the model was fitted on feature matrices, not audio: it scores feature rows (.npy), not audio streams");
        if (sampleRate != FrontEnd.SampleRate)
            throw new InvalidAudioException(source, $"is sampled at {sampleRate} Hz but the model takes {FrontEnd.SampleRate} Hz, and a stream is not resampled; resample it first (e.g. `sox in.wav -r {FrontEnd.SampleRate} out.wav`)");
        if (Scoring.Aggregation == FrameScores.Clip)
            throw new InvalidOptionException($"{package.Directory}: this model scores whole clips (statistics over every frame of a clip), not a running stream of frames; score recordings instead, or stream with a frame detector (ae, idnn, id-classifier)");
        return new AnomalyStream(this, extractor, source, machineId);
    }

    /// <summary>
    /// The file score of one file's already-computed (frames, D) features: the graph's frame errors aggregated by
    /// the manifest's rule, exactly as <see cref="Score"/> computes it (training calibrates thresholds with it).
    /// </summary>
    /// <exception cref="InvalidAudioException">The score is not finite.</exception>
    public (double Score, float[] FrameErrors) ScoreFeatures(NdArray features, string source = "features", string? machineId = null)
    {
        if (Scoring.Aggregation == FrameScores.Clip)
        {
            var outputs = Run(features, machineId, ["frame_error", "clip_error"]);
            var clipScore = (double)outputs["clip_error"].Data[0];
            RequireFiniteScore(clipScore, source);
            return (clipScore, outputs["frame_error"].Data);
        }
        var errors = FrameErrors(features, machineId);
        var score = FrameScores.Aggregate(errors, Scoring.Aggregation, Scoring.TrimFrames);
        RequireFiniteScore(score, source);
        return (score, errors);
    }

    /// <summary>NaN > threshold is false: a non-finite score would read as "normal". It is an error instead.</summary>
    internal static void RequireFiniteScore(double score, string source)
    {
        if (!double.IsFinite(score))
            throw new InvalidAudioException(source, $"scores {score} (non-finite frame errors from finite features): the input lies far outside what the model was trained on");
    }

    /// <summary>Per-frame errors of already-computed (frames, D) features.</summary>
    /// <param name="machineId">For a model that knows machine IDs, the clip's ID; null or one it does not know: scored against every known ID.</param>
    public float[] FrameErrors(NdArray features, string? machineId = null) => Run(features, machineId, ["frame_error"])["frame_error"].Data;

    /// <summary>Runs the scorer graph on (frames, D) features for the named outputs.</summary>
    IReadOnlyDictionary<string, NdArray> Run(NdArray features, string? machineId, string[] outputs)
    {
        if (features.Shape.Length != 2 || features.Columns != dimensions)
            throw new InvalidInputException($"features of shape {features.ShapeText}; the model takes (frames, {dimensions})");
        if (features.Rows == 0) throw new InvalidInputException("no frames to score");
        var inputs = new Dictionary<string, ModelInput> { ["features"] = ModelInput.Float(features) };
        if (MachineIdList is not null)
            inputs["machine_id"] = ModelInput.Int64Scalar(machineId is null ? MachineIdList.Count : MachineIdList.TakeWhile(m => m != machineId).Count());
        return session.Run(inputs, outputs);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (ownsPackage) package.Dispose();
    }
}
