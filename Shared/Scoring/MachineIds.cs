using System.Text.RegularExpressions;

namespace Pipeline.Shared.Scoring;

/// <summary>
/// Machine IDs as the DCASE and ToyADMOS data sets write them in file names (<c>normal_id_02_00000012.wav</c> → "id_02"):
/// training labels clips by them, and a machine-ID classifier scores a file against the ID its name carries.
/// </summary>
public static partial class MachineIds
{
    [GeneratedRegex(@"id_(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    /// <summary>"id_NN" (lower case, digits as written) from the file name of <paramref name="path"/> (its folders are not read), or null when it carries none.</summary>
    public static string? FromName(string path) =>
        Pattern().Match(Path.GetFileNameWithoutExtension(path)) is { Success: true } m ? $"id_{m.Groups[1].Value}" : null;

    /// <summary>An ID a user typed ("id_02", "ID_02") as the data sets write it ("id_02"), or null when it is not one.</summary>
    public static string? Parse(string text) => FromName(text) is { } id && id.Length == text.Length ? id : null;
}
