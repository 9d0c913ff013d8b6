using System.Runtime.InteropServices;

namespace Pipeline.Shared.Native;

/// <summary>The door to libsndfile: open, seek, read and write frames of float samples, close.</summary>
internal static unsafe partial class Sndfile
{
    public const int ModeRead = 0x10, ModeWrite = 0x20;
    public const int FormatWav = 0x010000, FormatFlac = 0x170000, FormatOgg = 0x200000;
    public const int Pcm8Signed = 0x0001, Pcm16 = 0x0002, Pcm24 = 0x0003, Pcm32 = 0x0004, Pcm8Unsigned = 0x0005,
        Float = 0x0006, Double = 0x0007, Vorbis = 0x0060;
    public const int TypeMask = 0x0FFF0000, SubtypeMask = 0x0000FFFF;

    [StructLayout(LayoutKind.Sequential)]
    public struct Info
    {
        public long Frames;
        public int SampleRate;
        public int Channels;
        public int Format;
        public int Sections;
        public int Seekable;
    }

    [LibraryImport("sndfile", EntryPoint = "sf_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr Open(string path, int mode, ref Info info);

    [LibraryImport("sndfile", EntryPoint = "sf_strerror")]
    private static partial IntPtr StrError(IntPtr file);

    [LibraryImport("sndfile", EntryPoint = "sf_seek")]
    public static partial long Seek(IntPtr file, long frames, int whence);

    [LibraryImport("sndfile", EntryPoint = "sf_readf_float")]
    public static partial long ReadFrames(IntPtr file, float* buffer, long frames);

    [LibraryImport("sndfile", EntryPoint = "sf_writef_float")]
    public static partial long WriteFrames(IntPtr file, float* buffer, long frames);

    [LibraryImport("sndfile", EntryPoint = "sf_close")]
    public static partial int Close(IntPtr file);

    [LibraryImport("sndfile", EntryPoint = "sf_command")]
    private static partial int Command(IntPtr file, int command, byte* data, int size);

    const int GetLogInfo = 0x1001;

    /// <summary>libsndfile's parse log of the file's header (it notes sizes that disagree with the file, among others).</summary>
    public static string Log(IntPtr file)
    {
        var buffer = new byte[8192];
        int length;
        fixed (byte* p = buffer) length = Command(file, GetLogInfo, p, buffer.Length);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length));
    }

    [LibraryImport("sndfile", EntryPoint = "sf_format_check")]
    public static partial int FormatCheck(ref Info info);

    /// <summary>libsndfile's message for the last error on <paramref name="file"/> (or on the last open, for null).</summary>
    public static string Error(IntPtr file) => Marshal.PtrToStringUTF8(StrError(file)) ?? "unknown libsndfile error";
}
