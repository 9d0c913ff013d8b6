namespace Pipeline.Shared.Audio;

/// <summary>Sample encodings <see cref="AudioFile.Write"/> can produce.</summary>
public enum AudioEncoding
{
    /// <summary>WAV, 16-bit signed PCM.</summary>
    Pcm16,
    /// <summary>WAV, 24-bit signed PCM.</summary>
    Pcm24,
    /// <summary>WAV, 32-bit float.</summary>
    Float32,
}
