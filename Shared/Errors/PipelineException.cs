namespace Pipeline.Shared.Errors;

/// <summary>
/// Base of every error a user can act on: bad input, bad options, a broken model folder, a missing native
/// library. The command-line hosts print <see cref="Exception.Message"/> as one line and exit with code 1;
/// anything that is not a <see cref="PipelineException"/> is a bug and exits with code 2.
/// </summary>
public abstract class PipelineException : Exception
{
    protected PipelineException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Input data that the operation cannot accept: negative or non-finite values, a wrong shape.</summary>
public sealed class InvalidInputException(string message) : PipelineException(message);

/// <summary>An option or hyper-parameter outside its valid range (rank, β, tolerance, ...).</summary>
public sealed class InvalidOptionException(string message) : PipelineException(message);

/// <summary>A file that is missing, unreadable, truncated or not in the expected format.</summary>
public sealed class InvalidFileException(string path, string problem, Exception? inner = null)
    : PipelineException($"{path}: {problem}", inner)
{
    public string Path { get; } = path;
}

/// <summary>A model folder whose files are missing, tampered with, or disagree with each other or with the input.</summary>
public sealed class ModelContractException(string message, Exception? inner = null) : PipelineException(message, inner);

/// <summary>A native library that could not be found or loaded; the message names it and the command that installs it.</summary>
public sealed class NativeLibraryMissingException(string message, Exception? inner = null) : PipelineException(message, inner);

/// <summary>An audio file or signal the front end cannot use: not audio, empty, truncated, an unsupported encoding, NaN/Inf samples.</summary>
public sealed class InvalidAudioException(string source, string problem, Exception? inner = null)
    : PipelineException($"{source}: {problem}", inner)
{
    /// <summary>The file (or a description of the in-memory signal) the problem is in.</summary>
    public string AudioSource { get; } = source;
}

/// <summary>
/// An output that cannot be written (permission denied, read-only or full file system, a file where a folder is
/// wanted); the message names the path the user gave, never a temporary one.
/// </summary>
public sealed class OutputWriteException(string path, string reason, Exception? inner = null)
    : PipelineException($"cannot write {(path.Length == 0 ? "''" : path)}: {reason}", inner)
{
    /// <summary>The output as the user gave it.</summary>
    public string Path { get; } = path;
    /// <summary>Why, in the system's words.</summary>
    public string Reason { get; } = reason;
}

/// <summary>An output folder that exists and holds something other than an earlier output of the same kind.</summary>
public sealed class OutputExistsException(string message) : PipelineException(message);

/// <summary>
/// Input files that cannot be used, all of them at once: the hosts print one line per file, then
/// <see cref="Exception.Message"/>.
/// </summary>
public sealed class BadInputFilesException(IReadOnlyList<PipelineException> problems, string summary) : PipelineException(summary)
{
    /// <summary>One error per bad file, in input order.</summary>
    public IReadOnlyList<PipelineException> Problems { get; } = problems;
}
