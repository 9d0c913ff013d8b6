using Pipeline.Shared.Audio;
using Pipeline.Shared.Scoring;

namespace Pipeline.Inference.Anomaly;

/// <summary>One frame's anomaly error as a stream yields it, and the file-level verdict up to that frame.</summary>
/// <param name="Frame">The frame's index in the stream.</param>
/// <param name="Time">The frame's centre in seconds from the stream's start (frame · hop / rate, with librosa's centring).</param>
/// <param name="Error">The model's error for the frame (as in <see cref="AnomalyResult.FrameErrors"/>).</param>
/// <param name="Score">The file score of the frames so far, by the manifest's aggregation and trim.</param>
/// <param name="IsAnomaly"><paramref name="Score"/> above the threshold.</param>
public readonly record struct FrameScore(long Frame, double Time, float Error, double Score, bool IsAnomaly);

/// <summary>
/// Anomaly scores of audio that arrives in chunks of any size: <see cref="Push"/> returns each frame's score as soon
/// as its context is known (with the DCASE baseline's front end, 10 frames, about 0.1 s, after the frame), with the
/// same front-end values as <see cref="AnomalyScorer.Score"/> of the whole clip, and a running file-level verdict;
/// <see cref="Complete"/> returns the last frames, whose context is the mirrored end, and the final verdict, the
/// whole clip's. Samples are mono at the model's rate. Open one with <see cref="AnomalyScorer.OpenStream"/>;
/// one writer at a time (several streams may share a scorer).
/// </summary>
public sealed class AnomalyStream
{
    readonly AnomalyScorer scorer;
    readonly FeatureStream features;
    readonly RunningFrameScore running;
    readonly string source;
    readonly SignalNotes signal = new();
    readonly string? machineId, machineNote;

    internal AnomalyStream(AnomalyScorer scorer, FeatureExtractor extractor, string source, string? machineId = null)
    {
        this.scorer = scorer;
        this.source = source;
        features = new FeatureStream(extractor, source);
        running = new RunningFrameScore(scorer.Scoring.Aggregation, scorer.Scoring.TrimFrames);
        (this.machineId, machineNote) = scorer.ResolveMachineId(source, machineId);
    }

    /// <summary>Frames scored so far.</summary>
    public long FramesScored => running.Count;

    /// <summary>The file score of the frames so far (NaN before the first); after <see cref="Complete"/>, the whole stream's.</summary>
    public double Score => running.Score;

    /// <summary><see cref="Score"/> above the manifest's threshold.</summary>
    public bool IsAnomaly => running.Score > scorer.Scoring.Threshold;

    /// <summary>Whether <see cref="Complete"/> has been called.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Adds mono samples at the model's rate; returns the frames they complete (often none).</summary>
    /// <exception cref="Pipeline.Shared.Errors.InvalidAudioException">A sample is NaN or infinite, or the features are not finite.</exception>
    public IReadOnlyList<FrameScore> Push(ReadOnlySpan<float> chunk)
    {
        var scores = Scores(features.Push(chunk));
        signal.Add(chunk);
        return scores;
    }

    /// <summary>Ends the stream: the last frames' scores; <see cref="Verdict"/> then holds the whole stream's result.</summary>
    /// <exception cref="Pipeline.Shared.Errors.InvalidAudioException">The stream is too short for the front end, as a clip would be.</exception>
    public IReadOnlyList<FrameScore> Complete()
    {
        var last = Scores(features.Complete());
        IsComplete = true;
        AnomalyScorer.RequireFiniteScore(running.Score, source);
        Verdict = new AnomalyResult(source, running.Score, IsAnomaly, [], [.. (machineNote is null ? [] : new[] { machineNote }), .. signal.Notes(running.Count, scorer.Scoring.TrimFrames)]);
        return last;
    }

    /// <summary>
    /// After <see cref="Complete"/>: the whole stream's score, decision and notes, as <see cref="AnomalyScorer.Score"/>
    /// gives them for the clip (without the frame errors, which the stream has returned one by one).
    /// </summary>
    public AnomalyResult? Verdict { get; private set; }

    List<FrameScore> Scores(Pipeline.Shared.Arrays.NdArray rows)
    {
        var result = new List<FrameScore>(rows.Rows);
        if (rows.Rows == 0) return result;
        var first = features.RowsEmitted - rows.Rows;
        var errors = scorer.FrameErrors(rows, machineId);
        var config = scorer.FrontEnd!;
        var offset = config.Center ? 0 : config.NFft / 2; // a frame's centre, in samples from t·hop
        for (var i = 0; i < errors.Length; i++)
        {
            running.Add(errors[i]);
            var time = ((first + i) * (double)config.HopLength + offset) / config.SampleRate;
            result.Add(new FrameScore(first + i, time, errors[i], running.Score, IsAnomaly));
        }
        return result;
    }
}
