using Pipeline.Shared.Errors;
using Pipeline.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Tests;

/// <summary>The TorchSharp autoencoder's training: convergence on a planted structure, reproducibility, no leaked tensors.</summary>
[Collection(LibTorchCollection.Name)]
public class AutoencoderTrainerTests
{
    /// <summary>Rows on a 3-dimensional subspace of R^12 plus small noise: a code of 3 reconstructs them.</summary>
    static Tensor Planted(int rows, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var codes = randn([rows, 3], generator: generator);
        using var basis = randn([3, 12], generator: generator);
        using var noise = randn([rows, 12], generator: generator);
        return codes.matmul(basis) + noise * 0.01;
    }

    static AutoencoderTrainingOptions Quick => new() { Epochs = 40, ConstantEpochs = 20, LearningRate = 1e-2, FinalLearningRate = 1e-3, WeightDecay = 0, BatchSize = 32, Seed = 3 };

    static Autoencoder Model(long seed, double dropout = 0)
    {
        manual_seed(seed);
        return new Autoencoder(12, [16, 3], dropout);
    }

    [Fact]
    public void Training_ReconstructsAPlantedSubspace_AndTheRateFollowsTheSchedule()
    {
        using var data = Planted(512, 1);
        using var model = Model(1);
        var variance = data.pow(2).mean().item<float>();
        var losses = AutoencoderTrainer.Fit(model, data, Quick).TrainLoss;
        Assert.Equal(40, losses.Count);
        // the best rank-3 reconstruction leaves only the noise (1e-4 of a unit-variance signal); a tenth of the
        // signal's energy is far above that and far below what an untrained network leaves
        Assert.True(losses[^1] < 0.1 * variance, $"final loss {losses[^1]:G3} against energy {variance:G3}");
        Assert.True(losses[^1] < losses[0] / 5, $"loss {losses[0]:G3} → {losses[^1]:G3}");
        Assert.Equal(1.0, Quick.RateFactor(0));
        Assert.Equal(1.0, Quick.RateFactor(20));
        Assert.Equal(0.1, Quick.RateFactor(39), 12);
        Assert.Equal(1.0 - 0.9 * 10 / 19, Quick.RateFactor(30), 12);
    }

    [Fact]
    public void SameSeed_SameModel_BitForBit()
    {
        using var data = Planted(200, 2);
        float[] Train()
        {
            using var model = Model(5);
            AutoencoderTrainer.Fit(model, data, Quick with { Epochs = 3, ConstantEpochs = 1 });
            return model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
        }
        Assert.Equal(Train(), Train());
    }

    [Fact]
    public void AJobKilledAfterAnEpoch_ResumesToTheUninterruptedModel_BitForBit()
    {
        using var data = Planted(150, 6);
        var options = Quick with { Epochs = 4, ConstantEpochs = 1 };
        // with dropout, so the resumed job must also continue LibTorch's generator where it was
        using var straight = Model(9, dropout: 0.2);
        var straightLosses = AutoencoderTrainer.Fit(straight, data, options);
        var expected = straight.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();

        var checkpoint = Path.Combine(Pipeline.Tests.TestData.TempDirectory(), "job.checkpoint");
        using (var killed = Model(9, dropout: 0.2))
            Assert.Throws<OperationCanceledException>(() => AutoencoderTrainer.Fit(killed, data, options with { CheckpointPath = checkpoint },
                new TrainingHooks { Epochs = new Shared.Threading.SynchronousProgress<EpochReport>(e => { if (e.Epoch == 2) throw new OperationCanceledException(); }) }));
        using var resumed = Model(9, dropout: 0.2);
        var losses = AutoencoderTrainer.Fit(resumed, data, options with { CheckpointPath = checkpoint, Resume = true });
        Assert.Equal(straightLosses.TrainLoss, losses.TrainLoss);
        Assert.Equal(2, losses.ResumedFromEpoch);
        Assert.Equal(expected, resumed.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray());
    }

    [Fact]
    public void ACheckpointThatDoesNotFit_IsRefusedNamingWhy()
    {
        using var data = Planted(64, 7);
        var dir = Pipeline.Tests.TestData.TempDirectory();
        var checkpoint = Path.Combine(dir, "job.checkpoint");
        using (var model = Model(2)) AutoencoderTrainer.Fit(model, data, Quick with { Epochs = 1, ConstantEpochs = 0, CheckpointPath = checkpoint });
        var resume = Quick with { ConstantEpochs = 0, CheckpointPath = checkpoint, Resume = true };
        manual_seed(2);
        using (var wider = new Autoencoder(12, [32, 3], dropout: 0))
            Assert.Equal($"{checkpoint}: does not fit this model: tensor 'encoder.0.weight' has shape (16, 12), the model needs (32, 12)",
                Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(wider, data, resume)).Message);
        var bytes = File.ReadAllBytes(checkpoint);
        // other settings than the checkpoint's: refused, naming each one and both values
        using (var model = Model(2))
            Assert.Equal("the checkpoint was written with batch size 32, learning rate 0.01; this job asks for batch size 16, learning rate 0.02: resume with the checkpoint's settings, or start again without resuming",
                Assert.Throws<InvalidOptionException>(() => AutoencoderTrainer.Fit(model, data, resume with { LearningRate = 2e-2, BatchSize = 16 })).Message);
        // 64 bytes inverted in the middle (a disk error, a partial copy): refused by the checksum, not resumed into NaN
        var damaged = Path.Combine(dir, "damaged.checkpoint");
        var flipped = (byte[])bytes.Clone();
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 64; i++) flipped[i] ^= 0xFF;
        File.WriteAllBytes(damaged, flipped);
        using (var model = Model(2))
            Assert.Contains("is truncated or damaged", Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(model, data, resume with { CheckpointPath = damaged })).Message);
        var truncated = Path.Combine(dir, "truncated.checkpoint");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        using (var model = Model(2))
            Assert.Contains("is truncated or damaged", Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(model, data, resume with { CheckpointPath = truncated })).Message);
        var foreign = Path.Combine(dir, "notes.checkpoint");
        File.WriteAllText(foreign, "these are notes");
        using (var model = Model(2))
            Assert.StartsWith($"{foreign}: ", Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(model, data, resume with { CheckpointPath = foreign })).Message);
        // a binary file of another kind (a PyTorch zip): one line, none of its bytes echoed
        var binary = Path.Combine(dir, "model.checkpoint");
        File.WriteAllBytes(binary, [0x50, 0x4B, 0x03, 0x04, .. new byte[40], .. "archive/data.pkl\nFB ZZZZ"u8.ToArray(), .. new byte[200]]);
        using (var model = Model(2))
            Assert.Equal($"{binary}: not a Pipeline training checkpoint",
                Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(model, data, resume with { CheckpointPath = binary })).Message);
        using (var model = Model(2))
            Assert.Contains("no such checkpoint", Assert.Throws<InvalidFileException>(() => AutoencoderTrainer.Fit(model, data, resume with { CheckpointPath = Path.Combine(dir, "none") })).Message);
    }

    [Fact]
    public void AThousandSteps_LeaveNoTensorBehind()
    {
        using var data = Planted(64, 3); // two steps per epoch
        using var model = Model(3);
        var options = Quick with { Epochs = 20, ConstantEpochs = 10 };
        AutoencoderTrainer.Fit(model, data, options); // optimiser state and first-use allocations settle
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        AutoencoderTrainer.Fit(model, data, options with { Epochs = 500, ConstantEpochs = 250 }); // 1,000 steps
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void BadDataAndDivergence_AreRefusedWithWhereItHappened()
    {
        using var model = Model(4);
        using var nan = Planted(64, 4);
        nan[3, 5] = tensor(float.NaN);
        Assert.Contains("NaN or infinite", Assert.Throws<InvalidInputException>(() => AutoencoderTrainer.Fit(model, nan, Quick)).Message);
        foreach (var bad in new[] { float.PositiveInfinity, float.NegativeInfinity })
        {
            using var infinite = Planted(64, 4);
            infinite[60, 0] = tensor(bad);
            Assert.Contains("NaN or infinite", Assert.Throws<InvalidInputException>(() => AutoencoderTrainer.Fit(model, infinite, Quick)).Message);
        }
        using var narrow = zeros(64, 5);
        Assert.Contains("expected (N ≥ 2, 12)", Assert.Throws<InvalidInputException>(() => AutoencoderTrainer.Fit(model, narrow, Quick)).Message);
        Assert.Contains("batch size must be ≥ 2", Assert.Throws<InvalidOptionException>(() => AutoencoderTrainer.Fit(model, narrow, Quick with { BatchSize = 1 })).Message);
        // values near float32's limit: the squared error overflows in the first step
        using var huge = Planted(64, 4) * 1e19f;
        var diverged = Assert.Throws<TrainingDivergedException>(() => AutoencoderTrainer.Fit(model, huge, Quick));
        Assert.Equal((1, 1L), (diverged.Epoch, diverged.Step));
    }
}
