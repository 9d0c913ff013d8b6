namespace Pipeline.Shared.Audio;

/// <summary>How <see cref="AudioFile.Read(string, AudioReadOptions?)"/> loads a file, like <c>librosa.load</c>'s arguments.</summary>
public sealed record AudioReadOptions
{
    /// <summary>Resample to this rate (<see cref="Resampler"/>); null keeps the file's rate.</summary>
    public int? SampleRate { get; init; }
    /// <summary>Average the channels into one (librosa's default).</summary>
    public bool Mono { get; init; } = true;
    /// <summary>Start reading this many seconds in.</summary>
    public double Offset { get; init; }
    /// <summary>Read at most this many seconds; null reads to the end.</summary>
    public double? Duration { get; init; }
}
