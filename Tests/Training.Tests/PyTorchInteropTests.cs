using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Export;
using Pipeline.Tests;
using TorchSharp;
using Pipeline.Shared.Errors;
using Pipeline.Training.Networks;
using static TorchSharp.torch;
using Autoencoder = Pipeline.Training.Networks.Autoencoder;

namespace Pipeline.Training.Tests;

/// <summary>
/// State dicts cross between the product and PyTorch (Debian's python3-torch, which ./run test installs) through
/// <see cref="StateDicts"/> (TorchSharp.PyBridge): the same architecture written in Python gives the same outputs.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class PyTorchInteropTests
{
    /// <summary>The autoencoder written as PyTorch users write it: two nn.Sequentials, as Networks.Autoencoder.</summary>
    const string PythonAutoencoder = """
        import sys
        import numpy as np
        import torch
        from torch import nn

        class Autoencoder(nn.Module):
            def __init__(self, d, hidden, dropout=0.2):
                super().__init__()
                widths = [d] + hidden
                encoder, decoder = [], []
                for i in range(len(hidden)):
                    encoder.append(nn.Linear(widths[i], widths[i + 1]))
                    if i < len(hidden) - 1:
                        encoder += [nn.ReLU(), nn.BatchNorm1d(widths[i + 1])]
                for i in range(len(hidden), 0, -1):
                    decoder.append(nn.Linear(widths[i], widths[i - 1]))
                    if i > 1:
                        decoder += [nn.ReLU(), nn.BatchNorm1d(widths[i - 1])]
                    if i == 2 and dropout > 0:
                        decoder.append(nn.Dropout(dropout))
                self.encoder = nn.Sequential(*encoder)
                self.decoder = nn.Sequential(*decoder)

            def forward(self, x):
                return self.decoder(self.encoder(x))

        """;

    [Fact]
    public void AModelSavedByTheProduct_LoadsIntoPyTorch_WithTheSameOutputs()
    {
        var dir = TestData.TempDirectory();
        manual_seed(11);
        using var model = new Autoencoder(20, [16, 8]);
        NetworkAutoencoderTests.MoveStatistics(model);
        model.eval();
        using var x = randn(40, 20);
        using var expected = model.forward(x).detach();
        StateDicts.Save(model, Path.Combine(dir, "ae.pt"));
        NpyFile.Write(Path.Combine(dir, "x.npy"), new NdArray([40, 20], x.data<float>().ToArray()));
        TestData.Python(PythonAutoencoder + $$"""
            model = Autoencoder(20, [16, 8])
            model.load_state_dict(torch.load("{{dir}}/ae.pt"))
            model.eval()
            with torch.no_grad():
                y = model(torch.from_numpy(np.load("{{dir}}/x.npy")))
            np.save("{{dir}}/y.npy", y.numpy())
            """);
        var pytorch = NpyFile.Read(Path.Combine(dir, "y.npy"));
        Assert.True(TestData.MaxRelativeError(pytorch.Data, expected.data<float>().ToArray()) <= 1e-5);
    }

    [Fact]
    public void AStateDictSavedByPyTorch_LoadsIntoTheProduct_AndExportsToOnnx()
    {
        var dir = TestData.TempDirectory();
        TestData.Python(PythonAutoencoder + $$"""
            torch.manual_seed(0)
            model = Autoencoder(20, [16, 8])
            model.train()
            with torch.no_grad():
                for _ in range(5):
                    model(torch.randn(32, 20) * 2 + 0.5)
            model.eval()
            x = torch.randn(40, 20)
            with torch.no_grad():
                y = model(x)
            torch.save(model.state_dict(), "{{dir}}/ae.pt")
            np.save("{{dir}}/x.npy", x.numpy())
            np.save("{{dir}}/y.npy", y.numpy())
            """);
        var x = NpyFile.Read(Path.Combine(dir, "x.npy"));
        var y = NpyFile.Read(Path.Combine(dir, "y.npy"));
        using var model = new Autoencoder(20, [16, 8]);
        StateDicts.Load(model, Path.Combine(dir, "ae.pt"));
        model.eval();
        using var input = tensor(x.Data, [40, 20]);
        using (no_grad())
        using (var ours = model.forward(input))
            Assert.True(TestData.MaxRelativeError(ours.data<float>().ToArray(), y.Data) <= 1e-5, "TorchSharp against PyTorch");

        var exported = Path.Combine(dir, "model");
        AutoencoderExport.Export(model, exported, "from-pytorch", new LogMelOptions { NMels = 10, ContextBefore = 1, ContextAfter = 1 }, new AnomalyScoring("mean", 0, 1.0, "given"));
        using var session = new InferenceSession(Path.Combine(exported, AutoencoderExport.ModelFile));
        using var outputs = session.Run([NamedOnnxValue.CreateFromTensor("features", new DenseTensor<float>(x.Data, [40, 20]))]);
        var reconstruction = outputs.Single(o => o.Name == "reconstruction").AsTensor<float>().ToArray();
        Assert.True(TestData.MaxRelativeError(reconstruction, y.Data) <= 1e-5, "ONNX Runtime against PyTorch");
    }

    [Fact]
    public void StateDictsThatDoNotFit_AreRefusedNamingTheTensor_AndSafetensorsRoundTrip()
    {
        var dir = TestData.TempDirectory();
        TestData.Python(PythonAutoencoder + $$"""
            state = Autoencoder(20, [16, 8]).state_dict()
            def save(name, change):
                s = dict(state)
                change(s)
                torch.save(s, "{{dir}}/" + name + ".pt")
            save("missing", lambda s: s.pop("decoder.4.bias"))
            save("extra", lambda s: s.__setitem__("decoder.9.weight", torch.zeros(3)))
            save("wider", lambda s: s.__setitem__("encoder.0.weight", torch.zeros(32, 20)))
            save("float64", lambda s: s.update({k: v.double() for k, v in s.items() if v.is_floating_point()}))
            """);
        using var model = new Autoencoder(20, [16, 8]);
        using var before = model.state_dict()["encoder.0.weight"].clone();
        string Refusal(string file) => Assert.Throws<InvalidFileException>(() => StateDicts.Load(model, Path.Combine(dir, file))).Message;
        Assert.Equal($"{dir}/missing.pt: does not fit this model: it has no tensor 'decoder.4.bias' (17 tensors in the file, 18 in the model)", Refusal("missing.pt"));
        Assert.Equal($"{dir}/extra.pt: does not fit this model: it holds a tensor 'decoder.9.weight' the model has not", Refusal("extra.pt"));
        Assert.Equal($"{dir}/wider.pt: does not fit this model: tensor 'encoder.0.weight' has shape (32, 20), the model needs (16, 20)", Refusal("wider.pt"));
        Assert.Equal($"{dir}/float64.pt: tensor 'encoder.0.weight' is float64 but the model's is float32; in PyTorch, convert the model (model.float() for float32) before saving", Refusal("float64.pt"));
        File.WriteAllText(Path.Combine(dir, "notes.pt"), "these are notes");
        Assert.StartsWith($"{dir}/notes.pt: is not a PyTorch state dict (", Refusal("notes.pt"));
        Assert.Contains("no such state dict", Refusal("none.pt"));
        File.WriteAllBytes(Path.Combine(dir, "empty.pt"), []);
        Assert.Contains("is empty", Refusal("empty.pt"));

        // nothing was changed by the refusals; a safetensors file carries the same state
        var safetensors = Path.Combine(dir, "ae.safetensors");
        StateDicts.Save(model, safetensors);
        using var copy = new Autoencoder(20, [16, 8]);
        StateDicts.Load(copy, safetensors);
        foreach (var (name, tensor) in model.state_dict())
            Assert.True(tensor.eq(copy.state_dict()[name]).all().item<bool>(), name);
        Assert.True(before.eq(model.state_dict()["encoder.0.weight"]).all().item<bool>());
    }
}
