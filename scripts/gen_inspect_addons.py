"""gen_inspect_addons.py — hypernetwork, textual-inversion and aesthetic fixtures for `loom inspect`
(called by gen_fixtures_inspect.py).

Each file is the object the reference tool saves, written with torch.save / safetensors:
  * hypernetwork: the dict A1111's Hypernetwork.save() writes (addons.md §1.3), each width's
    entry the state_dict()s of two modules built by the rule of §1.4 (Linear, activation,
    LayerNorm, Dropout in one Sequential called `linear`);
  * embeddings: every format of addons.md §2.3 (A1111 .pt, the original textual_inversion
    .pt with a pickled ParameterDict, the diffusers learned_embeds.bin, kohya's emb_params,
    SDXL clip_l/clip_g);
  * aesthetic embedding: a bare [1, 768] tensor (addons.md §3.1).
"""
import os

import torch
from safetensors.torch import save_file


class HypernetworkModule(torch.nn.Module):
    """One side (k or v) of one width, laid out as addons.md §1.4 describes."""

    def __init__(self, dim, layer_structure, activation, layer_norm, activate_output, dropout_structure):
        super().__init__()
        seq = []
        n = len(layer_structure)
        for i in range(n - 1):
            seq.append(torch.nn.Linear(int(dim * layer_structure[i]), int(dim * layer_structure[i + 1])))
            if activation not in (None, "linear") and not (i >= n - 2 and not activate_output):
                seq.append(torch.nn.ReLU())
            if layer_norm:
                seq.append(torch.nn.LayerNorm(int(dim * layer_structure[i + 1])))
            if dropout_structure[i + 1] > 0:
                seq.append(torch.nn.Dropout(p=dropout_structure[i + 1]))  # no parameters, but takes an index
        self.linear = torch.nn.Sequential(*seq)


def hypernetwork(out, expected, record):
    torch.manual_seed(31)
    # A small layer structure keeps the file small; A1111's UI accepts any floats here.
    ls, sizes = [1.0, 0.01, 1.0], [320, 768]
    dropout = [0.0, 0.3, 0.0]  # parse_dropout_structure(ls, use_dropout=True, last_layer_dropout=True)
    d = {}
    tensors = []
    for size in sizes:
        pair = tuple(HypernetworkModule(size, ls, "relu", True, False, dropout).state_dict() for _ in range(2))
        d[size] = pair
        tensors += [t for sd in pair for t in sd.values()]
    d.update({"step": 1200, "name": "loomhn", "layer_structure": ls, "activation_func": "relu",
              "is_layer_norm": True, "weight_initialization": "Normal", "sd_checkpoint": "e1441589a6",
              "sd_checkpoint_name": "v1-5-pruned-emaonly", "activate_output": False, "use_dropout": True,
              "dropout_structure": dropout, "last_layer_dropout": True, "optional_info": None})
    name = "hypernet_a1111.pt"
    torch.save(d, os.path.join(out, name))
    record(expected, name, "torch zip", tensors, tool="torch.save of A1111's hypernetwork dict",
           kind="hypernetwork", family="sd1",  # the 768 entry acts on SD1's cross-attention context (§1.1)
           hypernetwork={"sizes": sizes, "name": "loomhn", "layer_structure": ls, "activation": "relu",
                         "layer_norm": True, "step": 1200})


def embeddings(out, expected, record):
    torch.manual_seed(32)
    made = []
    # A1111 Embedding.save (addons.md §2.3.1); the vector was trained, so it requires grad.
    vec = (torch.randn(4, 768) * 0.01).requires_grad_(True)
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vec}, "name": "loomemb", "step": 500,
                "sd_checkpoint": "e1441589a6", "sd_checkpoint_name": "v1-5-pruned-emaonly"},
               os.path.join(out, "ti_a1111.pt"))
    made.append(("ti_a1111.pt", "torch zip", [vec], "A1111 Embedding.save", 4, 768, "sd1", "a1111"))
    # The original textual_inversion EmbeddingManager.save: a pickled ParameterDict (§2.3.2).
    p = torch.nn.Parameter(torch.randn(1, 768) * 0.01)
    tok = torch.tensor(265)
    torch.save({"string_to_token": {"*": tok}, "string_to_param": torch.nn.ParameterDict({"*": p})},
               os.path.join(out, "ti_original.pt"))
    made.append(("ti_original.pt", "torch zip", [tok, p.data], "textual_inversion EmbeddingManager.save",
                 1, 768, "sd1", "original"))
    # diffusers textual_inversion.py save_progress: {token: vector} (§2.3.3).
    v = torch.randn(768) * 0.01
    torch.save({"<loom-token>": v}, os.path.join(out, "ti_diffusers.bin"))
    made.append(("ti_diffusers.bin", "torch zip", [v], "diffusers textual_inversion save_progress",
                 1, 768, "sd1", "diffusers"))
    # kohya train_textual_inversion.py: {'emb_params': [n, width]} (§2.3.4), SD1 and SD2.
    for name, n, w, fam in (("ti_kohya_sd1.safetensors", 3, 768, "sd1"), ("ti_kohya_sd2.safetensors", 2, 1024, "sd2")):
        t = (torch.randn(n, w) * 0.01).half()
        save_file({"emb_params": t}, os.path.join(out, name))
        made.append((name, "safetensors", [t], "kohya save_weights layout", n, w, fam, "kohya"))
    # kohya sdxl_train_textual_inversion.py: clip_l + clip_g (§2.3.5).
    l, g = torch.randn(2, 768) * 0.01, torch.randn(2, 1280) * 0.01
    save_file({"clip_l": l, "clip_g": g}, os.path.join(out, "ti_sdxl.safetensors"))
    made.append(("ti_sdxl.safetensors", "safetensors", [l, g], "kohya SDXL layout", 2, 2048, "sdxl", "sdxl"))
    for name, fmt, tensors, tool, n, w, fam, layout in made:
        record(expected, name, fmt, tensors, tool=tool, kind="embedding", family=fam,
               embedding={"vectors": n, "width": w, "layout": layout})
    # Aesthetic embedding: torch.save of the mean image feature, the tensor itself at the root.
    a = torch.randn(1, 768)
    torch.save(a, os.path.join(out, "aesthetic.pt"))
    record(expected, "aesthetic.pt", "torch zip", [a], tool="torch.save of a [1, 768] CLIP-L image feature",
           kind="aesthetic_embedding", family="sd1")


def generate(out, expected, record):
    hypernetwork(out, expected, record)
    embeddings(out, expected, record)
