using System.Diagnostics;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

/// <summary>Outputs are checked before the work, written all or none, and never replace a user's folder.</summary>
public class OutputSetTests
{
    static readonly OutputFolderKind Kind = new("test output", "kind.json");

    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void FolderHoldingSomethingElse_IsRefusedUntouched_UnlessForced()
    {
        var dir = TestData.TempDirectory();
        var target = Path.Combine(dir, "out");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "precious.txt"), "mine");
        using (var outputs = new OutputSet())
        {
            var e = Assert.Throws<OutputExistsException>(() => outputs.DeclareFolder(target, Kind));
            Assert.Contains("precious.txt", e.Message);
            Assert.Contains("--force", e.Message);
        }
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "precious.txt")));

        using (var forced = new OutputSet(force: true))
        {
            forced.DeclareFolder(target, Kind);
            forced.WriteFolder(target, f => File.WriteAllText(Path.Combine(f, "kind.json"), "{}"));
            forced.Commit();
        }
        Assert.Equal([OutputSet.ListingFileName, "kind.json"], Entries(target));
        Assert.Equal(["out"], Entries(dir));
    }

    [Fact]
    public void EmptyFolder_AndAnEarlierOutputOfTheSameKind_AreReplaced_AnotherKindIsNot()
    {
        var dir = TestData.TempDirectory();
        var target = Path.Combine(dir, "out");
        Directory.CreateDirectory(target);
        for (var run = 0; run < 2; run++)
        {
            using var outputs = new OutputSet();
            outputs.DeclareFolder(target, Kind);
            outputs.WriteFolder(target, f => File.WriteAllText(Path.Combine(f, "kind.json"), $"{{\"run\":{run}}}"));
            outputs.Commit();
        }
        Assert.Equal("{\"run\":1}", File.ReadAllText(Path.Combine(target, "kind.json")));
        // a model folder is recognised by its manifest's format, not by the file name alone
        using var other = new OutputSet();
        Assert.Throws<OutputExistsException>(() => other.DeclareFolder(target, ModelFolder.Kind));
        File.WriteAllText(Path.Combine(target, "manifest.json"), "{\"format\":\"something-else\"}");
        Assert.Throws<OutputExistsException>(() => other.DeclareFolder(target, ModelFolder.Kind));
    }

    [Fact]
    public void UnwritablePaths_AreRefusedWhenDeclared_NamingThePathGiven()
    {
        var dir = TestData.TempDirectory();
        var file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "x");
        using var outputs = new OutputSet();
        var parentIsFile = Assert.Throws<OutputWriteException>(() => outputs.DeclareFile(Path.Combine(file, "sub", "W.npy")));
        Assert.Equal($"cannot write {Path.Combine(file, "sub", "W.npy")}: {file} is a file, not a folder", parentIsFile.Message);
        var fileForFolder = Assert.Throws<OutputWriteException>(() => outputs.DeclareFolder(file, Kind));
        Assert.StartsWith($"cannot write {file}: a file exists where a folder is wanted", fileForFolder.Message);
        var folderForFile = Assert.Throws<OutputWriteException>(() => outputs.DeclareFile(dir));
        Assert.Equal($"cannot write {dir}: it is a folder, not a file", folderForFile.Message);
        // procfs takes no new files, root or not
        var proc = Assert.Throws<OutputWriteException>(() => outputs.DeclareFile("/proc/pipeline-test.npy"));
        Assert.Equal("cannot write /proc/pipeline-test.npy: files cannot be created there", proc.Message);
        Assert.Equal(["a-file"], Entries(dir));
    }

    [Fact]
    public void FailedCommit_PutsBackEveryReplacedOutput_AndLeavesNoTemporaries()
    {
        var dir = TestData.TempDirectory();
        var (a, b) = (Path.Combine(dir, "a.txt"), Path.Combine(dir, "b.txt"));
        File.WriteAllText(a, "old a");
        using (var outputs = new OutputSet())
        {
            outputs.WriteFile(a, s => s.Write("new a"u8));
            outputs.WriteFile(b, s => s.Write("new b"u8));
            // the second rename fails: its temporary vanished (a full disk or a concurrent cleaner, say)
            foreach (var temporary in Directory.GetFiles(dir, ".b.txt.*.tmp")) File.Delete(temporary);
            var e = Assert.Throws<OutputWriteException>(outputs.Commit);
            Assert.StartsWith($"cannot write {b}:", e.Message);
        }
        Assert.Equal("old a", File.ReadAllText(a));
        Assert.Equal(["a.txt"], Entries(dir));
    }

    [Fact]
    public void WorkThatFails_BeforeTheCommit_LeavesNothing()
    {
        var dir = TestData.TempDirectory();
        using (var outputs = new OutputSet())
        {
            outputs.WriteFolder(Path.Combine(dir, "model"), f => File.WriteAllText(Path.Combine(f, "x"), "x"));
            outputs.WriteFile(Path.Combine(dir, "W.npy"), s => s.WriteByte(1));
            // no Commit: the job stopped (an error, Ctrl-C) after building its outputs
        }
        Assert.Empty(Entries(dir));
    }

    [Fact]
    public void TemporariesOfProcessesThatAreGone_AreRemovedByTheNextWrite_ThoseOfLiveOnesStay()
    {
        var dir = TestData.TempDirectory();
        // a process id that has run and exited: a finished child's
        using var child = Process.Start(new ProcessStartInfo("true"))!;
        child.WaitForExit();
        var dead = child.Id;
        var guid = new string('a', 32);
        Directory.CreateDirectory(Path.Combine(dir, $".model.{dead}.{guid}.tmp"));
        File.WriteAllText(Path.Combine(dir, $".model.checkpoint.{dead}.{guid}.tmp"), "half");
        Directory.CreateDirectory(Path.Combine(dir, $".model.{dead}.{guid}.old")); // killed between its renames: "model" is missing
        File.WriteAllText(Path.Combine(dir, $".model.{dead}.{guid}.old", "manifest.json"), "the previous model");
        File.WriteAllText(Path.Combine(dir, "W.npy"), "current");
        File.WriteAllText(Path.Combine(dir, $".W.npy.{dead}.{guid}.old"), "replaced, and its replacement is in place");
        var live = $".other.{Environment.ProcessId}.{guid}.tmp";
        File.WriteAllText(Path.Combine(dir, live), "in progress");
        File.WriteAllText(Path.Combine(dir, ".hidden.123.notatemp"), "user file");
        AtomicFile.WriteAllText(Path.Combine(dir, "result.txt"), "done");
        Assert.Equal([".hidden.123.notatemp", live, "W.npy", "model", "result.txt"], Entries(dir));
        Assert.Equal("the previous model", File.ReadAllText(Path.Combine(dir, "model", "manifest.json"))); // put back, not lost
        Assert.Equal("current", File.ReadAllText(Path.Combine(dir, "W.npy")));
    }
}
