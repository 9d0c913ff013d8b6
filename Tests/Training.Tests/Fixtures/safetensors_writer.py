"""write_safetensors: the fixture scripts' one safetensors writer (float64 tensors by default, string metadata)."""
import json
import struct

import numpy as np


def write_safetensors(path, tensors, metadata, dtype="<f8"):
    name_of = {"<f8": "F64", "<f4": "F32"}[dtype]
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, value in tensors.items():
        data = np.ascontiguousarray(value, dtype=dtype).tobytes()
        header[name] = {"dtype": name_of, "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
