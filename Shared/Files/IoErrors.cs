namespace Pipeline.Shared.Files;

/// <summary>The operating system's reason for a failed file operation, worded for one line after the user's path.</summary>
public static class IoErrors
{
    /// <summary>
    /// "permission denied", "Read-only file system", "No space left on device", ...: .NET's message without its
    /// restatement of the (possibly temporary) path.
    /// </summary>
    /// <param name="writing">False for a read: a missing file is then "no such file", not a place files cannot be made.</param>
    public static string Reason(Exception e, bool writing = true)
    {
        if (e is UnauthorizedAccessException)
            return e.InnerException is IOException inner && !string.IsNullOrWhiteSpace(inner.Message) ? Strip(inner.Message, writing) : "permission denied";
        return Strip(e.Message, writing);
    }

    static string Strip(string message, bool writing)
    {
        // Unix messages read "No space left on device : '/tmp/.x.123.abc.tmp'"
        var at = message.IndexOf(" : '", StringComparison.Ordinal);
        var text = at > 0 ? message[..at] : message;
        if (text.StartsWith("Access to the path", StringComparison.Ordinal)) return "permission denied";
        if (text.StartsWith("Could not find a part of the path", StringComparison.Ordinal)) return "a folder on the way does not exist";
        if (text.StartsWith("Could not find file", StringComparison.Ordinal)) return writing ? "files cannot be created there" : "no such file (a broken link?)";
        return text.TrimEnd('.');
    }

    /// <summary>True for the exceptions a file operation throws for reasons outside the program.</summary>
    public static bool IsIo(Exception e) => e is IOException or UnauthorizedAccessException;
}
