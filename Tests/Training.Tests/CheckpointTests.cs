using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Fitting;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Tests;

public class CheckpointTests
{
    static Sequential Model(Generator g, int hidden = 8) =>
        new(new Linear(5, hidden, generator: g), new BatchNorm1d(hidden), new ReLU(), new Dropout(0.2f, g), new Linear(hidden, 5, generator: g));

    /// <summary>A small seeded training job: an autoencoder on fixed data, with shuffling, dropout and a schedule.</summary>
    static (TrainingHistory History, Sequential Model) Train(string? checkpoint, int epochs, bool resume, Func<BatchReport, bool>? stopAfter = null)
    {
        var g = new Generator(42);
        var data = Tensor.Randn(new Generator(7), 60, 5);
        var model = Model(g);
        var adam = new Adam(model.Parameters(), 1e-2, weightDecay: 1e-4);
        var schedule = LambdaSchedule.ConstantThenLinear(adam, constantEpochs: 2, endEpoch: 5);
        var loop = new TrainingLoop(model, adam, g, new TrainingLoopOptions { Epochs = epochs, BatchSize = 16, CheckpointPath = checkpoint, Resume = resume }, schedule)
        {
            Validation = () => Losses.Mse(model.Forward(data), data).Item(),
        };
        var history = loop.Run(60, indices =>
        {
            var batch = data.IndexSelect(0, indices);
            return Losses.Mse(model.Forward(batch), batch);
        });
        return (history, model);
    }

    [Fact]
    public void ResumedJob_EndsExactlyLikeAnUninterruptedOne()
    {
        var dir = TestData.TempDirectory();
        var (full, fullModel) = Train(null, epochs: 5, resume: false);
        var path = Path.Combine(dir, "job.safetensors");
        var (first, _) = Train(path, epochs: 2, resume: false); // "killed" after epoch 2
        Assert.Equal(2, first.TrainLoss.Count);
        var (resumed, resumedModel) = Train(path, epochs: 5, resume: true);
        Assert.Equal(2, resumed.ResumedFromEpoch);
        Assert.Equal(full.TrainLoss, resumed.TrainLoss);
        Assert.Equal(full.ValidationLoss, resumed.ValidationLoss);
        foreach (var ((name, a), (_, b)) in fullModel.StateDict().Zip(resumedModel.StateDict()))
            Assert.True(a.ToArray().SequenceEqual(b.ToArray()), $"{name} differs after resuming");
        Assert.True(full.TrainLoss[^1] < full.TrainLoss[0]);
        // a checkpoint further along than the job asks for is refused, not silently "finished"
        var e = Assert.Throws<InvalidOptionException>(() => Train(path, epochs: 1, resume: true));
        Assert.Contains("the checkpoint has 5 epochs done, more than the 1 asked for", e.Message); // the resumed job went on to epoch 5
        Assert.Contains("no checkpoint", Assert.Throws<InvalidOptionException>(() => Train(Path.Combine(dir, "none.safetensors"), epochs: 3, resume: true)).Message);
    }

    [Fact]
    public void Checkpoint_IsReadableByPlainNumpy()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "model.safetensors");
        var model = Model(new Generator(1));
        var adam = new Adam(model.Parameters());
        Checkpoint.Save(path, model, adam, metadata: new Dictionary<string, string> { ["note"] = "hello" });
        var expected = model.StateDict().First(e => e.Key == "4.weight").Value;
        // An independent reader: the format's definition in a few lines of Python.
        var output = TestData.Python($$"""
            import json, struct, numpy as np
            raw = open(r"{{path}}", "rb").read()
            n = struct.unpack("<Q", raw[:8])[0]
            header = json.loads(raw[8:8 + n])
            info = header["model.4.weight"]
            begin, end = info["data_offsets"]
            w = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4").reshape(info["shape"])
            print(header["__metadata__"]["note"], header["__metadata__"]["optimizer.type"], list(w.shape), repr(float(w[1, 2])))
            print("optimizer.4.weight.exp_avg" in header, (8 + n) % 8)
            """);
        var lines = output.Trim().Split('\n');
        Assert.Equal($"hello Adam [5, 8] {((double)expected[1, 2]).ToString("R", System.Globalization.CultureInfo.InvariantCulture)}", lines[0].Trim());
        Assert.Equal("True 0", lines[1].Trim());
    }

    [Fact]
    public void Load_IntoAnotherArchitecture_NamesTheFirstMismatchingTensor()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "a.safetensors");
        Checkpoint.Save(path, Model(new Generator(1)));
        var other = Model(new Generator(2), hidden: 6);
        var before = other.Parameters()[0].ToArray();
        var error = Assert.Throws<InvalidFileException>(() => Checkpoint.Load(path, other));
        Assert.Contains("'0.weight'", error.Message);
        Assert.Contains("[8, 5]", error.Message);
        Assert.Contains("[6, 5]", error.Message);
        Assert.Equal(before, other.Parameters()[0].ToArray());
        // an optimiser state that was never saved
        Assert.Throws<InvalidFileException>(() => Checkpoint.Load(path, Model(new Generator(3)), new Adam(Model(new Generator(3)).Parameters())));
    }

    [Fact]
    public void Read_RejectsTruncatedAndForeignFiles()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "a.safetensors");
        Checkpoint.Save(path, Model(new Generator(1)));
        var bytes = File.ReadAllBytes(path);
        var truncated = Path.Combine(dir, "truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..^10]);
        Assert.Contains("truncated", Assert.Throws<InvalidFileException>(() => SafeTensors.Read(truncated)).Message);
        var text = Path.Combine(dir, "text.safetensors");
        File.WriteAllText(text, "this is not a checkpoint at all");
        Assert.Throws<InvalidFileException>(() => SafeTensors.Read(text));
        var empty = Path.Combine(dir, "empty.safetensors");
        File.WriteAllBytes(empty, []);
        Assert.Throws<InvalidFileException>(() => SafeTensors.Read(empty));
        var foreign = Path.Combine(dir, "foreign.safetensors");
        SafeTensors.Write(foreign, [new("w", Tensor.Ones(2))]);
        Assert.Contains("not a Pipeline checkpoint", Assert.Throws<InvalidFileException>(() => Checkpoint.Load(foreign, Model(new Generator(1)))).Message);
        Assert.Throws<InvalidFileException>(() => SafeTensors.Read(Path.Combine(dir, "missing.safetensors")));
    }

    [Fact]
    public void NonFiniteLoss_StopsTrainingWithTheStepNumber()
    {
        var g = new Generator(1);
        var model = Model(g);
        var adam = new Adam(model.Parameters());
        var data = Tensor.Randn(g, 40, 5);
        data[25, 3] = float.NaN; // lands in some batch of the second epoch at the latest
        var loop = new TrainingLoop(model, adam, g, new TrainingLoopOptions { Epochs = 2, BatchSize = 10, Shuffle = false });
        var error = Assert.Throws<TrainingDivergedException>(() => loop.Run(40, i =>
        {
            var batch = data.IndexSelect(0, i);
            return Losses.Mse(model.Forward(batch), batch);
        }));
        Assert.Equal(3, error.Step); // rows 20–29 form the third batch
        Assert.Equal(1, error.Epoch);
        Assert.Contains("step 3", error.Message);
    }

    [Fact]
    public void LastBatchOfOneSample_IsDropped_SoBatchNormCanTrain()
    {
        var g = new Generator(2);
        var model = Model(g);
        var data = Tensor.Randn(g, 33, 5); // batches of 16: 16, 16 and a lone sample
        var seen = new List<int>();
        var loop = new TrainingLoop(model, new Adam(model.Parameters()), g, new TrainingLoopOptions { Epochs = 1, BatchSize = 16 });
        loop.Run(33, i => { seen.Add(i.Length); var b = data.IndexSelect(0, i); return Losses.Mse(model.Forward(b), b); });
        Assert.Equal([16, 16], seen);
    }
}
