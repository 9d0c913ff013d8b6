#!/usr/bin/python3
"""Makes torch_parity_*.safetensors: PyTorch's own Adam training of two small networks.

Run once with Debian's python3-torch (1.13): /usr/bin/python3 make_torch_parity.py
The tests only read the files, so torch is not needed to run them.

Each file holds, under tensor names:
  init.<state_dict name>   the initial parameters and buffers
  batch.<k>.x, batch.<k>.y the mini-batches, in order
  final.<state_dict name>  parameters and buffers after one Adam step per batch (MSE loss)
  loss                     the loss of each step (before its update)
and the architecture and optimiser settings in __metadata__.
"""
import json
import struct
import sys

import numpy as np
import torch


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, value in tensors.items():
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def state(model, prefix):
    return {prefix + k: v.detach().numpy().astype(np.float32).copy() for k, v in model.state_dict().items()}


def make(path, model, architecture, lr, weight_decay, steps, batch, features, outputs, seed):
    torch.manual_seed(seed)
    for p in model.parameters():  # move away from the default init so biases and scales are not trivial
        with torch.no_grad():
            p.add_(0.1 * torch.randn_like(p))
    tensors = state(model, "init.")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for k in range(steps):
        x = torch.randn(batch, features)
        y = torch.randn(batch, outputs)
        tensors[f"batch.{k}.x"] = x.numpy().copy()
        tensors[f"batch.{k}.y"] = y.numpy().copy()
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    tensors.update(state(model, "final."))
    tensors["loss"] = np.array(losses, dtype=np.float32)
    metadata = {"architecture": architecture, "lr": repr(lr), "weight_decay": repr(weight_decay),
                "steps": str(steps), "torch": torch.__version__}
    write_safetensors(path, tensors, metadata)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(1)
    # Seed 003's order (Linear, ReLU, BatchNorm): a bias straight before BatchNorm would get an exactly zero
    # gradient, and Adam would turn its rounding noise into full-size steps in both frameworks.
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.BatchNorm1d(16),
                              torch.nn.Linear(16, 5))
    make(f"{out}/torch_parity_batchnorm.safetensors", mlp, "Linear(6,16) ReLU BatchNorm1d(16) Linear(16,5)",
         lr=1e-2, weight_decay=1e-4, steps=6, batch=12, features=6, outputs=5, seed=2)
    torch.manual_seed(3)
    stack = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
                                torch.nn.Linear(10, 8))
    make(f"{out}/torch_parity_relu_stack.safetensors", stack, "Linear(8,12) ReLU Linear(12,10) ReLU Linear(10,8)",
         lr=5e-3, weight_decay=0.0, steps=6, batch=16, features=8, outputs=8, seed=4)
