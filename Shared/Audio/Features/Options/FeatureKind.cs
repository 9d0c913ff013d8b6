namespace Pipeline.Shared.Audio;

/// <summary>What a front end computes per frame; each kind has its options record (<see cref="FrontEndConfig"/>).</summary>
public enum FeatureKind
{
    /// <summary>|STFT|, n_fft/2 + 1 values (<see cref="SpectrogramOptions"/>, power 1).</summary>
    Magnitude,
    /// <summary>|STFT|², n_fft/2 + 1 values (<see cref="SpectrogramOptions"/>, power 2).</summary>
    Power,
    /// <summary>Mel-band energies of |STFT|^power (<see cref="MelSpectrogramOptions"/>).</summary>
    Mel,
    /// <summary>20/power · log10(mel + floor), the DCASE baseline's log-mel (<see cref="LogMelOptions"/>).</summary>
    LogMel,
    /// <summary>Orthonormal DCT-II of power_to_db(mel power, top_db 80), as librosa.feature.mfcc (<see cref="MfccOptions"/>).</summary>
    Mfcc,
    /// <summary>Mel-cepstrum c₀ … c_M of each windowed frame, SPTK's mcep (<see cref="MelCepstrumOptions"/>).</summary>
    MelCepstrum,
}
