using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Marks one version requirement of an ELF shared library weak (the VER_FLG_WEAK bit of its entry in
/// <c>.gnu.version_r</c>), so that the dynamic loader accepts a libstdc++ that lacks that version. Used on the
/// copy of TorchSharp's <c>libLibTorchSharp.so</c> in a build's output: it asks for GLIBCXX_3.4.32 only for
/// <c>std::ios_base_library_init()</c>, a marker GCC 13's &lt;iostream&gt; references and nothing calls. Changes
/// nothing when the system's libstdc++ defines the version, when the entry is already weak (so it can run on every
/// build), or when the library does not ask for it. Run by MSBuild (RoslynCodeTaskFactory, Training/Build/LibTorchSharp.targets).
/// </summary>
public sealed class WeakenVersionNeed : Task
{
    const uint VersionNeedSection = 0x6ffffffe; // SHT_GNU_verneed
    const ushort WeakFlag = 0x2;                // VER_FLG_WEAK

    /// <summary>The library to change in place (a build output's copy, never a package cache's).</summary>
    [Required] public string File { get; set; } = "";

    /// <summary>The version requirement to weaken, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string Version { get; set; } = "";

    /// <summary>The libstdc++ the loader will use; empty: the first of the usual system paths that exists.</summary>
    public string SystemLibrary { get; set; } = "";

    /// <summary>What was done: "weakened", "already weak", "not needed" (the system has the version) or "not asked" (the library does not ask for it).</summary>
    [Output] public string Outcome { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            Outcome = Run();
            Log.LogMessage(MessageImportance.Normal, $"{File}: {Version} {Outcome}");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Log.LogError($"cannot weaken {Version} in {File}: {e.Message}");
            return false;
        }
    }

    string Run()
    {
        var system = SystemLibrary.Length > 0 ? SystemLibrary : Array.Find(
            new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" },
            System.IO.File.Exists);
        // a libstdc++ that defines the version names it in its string table, NUL-terminated
        if (system is not null && Contains(System.IO.File.ReadAllBytes(system), Encoding.ASCII.GetBytes(Version + "\0"))) return "not needed";

        var elf = System.IO.File.ReadAllBytes(File);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian 64-bit ELF file");
        var sectionTable = (long)BitConverter.ToUInt64(elf, 0x28);
        int entrySize = BitConverter.ToUInt16(elf, 0x3a), sections = BitConverter.ToUInt16(elf, 0x3c);
        for (var s = 0; s < sections; s++)
        {
            var header = sectionTable + (long)s * entrySize;
            if (BitConverter.ToUInt32(elf, (int)header + 4) != VersionNeedSection) continue;
            var offset = (long)BitConverter.ToUInt64(elf, (int)header + 0x18);
            var count = BitConverter.ToUInt32(elf, (int)header + 0x2c);
            var strings = (long)BitConverter.ToUInt64(elf, (int)(sectionTable + (long)BitConverter.ToUInt32(elf, (int)header + 0x28) * entrySize) + 0x18);
            // Elf64_Verneed: vn_version, vn_cnt (u16), vn_file, vn_aux, vn_next (u32); Elf64_Vernaux: vna_hash (u32),
            // vna_flags, vna_other (u16), vna_name, vna_next (u32)
            var need = offset;
            for (var n = 0; n < count; n++)
            {
                var aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (var a = 0; a < BitConverter.ToUInt16(elf, (int)need + 2); a++)
                {
                    if (Name(elf, strings + BitConverter.ToUInt32(elf, (int)aux + 8)) == Version)
                    {
                        var flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & WeakFlag) != 0) return "already weak";
                        flags |= WeakFlag;
                        elf[aux + 4] = (byte)flags;
                        elf[aux + 5] = (byte)(flags >> 8);
                        // a new file in place of the old: never writes through a hard link into a package cache
                        var temporary = File + ".weakening";
                        System.IO.File.WriteAllBytes(temporary, elf);
                        System.IO.File.Delete(File);
                        System.IO.File.Move(temporary, File);
                        return "weakened";
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
        }
        return "not asked";
    }

    static string Name(byte[] elf, long at)
    {
        var end = Array.IndexOf(elf, (byte)0, (int)at);
        return Encoding.ASCII.GetString(elf, (int)at, end - (int)at);
    }

    // compiled against netstandard2.0 by MSBuild: no spans
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Length; i++)
        {
            var j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
